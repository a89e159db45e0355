import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import sql from "mssql";
import { ManagedIdentityCredential } from "@azure/identity";
import { startEmulator } from "../../emulator/server.js";
import type { RunningEmulator } from "../../emulator/server.js";
import { emulatorBaseline, endpointsOf } from "../../emulator/cli.js";
import { loadBaselineText } from "../../src/core/policy/load.js";
import { createScanEnvironment } from "../../src/scan/environment.js";
import type { ScanEnvironment } from "../../src/scan/environment.js";
import { scanTarget } from "../../src/scan/scan-target.js";
import { toTarget } from "../../src/scan/run-scan.js";
import type { Target, TargetResult } from "../../src/core/domain.js";
import { miFleet } from "../support/mi-fleet.js";
import { mulberry32, pick } from "../support/prng.js";

// Random Managed Instance states (audits of every target type, filters, options and states; specifications bound
// to any audit with any groups and state) and random failures of the statements a fix runs, enforced on the
// emulator's engine. After every run, read back by a sysadmin with a client of its own (mssql), never through the
// scanner: the run ends compliant or with a definite reason; no audit or specification that was on is off; one run
// without failures converges; and a run after convergence changes nothing.
const SEED = Number(process.env.PROPERTY_SEED ?? 13);
const INSTANCES = 16;
const URL_PATH = "https://corpaudit.blob.core.windows.net/sqlaudit";
const SUB = "11111111-1111-4111-8111-111111111111";

