import type { EmulatorResponse } from "../http-contracts.js";
import { invalidApiVersion, noRegisteredProvider } from "./errors.js";

/** The api-versions each route accepts: what the SDKs send plus the neighbouring published versions. */
export const API_VERSIONS = {
  subscriptions: ["2014-04-01", "2015-01-01", "2016-06-01", "2018-02-01", "2019-06-01", "2019-11-01", "2020-01-01", "2021-01-01", "2022-01-01", "2022-12-01"],
  resourceGroups: ["2016-09-01", "2018-05-01", "2019-10-01", "2020-06-01", "2021-04-01", "2022-09-01", "2023-07-01", "2024-03-01"],
  sql: [
    "2014-04-01", "2015-05-01-preview", "2017-03-01-preview", "2018-06-01-preview", "2020-02-02-preview", "2020-08-01-preview",
    "2020-11-01-preview", "2021-02-01-preview", "2021-05-01-preview", "2021-08-01-preview", "2021-11-01", "2021-11-01-preview",
    "2022-02-01-preview", "2022-05-01-preview", "2022-08-01-preview", "2022-11-01-preview", "2023-02-01-preview", "2023-05-01-preview",
    "2023-08-01", "2023-08-01-preview", "2024-05-01-preview",
  ],
  synapse: ["2019-06-01-preview", "2020-12-01", "2021-03-01", "2021-04-01-preview", "2021-05-01", "2021-06-01", "2021-06-01-preview"],
  diagnosticSettings: ["2015-07-01", "2016-09-01", "2017-05-01-preview", "2020-01-01-preview", "2021-05-01-preview"],
  resourceGraph: ["2018-09-01-preview", "2019-04-01", "2020-04-01-preview", "2021-03-01", "2021-06-01-preview", "2022-10-01", "2024-04-01"],
} as const;

/**
 * ARM answers an unknown api-version with InvalidApiVersionParameter for its own routes (/subscriptions) and
 * NoRegisteredProviderFound for resource-provider routes.
 */
export function checkApiVersion(version: string, supported: readonly string[], type: string, kind: "arm" | "provider"): EmulatorResponse | undefined {
  if (supported.includes(version)) return undefined;
  return kind === "arm" ? invalidApiVersion(version, supported) : noRegisteredProvider(version, type, supported);
}
