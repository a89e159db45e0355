import { loadConfiguration } from "./services.js";

/**
 * What the app start hook runs: the settings and the baseline, checked before the first invocation, so a bad
 * setting is in the log (by name) when the app starts, not when a timer first fires. Every function then answers
 * with the same ConfigurationError until it is fixed.
 */
export function checkConfiguration(log: (message: string) => void = (m) => console.error(m)): string | undefined {
  try {
    loadConfiguration();
    return undefined;
  } catch (error) {
    const problem = `AuditGuard cannot run as configured: ${(error as Error).message}`;
    log(problem);
    return problem;
  }
}
