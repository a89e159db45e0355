import type { EmulatorResponse } from "../http-contracts.js";

/** ARM's error envelope and the messages ARM really sends for the failures the emulator models. */
export function armError(status: number, code: string, message: string, headers: Record<string, string> = {}): EmulatorResponse {
  return { status, headers, json: { error: { code, message } } };
}

export const missingApiVersion = () =>
  armError(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.");

export const invalidApiVersion = (version: string, supported: readonly string[]) =>
  armError(400, "InvalidApiVersionParameter", `The api-version '${version}' is invalid. The supported versions are '${supported.join(",")}'.`);

export const noRegisteredProvider = (version: string, type: string, supported: readonly string[], location = "westeurope") =>
  armError(
    400,
    "NoRegisteredProviderFound",
    `No registered resource provider found for location '${location}' and API version '${version}' for type '${type}'. The supported api-versions are '${supported.join(", ")}'. The supported locations are 'westeurope, northeurope, eastus, eastus2, westus2, uksouth'.`,
  );

export const subscriptionNotFound = (subscriptionId: string) =>
  armError(404, "SubscriptionNotFound", `The subscription '${subscriptionId}' could not be found.`);

export const resourceGroupNotFound = (resourceGroup: string) =>
  armError(404, "ResourceGroupNotFound", `Resource group '${resourceGroup}' could not be found.`);

export const resourceNotFound = (type: string, name: string, resourceGroup: string) =>
  armError(
    404,
    "ResourceNotFound",
    `The Resource '${type}/${name}' under resource group '${resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
  );

export const invalidResourceType = (type: string, namespace: string, version: string) =>
  armError(404, "InvalidResourceType", `The resource type '${type}' could not be found in the namespace '${namespace}' for api version '${version}'.`);

export const authorizationFailed = (clientId: string, objectId: string, action: string, scope: string) =>
  armError(
    403,
    "AuthorizationFailed",
    `The client '${clientId}' with object id '${objectId}' does not have authorization to perform action '${action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
  );

export const linkedAuthorizationFailed = (clientId: string, objectId: string, action: string, scope: string, linkedAction: string, linkedScope: string) =>
  armError(
    403,
    "LinkedAuthorizationFailed",
    `The client '${clientId}' with object id '${objectId}' has permission to perform action '${action}' on scope '${scope}'; however, it does not have permission to perform action '${linkedAction}' on the linked scope(s) '${linkedScope}' or the linked scope(s) are invalid.`,
  );

export const throttled = (subscriptionId: string, kind: "read" | "write" | "delete", objectId: string, retryAfterSeconds: number, retryAfterMs?: number) =>
  armError(
    429,
    "SubscriptionRequestsThrottled",
    `Number of '${kind}' requests for subscription '${subscriptionId}' actor '${objectId}' exceeded. Please try again after '${retryAfterSeconds}' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling`,
    { "retry-after": String(retryAfterSeconds), ...(retryAfterMs !== undefined ? { "retry-after-ms": String(retryAfterMs) } : {}) },
  );

export const internalServerError = (trackingId: string) =>
  armError(500, "InternalServerError", `Encountered internal server error. Diagnostic information: tracking id '${trackingId}'.`);

export const gatewayTimeout = (namespace: string) =>
  armError(504, "GatewayTimeout", `The gateway did not receive a response from '${namespace}' within the specified time period.`);

export const invalidRequestContent = (detail: string) =>
  armError(400, "InvalidRequestContent", `The request content was invalid and could not be deserialized: '${detail}'.`);
