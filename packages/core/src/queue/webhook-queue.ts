import { Queue } from "bullmq";
import { PRODUCER_QUEUE_OPTIONS, type RedisClient } from "./partition-queues";

/** The BullMQ queue of webhook wake-ups ("deliver what is due for endpoint e"), as Bull Board shows it. */
export const WEBHOOK_QUEUE_NAME = "webhooks";

/** Its key prefix: a hash tag of its own, so its keys share one Redis Cluster slot. */
export const webhookQueuePrefix = (basePrefix: string): string => `${basePrefix}:{webhooks}`;

/** The webhook queue, for its producers (every worker's poller) and the dashboard. */
export function createWebhookQueue(connection: RedisClient, basePrefix: string): Queue {
  const queue = new Queue(WEBHOOK_QUEUE_NAME, { ...PRODUCER_QUEUE_OPTIONS, connection, prefix: webhookQueuePrefix(basePrefix) });
  queue.on("error", () => undefined);
  return queue;
}
