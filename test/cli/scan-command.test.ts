import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { ManagedIdentityCredential } from "@azure/identity";
import { startEmulator } from "../../emulator/server.js";
import type { RunningEmulator } from "../../emulator/server.js";
import { emulatorBaseline, endpointsOf } from "../../emulator/cli.js";
import { shippedFleet } from "../../emulator/fleets/paths.js";
import { scanCommand } from "../../src/cli/commands/scan.js";

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
