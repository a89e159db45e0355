/** What a CLI command produces; commands return it so tests call them without a process. */
export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Exit codes, documented in the README: 0 all good, 1 drift remains, 2 usage, configuration or input error. */
export const EXIT = { ok: 0, drift: 1, usage: 2 } as const;

export const ok = (stdout: string, exitCode: number = EXIT.ok): CommandResult => ({ exitCode, stdout, stderr: "" });
export const failure = (stderr: string, exitCode: number = EXIT.usage): CommandResult => ({ exitCode, stdout: "", stderr });
