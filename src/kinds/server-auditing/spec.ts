import type { Baseline } from "../../core/policy/schema.js";
import type { TargetKind } from "../../core/domain.js";

/**
 * What differs between the kinds whose auditing is an ARM server auditing policy (a SQL logical server's, a Synapse
 * workspace's managed SQL server's): the same policy model ("Server Blob Auditing Policies" and "Workspace Managed
 * Sql Server Blob Auditing Policies" REST references), its rules and its fix, each kind with its own names.
 */
export interface PolicyKindSpec {
  kind: TargetKind;
  /** Rule id prefix: `<prefix>.auditing.enabled`... */
  prefix: string;
  /** How rule titles name the target: "SQL server auditing is enabled". */
  label: string;
  /** The baseline section that holds the kind's desired auditing. */
  section: PolicySection;
  /** The service's name where a message speaks of it. */
  service: string;
  /**
   * Whether the policy may leave out isManagedIdentityInUse: then a storage endpoint says nothing of whether a key
   * or an identity reaches it, and the message says so.
   */
  identityFlagMayBeMissing: boolean;
}

/** The baseline's sections that hold an auditing policy. */
export type PolicySection = { [K in keyof Baseline]-?: Baseline[K] extends { auditing: unknown } ? K : never }[keyof Baseline];
export type DesiredAuditing = Baseline[PolicySection]["auditing"];

export function desiredAuditing(baseline: Baseline, spec: PolicyKindSpec): DesiredAuditing {
  return baseline[spec.section].auditing;
}
