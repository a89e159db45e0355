import pkg from "../../package.json" with { type: "json" };

/**
 * The one version of AuditGuard: package.json's. The CLI's --version, every report's tool version and SARIF's
 * driver version read it from here (the esbuild bundle inlines the JSON; tsc copies it beside the compiled code).
 */
export const TOOL_NAME = "AuditGuard";
export const TOOL_VERSION: string = pkg.version;
