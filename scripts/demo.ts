// `npm start`: the demo on the emulated estate. Starts the emulator with the demo fleet and Azurite, scans in
// enforce mode, prints the summary, writes the reports, and says where the events and results are. The estate,
// queues and tables persist in .auditguard/demo, so a second run finds what the first fixed already compliant.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ManagedIdentityCredential } from "@azure/identity";
import { stringify } from "yaml";
import { startEmulator } from "../emulator/server.js";
import { emulatorBaseline, endpointsOf } from "../emulator/cli.js";
import { shippedFleet } from "../emulator/fleets/paths.js";
import type { EstateSnapshot } from "../emulator/estate/estate.js";
import type { CertificateAuthority } from "../emulator/tls/certificates.js";
import { startAzurite } from "../emulator/storage/azurite.js";
import { loadBaselineText } from "../src/core/policy/load.js";
import { createScanEnvironment } from "../src/scan/environment.js";
import { runScan } from "../src/scan/run-scan.js";
import { ResultsStore } from "../src/azure/results-store.js";
import { JsonQueue } from "../src/azure/queues.js";
import { summaryTable } from "../src/cli/commands/scan.js";
import { createProgressReporter } from "../src/cli/progress.js";
import { buildReport } from "../src/core/report/build.js";
import { renderReport } from "../src/core/report/render.js";
import type { TargetResult } from "../src/core/domain.js";
import { suspicionsOf } from "../src/core/activity/classify.js";

const stateDir = resolve(process.env.AUDITGUARD_DEMO_DIR ?? join(process.cwd(), ".auditguard", "demo"));
const EVENTS_QUEUE = "auditguard-events";
const TABLE_PREFIX = "AuditGuard";

async function main(): Promise<void> {
  mkdirSync(stateDir, { recursive: true });
  const snapshotFile = join(stateDir, "estate.json");
  const caFile = join(stateDir, "ca.json");
  const firstRun = !existsSync(snapshotFile);
  const ca = existsSync(caFile) ? (JSON.parse(readFileSync(caFile, "utf8")) as CertificateAuthority) : undefined;

  const azurite = await startAzurite({ location: join(stateDir, "azurite") });
  const emulator = await startEmulator({ fleetFile: shippedFleet("demo.yaml"), ...(ca ? { ca } : {}) });
  try {
    writeFileSync(caFile, JSON.stringify(emulator.ca), { mode: 0o600 });
    if (!firstRun) emulator.estate.restore(JSON.parse(readFileSync(snapshotFile, "utf8")) as EstateSnapshot);
    process.env.IDENTITY_ENDPOINT = emulator.identity.endpoint;
    process.env.IDENTITY_HEADER = emulator.identity.header;

    const generated = emulatorBaseline(emulator, endpointsOf(emulator));
    generated.mode = "enforce";
    const baselineFile = join(stateDir, "baseline.yaml");
    writeFileSync(baselineFile, `# The demo's baseline, pointing at the emulator (regenerated each run).\n${stringify(generated)}`);
    const baseline = loadBaselineText(readFileSync(baselineFile, "utf8"), baselineFile);

    console.log(`AuditGuard demo — ${firstRun ? "first run: a drifted estate" : "a later run: the estate as the last run left it"}`);
    console.log(`  emulated estate: ${emulator.armUrl} (ARM), ${emulator.logAnalyticsUrl} (Log Analytics)${emulator.tds ? `, ${emulator.tds.host}:${emulator.tds.port} (TDS)` : ""}`);
    const env = createScanEnvironment(baseline, { credential: new ManagedIdentityCredential(), caPem: emulator.caPem });
    const store = await ResultsStore.open({ connectionString: azurite.connectionString }, TABLE_PREFIX);
    const events = JsonQueue.connect({ connectionString: azurite.connectionString }, EVENTS_QUEUE);
    const progress = createProgressReporter(process.stderr);
    const summary = await runScan(env, {
      trigger: "cli",
      store,
      events,
      eventSource: "urn:auditguard:demo",
      onStart: (targets) => progress.start(targets.length),
      onResult: (r) => progress.tick(r.target.name, r.status),
    });
    progress.finish();
    console.log(`\n${summaryTable(summary)}`);
    // What the audit recorded: who did what, when, from where. The same records are on the events queue.
    const suspicious = summary.results.flatMap((r) => (r.activity ?? []).map((e) => ({ target: r.target.name, e, kinds: suspicionsOf(e, baseline.activity) })));
    if (suspicious.length) {
      console.log("Suspicious activity in the audit (from Log Analytics):");
      for (const { target, e, kinds } of suspicious.sort((a, b) => a.e.time.localeCompare(b.e.time))) {
        console.log(`  ${e.time}  ${target}  ${kinds.join(", ")}: ${e.serverPrincipalName}${e.clientIp ? ` from ${e.clientIp}` : ""}${e.applicationName ? ` (${e.applicationName})` : ""}${e.databaseName ? ` on ${e.databaseName}` : ""}: ${e.statement}`);
      }
      console.log("");
    }

    const latest = await store.listLatest();
    const runs = await store.listRuns();
    const report = buildReport({
      results: latest.map((r) => r.detail as TargetResult),
      runs: runs.map((r) => ({ scanId: r.scanId, ...(r.finishedAt ? { finishedAt: r.finishedAt } : {}), counts: r.counts })),
      now: new Date(),
    });
    const jsonReport = join(stateDir, "report.json");
    const htmlReport = join(stateDir, "report.html");
    writeFileSync(jsonReport, renderReport(report, "json").body);
    writeFileSync(htmlReport, renderReport(report, "html").body);
    writeFileSync(snapshotFile, JSON.stringify(emulator.estate.snapshot()));

    console.log("Where things are:");
    console.log(`  report (HTML):  ${htmlReport}`);
    console.log(`  report (JSON):  ${jsonReport}`);
    console.log(`  baseline:       ${baselineFile}`);
    console.log(`  events:         Azure Storage queue '${EVENTS_QUEUE}' in Azurite (${join(stateDir, "azurite")})`);
    console.log(`  results:        Azure Tables ${TABLE_PREFIX}Latest, ${TABLE_PREFIX}Results, ${TABLE_PREFIX}Runs, ${TABLE_PREFIX}Leases in the same Azurite`);
    console.log(`  estate state:   ${snapshotFile} (delete ${stateDir} to start over)`);
    if (summary.deliveryErrors.length) console.log(`  warnings:       ${summary.deliveryErrors.join("; ")}`);
  } finally {
    await emulator.stop();
    await azurite.stop();
  }
}

main().catch((error: unknown) => {
  console.error(`demo failed: ${(error as Error).stack ?? String(error)}`);
  process.exitCode = 1;
});
