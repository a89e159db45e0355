import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { TableClient, TableTransaction } from "@azure/data-tables";
import { QueueClient } from "@azure/storage-queue";
import { startAzurite } from "../../emulator/storage/azurite.js";
import type { RunningAzurite } from "../../emulator/storage/azurite.js";
import { startPacingProxy } from "../../emulator/storage/pacing-proxy.js";
import type { RunningPacingProxy } from "../../emulator/storage/pacing-proxy.js";

// Azurite behind the pacing proxy: past a partition's (or a queue's) target the service answers 503 with the
// ServerBusy error code ("Scalability and performance targets for Table storage" / "... for Queue Storage";
// "Common REST API error codes": ServerBusy, 503), which the SDKs see as such and retry. Targets are scaled down
// here so a handful of requests exceeds them.
let azurite: RunningAzurite;
let proxy: RunningPacingProxy;

before(async () => {
  azurite = await startAzurite();
  proxy = await startPacingProxy(azurite, { tablePartitionEntitiesPerSecond: 5, tableAccountTransactionsPerSecond: 10_000, queueMessagesPerSecond: 5, queueAccountMessagesPerSecond: 10_000, burstSeconds: 2 });
});
after(async () => {
  await proxy?.stop();
  await azurite?.stop();
});

type Refusal = { statusCode?: number; code?: string; response?: { parsedBody?: { odataError?: { code?: string } } } };
const failures = (outcomes: PromiseSettledResult<unknown>[]) => outcomes.filter((o): o is PromiseRejectedResult => o.status === "rejected").map((o) => o.reason as Refusal);

describe("the Table storage pacing proxy", () => {
  it("a hot partition gets 503 ServerBusy past its target while another partition is served", async () => {
    const table = TableClient.fromConnectionString(proxy.connectionString, "Paced", { allowInsecureConnection: true, retryOptions: { maxRetries: 0 } });
    await table.createTable();
    const hot = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => table.upsertEntity({ partitionKey: "hot", rowKey: `r${i}`, n: i })));
    const refused = failures(hot);
    assert.ok(refused.length >= 10, `30 writes against a bucket of 10 refilling at 5 a second: ${refused.length} refused`);
    // data-tables keeps the service's odata.error in the parsed body (as its own helpers read TableAlreadyExists).
    for (const e of refused) assert.deepEqual([e.statusCode, e.response?.parsedBody?.odataError?.code], [503, "ServerBusy"]);
    const cold = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => table.upsertEntity({ partitionKey: "cold", rowKey: `r${i}` })));
    assert.equal(failures(cold).length, 0, "the other partition has its own target");
    const stats = proxy.stats().table;
    assert.equal(stats.serverBusy, refused.length);
    assert.equal(stats.entitiesByPartition["Paced/cold"], 5);
  });

  it("an entity group transaction costs one entity per operation; a query one per entity it returns", async () => {
    const table = TableClient.fromConnectionString(proxy.connectionString, "Batched", { allowInsecureConnection: true, retryOptions: { maxRetries: 0 } });
    await table.createTable();
    const transaction = new TableTransaction();
    for (let i = 0; i < 8; i++) transaction.upsertEntity({ partitionKey: "b", rowKey: `r${i}` });
    await table.submitTransaction(transaction.actions);
    assert.equal(proxy.stats().table.entitiesByPartition["Batched/b"], 8);
    await new Promise((r) => setTimeout(r, 1_500)); // refill a little
    const listed: unknown[] = [];
    for await (const e of table.listEntities({ queryOptions: { filter: "PartitionKey eq 'b'" } })) listed.push(e);
    assert.equal(listed.length, 8);
    assert.equal(proxy.stats().table.entitiesByPartition["Batched/b"], 16);
  });

  it("with the SDK's retry policy, writes refused as ServerBusy are retried until they land", async () => {
    const table = TableClient.fromConnectionString(proxy.connectionString, "Retried", { allowInsecureConnection: true, retryOptions: { maxRetries: 10, retryDelayInMs: 200, maxRetryDelayInMs: 1_000 } });
    await table.createTable();
    const before = proxy.stats().table.serverBusy;
    await Promise.all(Array.from({ length: 14 }, (_, i) => table.upsertEntity({ partitionKey: "retried", rowKey: `r${i}` })));
    let stored = 0;
    for await (const _ of table.listEntities({ queryOptions: { filter: "PartitionKey eq 'retried'" } })) stored++;
    assert.equal(stored, 14);
    assert.ok(proxy.stats().table.serverBusy > before, "some were refused first");
  });
});

describe("the Queue storage pacing proxy", () => {
  it("a queue past its target answers 503 ServerBusy (the service's XML error)", async () => {
    const queue = new QueueClient(proxy.connectionString, "paced-queue", { retryOptions: { maxTries: 1 } });
    await queue.createIfNotExists();
    const sent = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => queue.sendMessage(`m${i}`)));
    const refused = failures(sent);
    assert.ok(refused.length >= 10, `${refused.length} refused`);
    for (const e of refused) assert.deepEqual([e.statusCode, e.code], [503, "ServerBusy"]);
    assert.equal(proxy.stats().queue.messagesByQueue["paced-queue"], 30 - refused.length);
  });
});
