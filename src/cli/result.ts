/** What a CLI command produces; commands return it so tests call them without a process. */
export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * Exit codes, documented in the README. When several apply, the highest in this order wins: usage (2), then
 * could not scan (3), then drift (1): an incomplete scan cannot vouch for what it did not see, so it is never
 * reported as mere drift, and a usage error means nothing ran at all.
 */
export const EXIT = {
  /** Valid, compliant (compliant, remediated or exempt), or nothing to change. */
  ok: 0,
  /** Drift: a target noncompliant (for `plan`: the plan is not empty). */
  drift: 1,
  /** Usage, configuration or input error, found before anything ran; or the report could not be written. */
  usage: 2,
  /** Could not scan: sign-in failed, no access, the inventory incomplete, a target in error or not scanned. */
  cannotScan: 3,
} as const;

export const ok = (stdout: string, exitCode: number = EXIT.ok): CommandResult => ({ exitCode, stdout, stderr: "" });
export const failure = (stderr: string, exitCode: number = EXIT.usage): CommandResult => ({ exitCode, stdout: "", stderr });
