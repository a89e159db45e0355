import type { Target } from "../core/domain.js";
import { sameAzureName } from "../core/names.js";

/**
 * Where the scanner may send its Entra SQL token. A Managed Instance's VNet-local name is
 * `<instance>.<dnsZone>.database.windows.net` in the public cloud ("Connectivity architecture of Azure SQL Managed
 * Instance"; the zone suffix differs in sovereign clouds), and ARM reports it as `fullyQualifiedDomainName` beside
 * `dnsZone`. A name that is not exactly that, or that leaves the cloud's zone, never gets a connection: a token
 * for https://database.windows.net/ is accepted by every Azure SQL server, so whoever answered would be handed a
 * credential to alter audits as the scanner.
 */
export const PUBLIC_MANAGED_INSTANCE_DNS_SUFFIX = "database.windows.net";

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export type TrustedHost = { ok: true; host: string } | { ok: false; reason: string };

export function trustedSqlHost(target: Pick<Target, "name" | "fullyQualifiedDomainName" | "dnsZone">, dnsSuffix: string): TrustedHost {
  const fqdn = target.fullyQualifiedDomainName?.trim().toLowerCase();
  if (!fqdn) return { ok: false, reason: "ARM reports no fully qualified domain name for the instance, so there is nowhere trusted to connect" };
  const suffix = dnsSuffix.trim().toLowerCase().replace(/^\.+|\.+$/g, "");
  const name = target.name.toLowerCase();
  const labels = fqdn.split(".");
  const suffixLabels = suffix.split(".");
  const zone = labels.length === suffixLabels.length + 2 ? labels[1] : undefined;
  const inZone =
    labels.every((l) => LABEL.test(l)) &&
    fqdn.endsWith(`.${suffix}`) &&
    labels[0] === name &&
    zone !== undefined &&
    (target.dnsZone === undefined || sameAzureName(target.dnsZone, zone));
  if (!inZone) {
    return {
      ok: false,
      reason: `the instance's host name '${fqdn}' is not <instance>.<dnsZone>.${suffix} for instance '${name}'${target.dnsZone ? ` in DNS zone '${target.dnsZone}'` : ""}: the scanner does not send its token there`,
    };
  }
  return { ok: true, host: fqdn };
}
