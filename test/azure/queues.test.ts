import { test } from "node:test";
import assert from "node:assert/strict";
import { QueueClient } from "@azure/storage-queue";
import { startAzurite } from "../../emulator/storage/azurite.js";
import { JsonQueue, MessageTooLargeError } from "../../src/azure/queues.js";
import { decodeQueueMessage } from "../../src/core/events/build.js";

test("messages arrive as Base64 JSON, in the queue they were sent to, created on first use", async (t) => {
  const azurite = await startAzurite();
  t.after(() => azurite.stop());
  const queue = JsonQueue.connect({ connectionString: azurite.connectionString }, "auditguard-events");
  await queue.sendAll([{ n: 1 }, { n: 2 }, { n: 3 }]);
  const raw = new QueueClient(azurite.connectionString, "auditguard-events");
  const { receivedMessageItems } = await raw.receiveMessages({ numberOfMessages: 10 });
  assert.deepEqual(receivedMessageItems.map((m) => (decodeQueueMessage(m.messageText) as { n: number }).n).sort(), [1, 2, 3]);
  assert.ok(receivedMessageItems.every((m) => /^[A-Za-z0-9+/]+=*$/.test(m.messageText)));
  await assert.rejects(queue.send({ big: "x".repeat(60_000) }), MessageTooLargeError);
});

test("invalid queue names are refused before any call", () => {
  for (const name of ["Events", "a", "bad--name", "-lead", "x".repeat(64)]) {
    assert.throws(() => JsonQueue.connect({ connectionString: "UseDevelopmentStorage=true" }, name), /invalid queue name/);
  }
});
