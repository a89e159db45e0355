import { createHash } from "node:crypto";

/** ARM resource ids are case-insensitive: the estate keys everything by the lower-cased id without a trailing slash. */
export function idKey(id: string): string {
  return `/${id.replace(/^\/+/, "").replace(/\/+$/, "")}`.toLowerCase();
}

export function resourceGroupId(subscriptionId: string, resourceGroup: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}`;
}

export function providerId(subscriptionId: string, resourceGroup: string, provider: string, ...segments: string[]): string {
  return `${resourceGroupId(subscriptionId, resourceGroup)}/providers/${provider}/${segments.join("/")}`;
}

/** A GUID derived from text, so ids the fleet does not give (principal ids, event ids) are stable across runs. */
export function stableGuid(text: string): string {
  const hex = createHash("sha1").update(text).digest("hex");
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** Parts of an ARM id: subscription, resource group, and the provider type/name pairs after /providers/. */
export interface ParsedId {
  subscriptionId?: string;
  resourceGroup?: string;
  provider?: string;
  /** Type segments and names after the provider namespace, e.g. [["servers","s1"],["databases","master"]]. */
  segments: [string, string][];
}

export function parseId(id: string): ParsedId {
  const parts = id.replace(/^\/+/, "").replace(/\/+$/, "").split("/");
  const parsed: ParsedId = { segments: [] };
  let i = 0;
  if (parts[i]?.toLowerCase() === "subscriptions") {
    parsed.subscriptionId = parts[i + 1];
    i += 2;
  }
  if (parts[i]?.toLowerCase() === "resourcegroups") {
    parsed.resourceGroup = parts[i + 1];
    i += 2;
  }
  if (parts[i]?.toLowerCase() === "providers") {
    parsed.provider = parts[i + 1];
    i += 2;
    while (i < parts.length) {
      parsed.segments.push([parts[i]!, parts[i + 1] ?? ""]);
      i += 2;
    }
  }
  return parsed;
}
