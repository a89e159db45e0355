import type { FleetInput } from "../../emulator/fleet/schema.js";

/** A fleet of Managed Instances in one subscription and resource group, for tests of the TDS endpoint. */
type ManagedInstanceInput = NonNullable<NonNullable<NonNullable<FleetInput["subscriptions"]>[number]["resourceGroups"]>[number]["managedInstances"]>[number];

export function miFleet(managedInstances: ManagedInstanceInput[], displayName = "mi tests"): FleetInput {
  return {
    tenantId: "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a",
    scanner: { principalId: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", clientId: "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e", displayName: "auditguard-scanner", roleAssignments: [] },
    subscriptions: [{ id: "11111111-1111-4111-8111-111111111111", displayName, resourceGroups: [{ name: "rg", managedInstances }] }],
  };
}
