import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { ManagedIdentityCredential } from "@azure/identity";
import { startEmulator } from "../../emulator/server.js";
import type { RunningEmulator } from "../../emulator/server.js";
import { emulatorBaseline, endpointsOf } from "../../emulator/cli.js";
import { shippedFleet } from "../../emulator/fleets/paths.js";
import { scanCommand, scanExitCode, summaryTable } from "../../src/cli/commands/scan.js";

// `auditguard scan` against the emulator: plain progress lines, the summary table, report files, exit codes.
let emu: RunningEmulator;
const dir = mkdtempSync(join(tmpdir(), "auditguard-scan-cli-"));
let config: string;

before(async () => {
  emu = await startEmulator({ fleetFile: shippedFleet("test-small.yaml") });
  process.env.IDENTITY_ENDPOINT = emu.identity.endpoint;
  process.env.IDENTITY_HEADER = emu.identity.header;
  const baseline = emulatorBaseline(emu, endpointsOf(emu)) as Record<string, unknown> & { scope: Record<string, unknown> };
  baseline.scope.kinds = ["sql-server", "synapse-workspace"];
  config = join(dir, "baseline.yaml");
  writeFileSync(config, stringify(baseline));
});
after(() => emu?.stop());

it("plan mode: progress lines, a summary, exit 1 while drift remains", async () => {
  const lines: string[] = [];
  const result = await scanCommand({ config, mode: "plan", credential: new ManagedIdentityCredential(), progress: { isTTY: false, write: (c) => (lines.push(c), true) } });
  assert.equal(result.exitCode, 1);
  assert.match(lines.join(""), /^scanning 4 targets\n/);
  assert.match(result.stdout, /sql-async\s+noncompliant/);
  assert.match(result.stdout, /4 targets: 1 compliant, 0 remediated, 3 noncompliant/);
});

it("writes the report in the asked format to a file", async () => {
  const output = join(dir, "report.sarif");
  const result = await scanCommand({ config, mode: "plan", format: "sarif", output, credential: new ManagedIdentityCredential() });
  assert.equal(result.exitCode, 1);
  const sarif = JSON.parse(readFileSync(output, "utf8")) as { version: string; runs: Array<{ results: unknown[] }> };
  assert.equal(sarif.version, "2.1.0");
  assert.ok(sarif.runs[0]!.results.length > 0);
  assert.match(result.stderr, /wrote .*report\.sarif/);
});

it("usage and configuration errors exit 2 and scan nothing", async () => {
  const before = emu.requestCounts().arm;
  assert.equal((await scanCommand({ config, format: "pdf" })).exitCode, 2);
  assert.equal((await scanCommand({ config, mode: "destroy" })).exitCode, 2);
  assert.equal((await scanCommand({ config, concurrency: "0" })).exitCode, 2);
  const bad = join(dir, "bad.yaml");
  writeFileSync(bad, "version: 2\n");
  const result = await scanCommand({ config: bad });
  assert.equal(result.exitCode, 2);
  assert.match(result.stderr, /bad\.yaml:1:\d+: version/);
  assert.equal(emu.requestCounts().arm, before, "nothing was scanned");
});

it("a bad --output is a usage error found before the scan: enforce mode changes nothing", async () => {
  const before = emu.requestCounts().arm;
  const missing = await scanCommand({ config, mode: "enforce", output: "/missing/dir/r.html", credential: new ManagedIdentityCredential() });
  assert.equal(missing.exitCode, 2);
  assert.match(missing.stderr, /the directory \/missing\/dir does not exist; nothing was run/);
  const directory = await scanCommand({ config, mode: "enforce", output: dir, credential: new ManagedIdentityCredential() });
  assert.equal(directory.exitCode, 2);
  assert.match(directory.stderr, /is a directory/);
  assert.equal(emu.requestCounts().arm, before, "nothing was scanned, nothing was changed");
});

it("takes the format from --output's extension", async () => {
  const output = join(dir, "report.html");
  const result = await scanCommand({ config, mode: "plan", output, credential: new ManagedIdentityCredential() });
  assert.equal(result.exitCode, 1);
  assert.match(readFileSync(output, "utf8"), /^<!doctype html>/);
  assert.match(result.stdout, /4 targets: 1 compliant/, "the summary is printed too");
});

it("a report that cannot be written after the scan is kept elsewhere, with the summary printed and exit 2", async () => {
  const output = join(dir, "blocked.json");
  // The report goes to a temporary file beside the output first; a directory in its place makes the write fail.
  mkdirSync(join(dir, `.blocked.json.${process.pid}.partial`));
  const result = await scanCommand({ config, mode: "plan", output, credential: new ManagedIdentityCredential() });
  assert.equal(result.exitCode, 2);
  assert.match(result.stdout, /4 targets: 1 compliant, 0 remediated, 3 noncompliant/);
  const kept = /the report is in (\S+)\n/.exec(result.stderr)?.[1];
  assert.ok(kept, result.stderr);
  assert.equal((JSON.parse(readFileSync(kept, "utf8")) as { summary: { targets: number } }).summary.targets, 4);
  assert.ok(!existsSync(output));
});

it("exits 3 when it cannot sign in, with the reason", async () => {
  class CredentialUnavailableError extends Error {
    override name = "CredentialUnavailableError";
  }
  const credential = { getToken: async () => Promise.reject(new CredentialUnavailableError("no managed identity endpoint")) };
  const result = await scanCommand({ config, mode: "plan", credential });
  assert.equal(result.exitCode, 3, result.stderr + result.stdout);
  assert.match(result.stderr + result.stdout, /no managed identity endpoint/);
});

it("wraps a long reason at spaces instead of cutting it", () => {
  const reason = `could not read the auditing policy: AuthorizationFailed: The client 'auditguard' with object id '0a1b2c3d' does not have authorization to perform action 'Microsoft.Sql/servers/auditingSettings/read' over scope '/subscriptions/11111111-1111-4111-8111-111111111111/resourceGroups/rg-data/providers/Microsoft.Sql/servers/sql-one' or the scope is invalid.`;
  const summary = {
    scanId: "s",
    mode: "plan",
    startedAt: "2026-11-24T10:00:00.000Z",
    finishedAt: "2026-11-24T10:00:01.000Z",
    complete: true,
    inventory: { source: "resource-graph", unreadable: [], discovered: 1, inScope: 1 },
    results: [{ target: { kind: "sql-server", name: "sql-one" }, status: "error", applied: [], reason }],
    notScanned: [],
    counts: { compliant: 0, remediated: 0, noncompliant: 0, exempt: 0, error: 1 },
    deliveryErrors: [],
  } as unknown as Parameters<typeof summaryTable>[0];
  const lines = summaryTable(summary, 100).split("\n\n")[0]!.split("\n");
  const column = lines[0]!.indexOf("REASON");
  for (const l of lines) assert.ok(l.length <= 100 || !l.slice(column).includes(" "), `past the width only for a single long word: ${l}`);
  const words = lines.slice(2).map((l) => l.slice(column)).join(" ").split(/\s+/);
  for (const word of reason.split(" ")) assert.ok(words.includes(word), `${word} is whole`);
  assert.equal(scanExitCode(summary), 3, "a target in error: could not scan");
});
