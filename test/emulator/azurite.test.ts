import { test } from "node:test";
import assert from "node:assert/strict";
import { QueueClient } from "@azure/storage-queue";
import { TableClient } from "@azure/data-tables";
import { startAzurite } from "../../emulator/storage/azurite.js";

test("Azurite serves real queues and tables to the Azure SDKs on ephemeral ports", async (t) => {
  const azurite = await startAzurite();
  t.after(() => azurite.stop());
  assert.match(azurite.queueEndpoint, /^http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1$/);

  const queue = new QueueClient(azurite.connectionString, "probe");
  await queue.create();
  await queue.sendMessage(Buffer.from(JSON.stringify({ hello: "queue" })).toString("base64"));
  const received = await queue.receiveMessages();
  assert.equal(received.receivedMessageItems.length, 1);
  assert.deepEqual(JSON.parse(Buffer.from(received.receivedMessageItems[0]!.messageText, "base64").toString()), { hello: "queue" });

  const table = TableClient.fromConnectionString(azurite.connectionString, "probe", { allowInsecureConnection: true });
  await table.createTable();
  await table.upsertEntity({ partitionKey: "p", rowKey: "r", value: 1 });
  await table.upsertEntity({ partitionKey: "p", rowKey: "r", value: 2 });
  const rows = [];
  for await (const entity of table.listEntities<{ value: number }>()) rows.push(entity);
  assert.equal(rows.length, 1);
  assert.equal(rows[0]!.value, 2);
});
