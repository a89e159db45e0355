// One scaled-out Functions instance of the app, for the benchmark: the queue trigger as the Functions host runs it
// with host.json's settings, calling the app's real handlers (scanWorker, scanPoison) through @azure/functions'
// own InvocationContext. Services are built from the app settings in the environment, as in Azure.
//
// The host's queue listener, as "Azure Queue storage trigger for Azure Functions" (host.json settings) describes it:
// messages are fetched batchSize at a time, and a new batch once no more than newBatchThreshold are still being
// processed (at most batchSize + newBatchThreshold at once); an empty queue is polled again after a randomised
// exponential back-off up to maxPollingInterval; a message is invisible while it is processed (the host takes it for
// 10 minutes); it is deleted when its invocation succeeds; when it fails, it becomes visible again after
// visibilityTimeout, or, once its dequeue count reaches maxDequeueCount, it is moved to the -poison queue, where
// the poison function takes it. messageEncoding base64: the text is Base64, JSON inside. [unverified]: the back-off's
// first step (100 ms here) and its randomisation.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { randomUUID } from "node:crypto";
import functions from "@azure/functions";
import { QueueClient } from "@azure/storage-queue";
import type { DequeuedMessageItem } from "@azure/storage-queue";
import { parseFunctionTimeout } from "../src/host/settings.js";
import { SCAN_POISON_QUEUE, SCAN_QUEUE } from "../src/host/queue-names.js";
import { answer, childArgument, commands, Footprint } from "./child.js";
import { serviceStats } from "./service-stats.js";

const { InvocationContext } = functions;
const footprint = new Footprint();
const { name } = childArgument<{ name: string }>();
const queues = (JSON.parse(readFileSync(resolve("host.json"), "utf8")) as { extensions: { queues: Record<string, string | number> } }).extensions.queues;
const batchSize = Number(queues.batchSize ?? 16);
const newBatchThreshold = Number(queues.newBatchThreshold ?? batchSize / 2);
const maxDequeueCount = Number(queues.maxDequeueCount ?? 5);
const visibilitySeconds = parseFunctionTimeout(String(queues.visibilityTimeout ?? "00:00:00")) / 1000;
const maxPollingMs = parseFunctionTimeout(String(queues.maxPollingInterval ?? "00:01:00"));
const HELD_SECONDS = 600;
const MIN_POLLING_MS = 100;

const handlers = await import("../src/host/handlers.js");
const connection = process.env.AzureWebJobsStorage!;
const logs = { information: 0, warning: 0, error: 0 };
const tally = { invocations: 0, failed: 0, poisoned: 0, byFunction: {} as Record<string, number> };
let running = true;
let stop!: () => void;
const stopped = new Promise<void>((r) => (stop = r));
/** A poll's back-off, cut short when the instance is told to stop. */
const sleep = (ms: number) => Promise.race([new Promise((r) => setTimeout(r, ms).unref()), stopped]);

function decode(text: string): unknown {
  const decoded = Buffer.from(text, "base64").toString("utf8");
  try {
    return JSON.parse(decoded);
  } catch {
    return decoded;
  }
}

async function listen(queueName: string, functionName: string, handler: (message: unknown, context: InstanceType<typeof InvocationContext>) => Promise<void>) {
  const queue = new QueueClient(connection, queueName);
  const poison = new QueueClient(connection, `${queueName}-poison`);
  await queue.createIfNotExists();
  let inFlight = 0;
  let wake: (() => void) | undefined;
  let backoff = 0;
  const invoke = async (m: DequeuedMessageItem) => {
    tally.invocations++;
    tally.byFunction[functionName] = (tally.byFunction[functionName] ?? 0) + 1;
    const context = new InvocationContext({
      functionName,
      invocationId: randomUUID(),
      triggerMetadata: { id: m.messageId, dequeueCount: m.dequeueCount, popReceipt: m.popReceipt, insertionTime: m.insertedOn, expirationTime: m.expiresOn, nextVisibleTime: m.nextVisibleOn },
      logHandler: (level, ...args) => {
        if (level === "error") logs.error++;
        else if (level === "warning") logs.warning++;
        else logs.information++;
        if (process.env.BENCH_VERBOSE && (level === "error" || level === "warning")) console.error(`${name} ${functionName} ${level}: ${args.join(" ")}`);
      },
    });
    try {
      await handler(decode(m.messageText), context);
      await queue.deleteMessage(m.messageId, m.popReceipt);
    } catch {
      tally.failed++;
      if (m.dequeueCount >= maxDequeueCount) {
        tally.poisoned++;
        await poison.createIfNotExists();
        await poison.sendMessage(m.messageText);
        await queue.deleteMessage(m.messageId, m.popReceipt);
      } else {
        await queue.updateMessage(m.messageId, m.popReceipt, undefined, visibilitySeconds);
      }
    }
  };
  while (running) {
    if (inFlight > newBatchThreshold) {
      await new Promise<void>((r) => (wake = r));
      continue;
    }
    let received: DequeuedMessageItem[] = [];
    try {
      received = (await queue.receiveMessages({ numberOfMessages: batchSize, visibilityTimeout: HELD_SECONDS })).receivedMessageItems;
    } catch (error) {
      if (process.env.BENCH_VERBOSE) console.error(`${name}: receiving from ${queueName} failed: ${(error as Error).message}`);
    }
    if (!received.length) {
      backoff = Math.min(maxPollingMs, backoff ? backoff * 2 : MIN_POLLING_MS);
      await sleep(backoff * (0.8 + Math.random() * 0.4));
      continue;
    }
    backoff = 0;
    for (const m of received) {
      inFlight++;
      void invoke(m)
        .catch((error: unknown) => console.error(`${name}: ${(error as Error).message}`))
        .finally(() => {
          inFlight--;
          wake?.();
          wake = undefined;
        });
    }
  }
  while (inFlight > 0) await new Promise<void>((r) => (wake = r));
}

answer({ ready: true });
const listening: Array<Promise<void>> = [];
for await (const command of commands<{ cmd: string }>()) {
  if (command.cmd !== "go") continue;
  footprint.resetCpu();
  listening.push(listen(SCAN_QUEUE, "scanWorker", handlers.scanWorker), listen(SCAN_POISON_QUEUE, "scanPoison", handlers.scanPoison));
}
running = false;
stop();
await Promise.all(listening);
answer({ name, ...tally, logs, ...(tally.invocations ? await serviceStats() : {}), ...footprint.report() });
process.exit(0);
