import { createHash } from "node:crypto";
import type { ReportHeader, ReportRule, ReportTarget } from "../model.js";
import type { ReportWriter } from "../writer.js";
import { JsonArrayWriter, jsonFrame, STREAMED } from "./json-stream.js";
import { KIND_LABEL, eventsOf, pendingFor } from "./shared.js";

/**
 * SARIF 2.1.0 (OASIS; schema/vendor/sarif-schema-2.1.0.json) shaped for GitHub code scanning ("SARIF support for
 * code scanning", docs.github.com): the rule catalog as the driver's rules with text and Markdown help, one result
 * per open finding with a physical location, stable partialFingerprints, and the exact change in its properties.
 */
const LEVEL = { critical: "error", high: "error", medium: "warning", low: "note", info: "note" } as const;
// GitHub reads security-severity as a CVSS-like score: over 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low.
const SECURITY_SEVERITY = { critical: "9.5", high: "8.0", medium: "5.5", low: "3.0", info: "0.0" } as const;

/**
 * A resource has no file, but code scanning shows a result only with `physicalLocation.artifactLocation.uri`
 * (GitHub's GH1001 ingestion rule) and rejects absolute URIs whose scheme differs from the checkout's. So, as
 * scanners of container images and cloud accounts do with the image or account name, the URI is a relative path
 * derived from the resource: its ARM id without the leading slash, lower-cased (ARM ids are case-insensitive and
 * the SDKs do not agree on their casing, and the path must not change between scans) and percent-encoded per segment.
 */
export function resourceArtifactUri(resourceId: string): string {
  return resourceId
    .replace(/^\/+/, "")
    .toLowerCase()
    .split("/")
    .map((segment) => encodeURIComponent(segment))
    .join("/");
}

/**
 * The same finding (rule) on the same resource gets the same fingerprint in every scan, whatever its message says
 * this time (counts, times). Code scanning uses only primaryLocationLineHash ("<hash>:<occurrence>").
 */
export function findingFingerprints(ruleId: string, resourceId: string): Record<string, string> {
  const hash = createHash("sha256").update(`${ruleId}\u0000${resourceId.toLowerCase()}`).digest("hex");
  return { primaryLocationLineHash: `${hash.slice(0, 16)}:1`, "auditguardFinding/v1": hash };
}

const pascal = (id: string) => id.replace(/[.-](\w)/g, (_m, c: string) => c.toUpperCase()).replace(/^\w/, (c) => c.toUpperCase());

function rule(r: ReportRule) {
  const fixedBy = r.remediable ? "AuditGuard fixes it in enforce mode and shows the exact change in plan mode." : "AuditGuard reports it; it does not change anything for it.";
  const depends = r.dependsOn?.length ? `\n\nWhen ${r.dependsOn.map((d) => `\`${d}\``).join(" or ")} fails too, this result is a consequence of that one.` : "";
  return {
    id: r.id,
    name: pascal(r.id),
    shortDescription: { text: r.title },
    fullDescription: { text: r.rationale },
    help: {
      text: `${r.remedy}\n\nWhy: ${r.rationale}\n\n${fixedBy}`,
      markdown: `**Remedy:** ${r.remedy}\n\n**Why it matters:** ${r.rationale}\n\n**Applies to:** ${KIND_LABEL[r.kind] ?? r.kind}. ${fixedBy}${depends}`,
    },
    defaultConfiguration: { level: LEVEL[r.severity] },
    properties: {
      "security-severity": SECURITY_SEVERITY[r.severity],
      // Configuration rules read the setting itself; activity rules read audit records that KQL matched.
      precision: r.kind === "activity" ? "high" : "very-high",
      tags: ["security", "audit", r.kind],
      appliesTo: r.kind,
      remediable: r.remediable,
      ...(r.dependsOn?.length ? { dependsOn: r.dependsOn } : {}),
    },
  };
}

export function sarifWriter(header: ReportHeader): ReportWriter {
  const ruleIndex = new Map(header.rules.map((r, i) => [r.id, i]));
  const frame = jsonFrame({
    $schema: "https://json.schemastore.org/sarif-2.1.0.json",
    version: "2.1.0",
    runs: [
      {
        tool: { driver: { name: header.tool.name, version: header.tool.version, ...(/^\d+\.\d+\.\d+/.test(header.tool.version) ? { semanticVersion: header.tool.version } : {}), rules: header.rules.map(rule) } },
        // One category for every AuditGuard upload, so a new report replaces the previous one in code scanning.
        automationDetails: { id: `auditguard/${header.generatedAt}` },
        invocations: [{ executionSuccessful: true, endTimeUtc: header.generatedAt }],
        properties: { summary: header.summary, filters: header.filters },
        results: STREAMED,
        // Every target scanned, compliant ones included (results name only the failing ones).
        artifacts: STREAMED,
      },
    ],
  });
  const results = new JsonArrayWriter(frame.indents[0]!);
  // SARIF puts artifacts after results, so each target's short artifact entry waits here for the end (one line
  // per target, not the target).
  const artifacts: string[] = [];
  const artifactArray = new JsonArrayWriter(frame.indents[1]!);
  return {
    begin: () => frame.pieces[0]!,
    target(t: ReportTarget) {
      const index = artifacts.length;
      const uri = resourceArtifactUri(t.id);
      artifacts.push(
        artifactArray.item({
          location: { uri },
          roles: ["analysisTarget"],
          properties: { resourceId: t.id, name: t.name, kind: t.kind, status: t.status, scannedAt: t.scannedAt, ...(t.reason ? { reason: t.reason } : {}) },
        }),
      );
      return t.findings
        .map((f) => {
          const pending = pendingFor(t, f.ruleId);
          const events = eventsOf(f);
          const text = `${t.name}: ${f.message}${f.consequenceOf ? ` (a consequence of ${f.consequenceOf})` : ""}.${pending.length ? ` Fix: ${pending.map((c) => c.description).join("; ")}.` : ""}`;
          return results.item({
            ruleId: f.ruleId,
            ...(ruleIndex.has(f.ruleId) ? { ruleIndex: ruleIndex.get(f.ruleId)! } : {}),
            level: f.status === "error" ? "warning" : LEVEL[f.severity],
            kind: "fail",
            message: { text },
            locations: [
              {
                physicalLocation: { artifactLocation: { uri, index }, region: { startLine: 1, startColumn: 1, endLine: 1, endColumn: 1 } },
                logicalLocations: [{ name: t.name, fullyQualifiedName: t.id, kind: "resource" }],
              },
            ],
            partialFingerprints: findingFingerprints(f.ruleId, t.id),
            properties: {
              targetKind: t.kind,
              targetStatus: t.status,
              findingStatus: f.status,
              severity: f.severity,
              observedAt: f.observedAt,
              subscriptionId: t.subscriptionId,
              resourceGroup: t.resourceGroup,
              ...(f.consequenceOf ? { consequenceOf: f.consequenceOf } : {}),
              ...(events.length ? { events } : {}),
              // SARIF fixes are byte replacements in artifacts; a T-SQL statement or an ARM PUT is not one, so the
              // exact change travels here instead of in `fixes`.
              ...(pending.length ? { pendingChanges: pending.map((c) => ({ kind: c.kind, description: c.description, change: c.change })) } : {}),
            },
          });
        })
        .join("");
    },
    end: () => `${results.close()}${frame.pieces[1]!}${artifacts.join("")}${artifactArray.close()}${frame.pieces[2]!}\n`,
  };
}
