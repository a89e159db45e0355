#!/usr/bin/env node
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Command, CommanderError } from "commander";
import type { CommandResult } from "./result.js";
import { EXIT } from "./result.js";
import { rulesCommand } from "./commands/rules.js";
import { validateCommand } from "./commands/validate.js";
import { planCommand } from "./commands/plan.js";
import { scanCommand } from "./commands/scan.js";
import { TOOL_VERSION } from "../core/version.js";

/**
 * The auditguard command. Each subcommand is a function returning its output and exit code; this file only
 * wires them to commander and the process.
 */
function emit(result: CommandResult): void {
  if (result.stdout) process.stdout.write(result.stdout);
  if (result.stderr) process.stderr.write(result.stderr);
  process.exitCode = result.exitCode;
}

export function buildProgram(): Command {
  const program = new Command("auditguard")
    .description("Keeps SQL auditing on across an Azure estate: Managed Instances, SQL servers, Synapse workspaces.")
    .version(TOOL_VERSION, "-V, --version", "print the version")
    .exitOverride()
    .showHelpAfterError();
  program
    .command("rules")
    .description("list the rule catalog")
    .option("--format <format>", "table or json", "table")
    .action((opts: { format: string }) => emit(rulesCommand(opts)));
  program
    .command("validate")
    .description("check a baseline file; prints every problem with its line")
    .argument("<config>", "baseline file (YAML or JSON)")
    .action((config: string) => emit(validateCommand(config)));
  program
    .command("plan")
    .description("print the exact T-SQL and ARM changes for a saved observation")
    .requiredOption("--config <file>", "baseline file")
    .requiredOption("--observation <file>", "observation JSON")
    .option("--format <format>", "text, json or sql (a sqlcmd script, with the ARM changes as az rest commands)", "text")
    .action((opts: { config: string; observation: string; format: string }) => emit(planCommand(opts)));
  program
    .command("scan")
    .description("scan the estate the baseline scopes; remediate in enforce mode")
    .requiredOption("--config <file>", "baseline file")
    .option("--mode <mode>", "override the baseline's mode: off, plan or enforce")
    .option("--concurrency <n>", "targets scanned at once")
    .option("--format <format>", "table, json, html, csv, sarif, markdown or sql (default: from --output's extension, else table)")
    .option("--output <file>", "write the report to a file (checked before the scan)")
    .action(async (opts: { config: string; mode?: string; concurrency?: string; format?: string; output?: string }) => {
      const controller = new AbortController();
      process.once("SIGINT", () => controller.abort());
      emit(await scanCommand({ ...opts, progress: process.stderr, signal: controller.signal, ...(process.stdout.isTTY && process.stdout.columns ? { columns: process.stdout.columns } : {}) }));
    });
  program
    .command("emulator")
    .description("start the local Azure estate (development and demos)")
    .requiredOption("--fleet <file>", "fleet file")
    .option("--write-endpoints <file>", "write the endpoints as JSON")
    .option("--baseline-out <file>", "write a baseline pointing at the emulator")
    .action(async (opts: { fleet: string; writeEndpoints?: string; baselineOut?: string }) => {
      // Loaded on demand: the emulator is a development tool, not part of the deployed app.
      const { emulatorCommand } = await import("./commands/emulator.js");
      await emulatorCommand(opts);
    });
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are successes; everything else commander refuses is a usage error.
      process.exitCode = error.code === "commander.helpDisplayed" || error.code === "commander.version" || error.code === "commander.help" ? EXIT.ok : EXIT.usage;
      return;
    }
    process.stderr.write(`auditguard: ${(error as Error).message}\n`);
    process.exitCode = EXIT.usage;
  }
}

// Run when executed (directly or through the npm bin link), not when imported by tests.
const invokedDirectly = process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) await main(process.argv);
