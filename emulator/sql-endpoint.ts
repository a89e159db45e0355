import { ManagedInstanceEngine } from "./mi/engine.js";
import type { MiStateInput } from "./mi/state-schema.js";
import { startTdsServer } from "./tds-server/server.js";
import { issueServerCertificate } from "./tls/certificates.js";
import type { RunningTdsServer, ServiceContext, TdsServerFactory } from "./server.js";

/**
 * Gives every Managed Instance of the estate its T-SQL engine and serves them all on one TDS port, routed by TLS
 * SNI. Audit records an engine writes go to the estate, which delivers them where the instance's diagnostic
 * settings send SQLSecurityAuditEvents. Engine state is kept with the estate's snapshot so a demo resumes.
 */
const EXTENSION = "managedInstanceSql";
/** ARM states of a Managed Instance in which it serves no connections ("Stop and start an instance"). */
const NOT_RUNNING = new Set(["Stopped", "Stopping", "Starting", "Creating", "Deleting"]);

export function exportEngineState(engine: ManagedInstanceEngine): MiStateInput {
  const audits = [...engine.audits.values()];
  return {
    ...engine.state,
    logins: engine.exportLogins(),
    audits: audits.map((a) => ({
      name: a.name,
      guid: a.guid,
      target: a.target.type === "EXTERNAL_MONITOR" ? "EXTERNAL_MONITOR" : { type: "URL", path: a.target.path, retentionDays: a.target.retentionDays },
      enabled: a.enabled,
      queueDelay: a.queueDelay,
      onFailure: a.onFailure,
      operatorAudit: a.operatorAudit,
      ...(a.predicate !== undefined ? { predicate: a.predicate } : {}),
      ...(a.statusOverride !== undefined ? { status: a.statusOverride } : {}),
      createDate: a.createDate.toISOString(),
      modifyDate: a.modifyDate.toISOString(),
    })),
    serverAuditSpecifications: [...engine.specs.values()].map((s) => ({
      name: s.name,
      audit: audits.find((a) => a.guid === s.auditGuid)?.name ?? "",
      enabled: s.enabled,
      actionGroups: [...s.groups],
      createDate: s.createDate.toISOString(),
      modifyDate: s.modifyDate.toISOString(),
    })).filter((s) => s.audit !== ""),
  };
}

export const managedInstanceSqlEndpoint: TdsServerFactory = async (context: ServiceContext): Promise<RunningTdsServer> => {
  const { estate } = context;
  const engines = new Map<string, ManagedInstanceEngine>();
  const zones = new Set<string>();
  // The tenant's Entra ID as far as the fleet knows it: the managed identities it can issue tokens for.
  const directory = [estate.fleet.scanner, ...estate.fleet.otherIdentities].map((i) => ({ displayName: i.displayName, objectId: i.principalId, appId: i.clientId }));
  const fqdnOf = (mi: { properties: Record<string, unknown> }) => String(mi.properties.fullyQualifiedDomainName).toLowerCase();
  const build = (saved: Record<string, MiStateInput>) => {
    for (const mi of estate.managedInstances()) {
      const fqdn = fqdnOf(mi);
      zones.add(fqdn.split(".").slice(1).join("."));
      engines.set(
        fqdn,
        new ManagedInstanceEngine({
          serverName: fqdn,
          state: (saved[mi.id.toLowerCase()] ?? mi.sql ?? {}),
          now: () => estate.now(),
          onAuditRecord: (record) => void estate.appendAuditRecord(mi.id, record),
          directory,
        }),
      );
    }
  };
  build((estate.extensions[EXTENSION] ?? {}) as Record<string, MiStateInput>);
  // The snapshot hook: saving the estate reads the engines' state; restoring it rebuilds the engines.
  Object.defineProperty(estate.extensions, EXTENSION, {
    enumerable: true,
    configurable: true,
    get: () => Object.fromEntries([...estate.managedInstances()].map((mi) => [mi.id.toLowerCase(), exportEngineState(engines.get(fqdnOf(mi))!)])),
    set: (saved: Record<string, MiStateInput>) => build(saved ?? {}),
  });
  // Like Azure's: each DNS zone's wildcard, issued by the emulator's CA, so clients verify the instance's name.
  const certificate = issueServerCertificate(context.ca, { commonName: "*.database.windows.net", dnsNames: ["*.database.windows.net", ...[...zones].map((z) => `*.${z}`)] });
  const tds = await startTdsServer({
    host: context.host,
    resolveEngine: (name) => engines.get(name.toLowerCase()),
    // Only a running instance serves T-SQL; read live, so an ARM stop takes effect on the next login or request.
    isAvailable: (name) => !NOT_RUNNING.has(String(estate.managedInstanceByServerName(name)?.properties.state ?? "Ready")),
    tls: { keyPem: certificate.keyPem, certPem: certificate.certPem },
    tokenAuthority: context.authority,
    faults: {
      dropConnection: (name) => context.faults.forTds(name).dropConnection(),
      hang: (name) => context.faults.forTds(name).hang(),
      stallAfterLogin: (name) => context.faults.forTds(name).stallAfterLogin(),
      refuseLogin: (name) => context.faults.forTds(name).refuseLogin() || context.faults.forTds(name).unreachable(),
      // Only a fleet with a TDS latency puts a latency on the link (every round trip pays it, handshakes included).
      ...(context.faults.config.latency.tds ? { latencyMs: (name: string) => context.faults.forTds(name).latencyMs() } : {}),
    },
    now: () => estate.now().getTime(),
  });
  return { host: tds.host, port: tds.port, counts: () => tds.counts(), stop: () => tds.close() };
};
