import { QueueClient } from "@azure/storage-queue";
import type { TokenCredential } from "@azure/core-auth";
import { encodeQueueMessage } from "../core/events/build.js";

/**
 * A JSON message queue on Azure Storage: scan requests for the queue-triggered function, and the events queue
 * for alerting. Messages are Base64 JSON, which the Functions queue trigger decodes by default.
 */
export type QueueConnection = { connectionString: string } | { queueEndpoint: string; credential: TokenCredential };

/** Azure Storage queue messages are at most 64 KiB; Base64 costs a third. */
export const MAX_MESSAGE_JSON_BYTES = 48 * 1024;

export class MessageTooLargeError extends Error {}

export class JsonQueue {
  private ready: Promise<void> | undefined;

  constructor(private readonly client: QueueClient) {}

  static connect(connection: QueueConnection, queueName: string): JsonQueue {
    if (!/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(queueName)) {
      throw new Error(`invalid queue name '${queueName}': 3-63 lower-case letters, digits and single hyphens`);
    }
    const client =
      "connectionString" in connection
        ? new QueueClient(connection.connectionString, queueName)
        : new QueueClient(`${connection.queueEndpoint.replace(/\/+$/, "")}/${queueName}`, connection.credential);
    return new JsonQueue(client);
  }

  get name(): string {
    return this.client.name;
  }

  private ensure(): Promise<void> {
    this.ready ??= this.client.createIfNotExists().then(
      () => undefined,
      (error: unknown) => {
        this.ready = undefined;
        throw error;
      },
    );
    return this.ready;
  }

  async send(message: unknown): Promise<void> {
    const json = JSON.stringify(message);
    if (Buffer.byteLength(json, "utf8") > MAX_MESSAGE_JSON_BYTES) {
      throw new MessageTooLargeError(`message of ${Buffer.byteLength(json, "utf8")} bytes exceeds the queue limit`);
    }
    await this.ensure();
    await this.client.sendMessage(encodeQueueMessage(message));
  }

  async sendAll(messages: readonly unknown[], concurrency = 16): Promise<void> {
    let next = 0;
    const lane = async () => {
      while (next < messages.length) await this.send(messages[next++]);
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, messages.length) }, lane));
  }
}
