import type { ComplianceReport } from "../model.js";

/**
 * SARIF 2.1.0 (OASIS): one run, the rule catalog as the driver's rules, one result per open finding with the
 * resource as a logical location and the exact change as a fix description, so code-scanning tools show it.
 */
const LEVEL = { critical: "error", high: "error", medium: "warning", low: "note", info: "note" } as const;
const SECURITY_SEVERITY = { critical: "9.5", high: "8.0", medium: "5.5", low: "3.0", info: "0.0" } as const;

export function renderSarif(report: ComplianceReport): string {
  const ruleIndex = new Map(report.rules.map((r, i) => [r.id, i]));
  const results = report.targets.flatMap((t) =>
    t.findings.map((f) => {
      const fixes = t.changes.filter((c) => !c.applied && c.ruleIds.includes(f.ruleId));
      return {
        ruleId: f.ruleId,
        ...(ruleIndex.has(f.ruleId) ? { ruleIndex: ruleIndex.get(f.ruleId)! } : {}),
        level: f.status === "error" ? "warning" : LEVEL[f.severity],
        kind: "fail",
        message: { text: `${t.name}: ${f.message}` },
        locations: [{ logicalLocations: [{ name: t.name, fullyQualifiedName: t.id, kind: "resource" }] }],
        ...(fixes.length ? { fixes: fixes.map((c) => ({ description: { text: `${c.description}\n${c.change}` } })) } : {}),
        properties: { targetKind: t.kind, targetStatus: t.status, findingStatus: f.status, observedAt: f.observedAt, subscriptionId: t.subscriptionId, resourceGroup: t.resourceGroup },
      };
    }),
  );
  const sarif = {
    $schema: "https://json.schemastore.org/sarif-2.1.0.json",
    version: "2.1.0",
    runs: [
      {
        tool: {
          driver: {
            name: "AuditGuard",
            version: report.tool.version,
            rules: report.rules.map((r) => ({
              id: r.id,
              name: r.id.replace(/[.-](\w)/g, (_m, c: string) => c.toUpperCase()).replace(/^\w/, (c) => c.toUpperCase()),
              shortDescription: { text: r.title },
              fullDescription: { text: r.rationale },
              help: { text: r.remedy },
              defaultConfiguration: { level: LEVEL[r.severity] },
              properties: { "security-severity": SECURITY_SEVERITY[r.severity], appliesTo: r.kind, tags: ["security", "audit"] },
            })),
          },
        },
        invocations: [{ executionSuccessful: true, endTimeUtc: report.generatedAt }],
        results,
        // Targets without findings produce no result; the property bag keeps the report's full target list.
        properties: { summary: report.summary, targets: report.targets.map((t) => ({ id: t.id, kind: t.kind, status: t.status, scannedAt: t.scannedAt })) },
      },
    ],
  };
  return `${JSON.stringify(sarif, null, 2)}\n`;
}