const scannerLogin = { kind: "entra", name: "auditguard-scanner", objectId: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", appId: "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e", permissions: ["ALTER ANY SERVER AUDIT", "VIEW ANY DEFINITION", "VIEW SERVER STATE"] };
const dba = { name: "dba", password: "test-only-Pa55", permissions: ["sysadmin"] };

interface Drawn {
  name: string;
  urlBaseline: boolean;
  faulted: boolean;
  sql: Record<string, unknown>;
}

function draw(random: () => number, i: number): Drawn {
  const urlBaseline = random() < 0.4;
  const target = () => (random() < 0.5 ? "EXTERNAL_MONITOR" : { type: "URL", path: pick(random, [URL_PATH, "https://elsewhere.blob.core.windows.net/audit"]), retentionDays: pick(random, [0, 30, 90]) });
  const audit = (name: string) => ({
    name,
    target: target(),
    enabled: random() < 0.6,
    queueDelay: pick(random, [1000, 1000, 5000]),
    onFailure: pick(random, ["CONTINUE", "CONTINUE", "FAIL_OPERATION"]),
    ...(random() < 0.3 ? { predicate: pick(random, ["server_principal_name <> 'mallory'", "database_name = 'sales'"]) } : {}),
  });
  const audits = [...(random() < 0.8 ? [audit("auditguard")] : []), ...(random() < 0.5 ? [audit("legacy")] : [])];
  const groups = () => ["BACKUP_RESTORE_GROUP", "AUDIT_CHANGE_GROUP", "FAILED_LOGIN_GROUP"].filter(() => random() < 0.6);
  const specs: Array<Record<string, unknown>> = [];
  const used = new Set<string>();
  for (const a of audits) {
    if (random() < 0.7) {
      // The baseline's specification name, or another's: sometimes bound to the other audit (a name conflict).
      const name = random() < 0.7 && !used.has("auditguard-spec") ? "auditguard-spec" : `${a.name}-spec`;
      used.add(name);
      const g = groups();
      specs.push({ name, audit: a.name, enabled: random() < 0.6, actionGroups: g.length ? g : ["AUDIT_CHANGE_GROUP"] });
    }
  }
  const faulted = random() < 0.4;
  const faults = faulted
    ? [{ statement: pick(random, ["^ALTER SERVER AUDIT \\[auditguard\\] (TO|WHERE|REMOVE|WITH \\(QUEUE)", "^ALTER SERVER AUDIT SPECIFICATION", "^CREATE SERVER AUDIT", "STATE = ON"]), error: pick(random, [33227, "drop-connection", "no-reply"]), times: 1 }]
    : [];
  return { name: `mi-prop-${String(i).padStart(2, "0")}`, urlBaseline, faulted, sql: { logins: [scannerLogin, dba], audits, serverAuditSpecifications: specs, ...(faults.length ? { faults } : {}) } };
}

interface EngineState {
  audits: Array<{ name: string; enabled: boolean; started: boolean; predicate: string | null; typeDesc: string; path: string | null }>;
  specs: Array<{ name: string; audit: string | null; enabled: boolean; groups: string[] }>;
}

let emu: RunningEmulator;
let drawn: Drawn[];
const envs: Record<"monitor" | "url", ScanEnvironment> = {} as never;
let targets: Map<string, Target>;

before(async () => {
  const random = mulberry32(SEED);
  drawn = Array.from({ length: INSTANCES }, (_, i) => draw(random, i));
  const diag = [{ name: "audit-to-law", workspace: "law-sec", logs: [{ category: "SQLSecurityAuditEvents" }] }];
  const fleet = miFleet(drawn.map((d) => ({ name: d.name, dnsZone: "0a1b2c3d4e5f", diagnosticSettings: diag, sql: d.sql }) as never));
  fleet.scanner.roleAssignments = [{ scope: `/subscriptions/${SUB}`, role: "Contributor" }];
  fleet.subscriptions[0]!.resourceGroups!.push({ name: "rg-logs", logAnalyticsWorkspaces: [{ name: "law-sec", customerId: "4e5f6a7b-8c9d-4e0f-9a1b-3c4d5e6f7a8b" }] });
  emu = await startEmulator({ fleet });
  process.env.IDENTITY_ENDPOINT = emu.identity.endpoint;
  process.env.IDENTITY_HEADER = emu.identity.header;
  const credential = new ManagedIdentityCredential();
  for (const kind of ["monitor", "url"] as const) {
    const generated = emulatorBaseline(emu, endpointsOf(emu)) as Record<string, unknown> & { managedInstance: Record<string, Record<string, unknown>> };
    generated.mode = "enforce";
    if (kind === "url") generated.managedInstance.audit = { ...generated.managedInstance.audit, target: { url: { path: URL_PATH, retentionDays: 30 } } };
    envs[kind] = createScanEnvironment(loadBaselineText(JSON.stringify(generated), "b.json"), { credential });
  }
  targets = new Map(emu.estate.managedInstances().map((r) => [r.name, toTarget({ id: r.id, kind: "sql-managed-instance", name: r.name, subscriptionId: SUB, resourceGroup: "rg", location: "westeurope", tags: {}, properties: r.properties })]));
});
after(() => emu?.stop());

/** The instance's audit objects as a sysadmin sees them, through mssql (not the scanner's adapter). */
async function engineState(name: string): Promise<EngineState> {
  const pool = new sql.ConnectionPool({ server: emu.tds!.host, port: emu.tds!.port, user: dba.name, password: dba.password, options: { encrypt: true, serverName: targets.get(name)!.fullyQualifiedDomainName!, cryptoCredentialsDetails: { ca: [emu.caPem] } } });
  await pool.connect();
  try {
    const r = await pool.request().query(`SELECT a.name, a.is_state_enabled, a.predicate, a.type_desc, s.status_desc, f.log_file_path FROM sys.server_audits a LEFT JOIN sys.dm_server_audit_status s ON s.audit_id = a.audit_id LEFT JOIN sys.server_file_audits f ON f.audit_id = a.audit_id;
SELECT sp.name, a.name AS audit_name, sp.is_state_enabled, sp.server_specification_id FROM sys.server_audit_specifications sp LEFT JOIN sys.server_audits a ON a.audit_guid = sp.audit_guid;
SELECT server_specification_id, audit_action_name FROM sys.server_audit_specification_details;`);
    const [audits, specs, details] = r.recordsets as unknown as Array<Array<Record<string, unknown>>>;
    return {
      audits: audits!.map((a) => ({ name: String(a.name), enabled: Number(a.is_state_enabled) === 1, started: a.status_desc === "STARTED", predicate: (a.predicate as string | null) ?? null, typeDesc: String(a.type_desc), path: (a.log_file_path as string | null) ?? null })),
      specs: specs!.map((s) => ({
        name: String(s.name),
        audit: (s.audit_name as string | null) ?? null,
        enabled: Number(s.is_state_enabled) === 1,
        groups: details!.filter((d) => d.server_specification_id === s.server_specification_id).map((d) => String(d.audit_action_name)),
      })),
    };
  } finally {
    await pool.close();
  }
}

/** What the baseline asks, checked on the engine's own answer. */
function meetsBaseline(state: EngineState, url: boolean): string[] {
  const problems: string[] = [];
  const audit = state.audits.find((a) => a.name === "auditguard");
  if (!audit) return ["no audit auditguard"];
  if (!audit.enabled || !audit.started) problems.push("audit not on and started");
  if (audit.predicate) problems.push(`audit filtered: ${audit.predicate}`);
  if (url ? !(audit.typeDesc === "URL" && audit.path?.replace(/\/$/, "") === URL_PATH) : audit.typeDesc !== "EXTERNAL_MONITOR") problems.push(`target ${audit.typeDesc} ${audit.path ?? ""}`);
  const spec = state.specs.find((s) => s.audit === "auditguard");
  if (!spec) problems.push("no specification bound");
  else {
    if (!spec.enabled) problems.push("specification off");
    for (const g of ["BACKUP_RESTORE_GROUP", "AUDIT_CHANGE_GROUP"]) if (!spec.groups.includes(g)) problems.push(`missing ${g}`);
  }
  return problems;
}

const definite = (r: TargetResult) => ["compliant", "remediated"].includes(r.status) || Boolean(r.reason && r.reason.length > 10);
const miFailing = (r: TargetResult) => (r.findingsAfter ?? r.findings).filter((f) => f.ruleId.startsWith("mi.") && f.ruleId !== "mi.diagnostic-setting" && f.status === "fail").map((f) => f.ruleId);

it(`enforce on random Managed Instance states and failures: definite, never worse, converging, then still (seed ${SEED})`, { timeout: 300_000 }, async () => {
  const report: string[] = [];
  for (const d of drawn) {
    const target = targets.get(d.name)!;
    const env = d.urlBaseline ? envs.url : envs.monitor;
    const before = await engineState(d.name);
    const runs: TargetResult[] = [];
    for (let run = 0; run < 3; run++) {
      const previous = await engineState(d.name);
      const result = await scanTarget(env, target, { scanId: `prop-${d.name}-${run}` });
      runs.push(result);
      const now = await engineState(d.name);
      const where = `${d.name} run ${run + 1} (${JSON.stringify(d.sql)}): ${result.status}: ${result.reason ?? ""}`;
      assert.ok(definite(result), `a definite status or reason: ${where}`);
      // Never worse: whatever was on before this run is on after it (audits by name, specifications by name).
      for (const a of previous.audits.filter((x) => x.enabled)) assert.ok(now.audits.find((x) => x.name === a.name)?.enabled, `audit ${a.name} was on and is not: ${where}`);
      for (const s of previous.specs.filter((x) => x.enabled)) assert.ok(now.specs.find((x) => x.name === s.name)?.enabled, `specification ${s.name} was on and is not: ${where}`);
      // Nothing the baseline does not own is dropped: every other audit is still there.
      for (const a of previous.audits.filter((x) => x.name !== "auditguard")) assert.ok(now.audits.some((x) => x.name === a.name), `audit ${a.name} was dropped: ${where}`);
    }
    const conflicted = runs.some((r) => (r.blocked ?? []).length > 0);
    const final = await engineState(d.name);
    const problems = meetsBaseline(final, d.urlBaseline);
    if (!conflicted) {
      // One run converges (two where the first met an injected failure, which happens once).
      const settledBy = d.faulted ? runs[1]! : runs[0]!;
      assert.deepEqual(miFailing(settledBy), [], `${d.name} converges: ${settledBy.status}: ${settledBy.reason ?? ""}`);
      assert.deepEqual(problems, [], `${d.name} meets the baseline on the engine's own answer; before: ${JSON.stringify(before)}`);
    } else {
      assert.ok(runs.every((r) => r.status !== "compliant"), `${d.name}: a conflict is never reported compliant`);
    }
    assert.deepEqual(runs[2]!.applied, [], `${d.name}: a run after convergence changes nothing: ${runs[2]!.reason ?? ""}`);
    report.push(`${d.name}: ${runs.map((r) => r.status).join(" → ")}${conflicted ? " (conflict)" : ""}${d.faulted ? " (fault)" : ""}`);
  }
  assert.equal(report.length, INSTANCES);
});
