/** The kind's id: the one place its literal is spelt (targets, stored results, events and reports carry it). */
export const KIND = "synapse-workspace" as const;
