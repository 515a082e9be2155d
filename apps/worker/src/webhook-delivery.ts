import { Queue, Worker, type Job } from "bullmq";
import type { Redis } from "ioredis";
import {
  claimDueDeliveries,
  createWebhookQueue,
  WEBHOOK_QUEUE_NAME,
  webhookQueuePrefix,
  deliveryBacklog,
  dispatchEvents,
  endpointsWithDueDeliveries,
  recordAttempts,
  signWebhookPayload,
  WebhookSender,
  type AttemptOutcome,
  type ClaimedDelivery,
  type Logger,
  type Pool,
  type RecordResult,
  type RetryPolicy,
} from "@settle/core";

// Webhook delivery, in every worker process (docs/ARCHITECTURE.md "Events and webhooks"):
//   - a poller turns new events into deliveries (dispatchEvents, one dispatcher at a time by a row
//     lock) and adds a wake-up to the webhook queue for each endpoint with deliveries due;
//   - the queue's consumer sends an endpoint's due deliveries, signed, and records each attempt.
// PostgreSQL holds every delivery's state; the queue only says "endpoint e has work". A lost job,
// a Redis that lost its data, or a worker killed mid-delivery only delays a delivery until the
// next poll after its claim lapses: at least once, never none.

export interface WebhookDeliveryOptions {
  prefix: string;
  /** How often new events are dispatched and due deliveries woken (WEBHOOK_POLL_MS). */
  pollMs: number;
  /** One attempt's bound: connect, send, answer (WEBHOOK_TIMEOUT_MS). */
  timeoutMs: number;
  allowInsecure: boolean;
  /** Endpoints served at once by this worker (WEBHOOK_CONCURRENCY). */
  concurrency: number;
  policy: RetryPolicy;
  logger: Logger;
  onRecorded?: (result: RecordResult) => void;
  onBacklog?: (backlog: { retrying: number; oldestUndeliveredSeconds: number }) => void;
}

/** Deliveries one claim takes: sent concurrently, recorded in one statement. */
const CLAIM_SIZE = 50;
/** Rounds one wake-up runs before yielding the endpoint back to the queue (another poll wakes it). */
const MAX_ROUNDS = 20;
/** Events one dispatch statement passes; a poll runs a few while there are more. */
const DISPATCH_SIZE = 1000;
const BACKLOG_EVERY_MS = 5000;

export class WebhookDelivery {
  private readonly queue: Queue;
  private worker: Worker<{ endpointId: string }> | undefined;
  private readonly sender: WebhookSender;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> = Promise.resolve();
  private lastBacklogAt = 0;
  private stopped = false;

  constructor(
    private readonly pool: Pool,
    private readonly producer: Redis,
    private readonly consumerConnection: Redis,
    private readonly options: WebhookDeliveryOptions,
  ) {
    this.queue = createWebhookQueue(producer, options.prefix);
    this.sender = new WebhookSender({ timeoutMs: options.timeoutMs, allowInsecure: options.allowInsecure });
  }

  start(): void {
    this.worker = new Worker<{ endpointId: string }>(WEBHOOK_QUEUE_NAME, (job: Job<{ endpointId: string }>) => this.deliver(job.data.endpointId), {
      connection: this.consumerConnection,
      prefix: webhookQueuePrefix(this.options.prefix),
      concurrency: this.options.concurrency,
      // A round can take up to one attempt's timeout; the lock outlives it.
      lockDuration: Math.max(30_000, this.options.timeoutMs * 3),
    });
    this.worker.on("error", (err) => this.options.logger.warn({ err }, "webhook queue consumer error"));
    this.worker.on("failed", (job, err) => this.options.logger.warn({ err, endpoint: job?.data.endpointId }, "webhook round failed; the next poll retries it"));
    let busy = false;
    this.timer = setInterval(() => {
      if (busy || this.stopped) return;
      busy = true;
      this.polling = this.poll()
        .catch((err) => this.options.logger.warn({ err }, "webhook poll failed"))
        .finally(() => (busy = false));
    }, this.options.pollMs);
  }

  /** One poll: new events into deliveries, then a wake-up per endpoint with work due. */
  async poll(): Promise<void> {
    for (let i = 0; i < 10; i++) {
      const { events } = await dispatchEvents(this.pool, DISPATCH_SIZE);
      if (events < DISPATCH_SIZE) break;
    }
    const endpoints = await endpointsWithDueDeliveries(this.pool);
    // Deduplicated per endpoint for one poll interval across all workers: a key that outlives its
    // job (a lost job, a flushed Redis) expires by itself.
    await Promise.all(
      endpoints.map((endpointId) =>
        this.queue.add(
          "deliver",
          { endpointId },
          {
            attempts: 1,
            deduplication: { id: `webhook-${endpointId}`, ttl: this.options.pollMs },
            removeOnComplete: { age: 3600, count: 1000 },
            removeOnFail: { age: 24 * 3600, count: 1000 },
          },
        ),
      ),
    );
    if (this.options.onBacklog && Date.now() - this.lastBacklogAt >= BACKLOG_EVERY_MS) {
      this.lastBacklogAt = Date.now();
      this.options.onBacklog(await deliveryBacklog(this.pool));
    }
  }

  /** Sends an endpoint's due deliveries, a claim at a time, recording every attempt. */
  async deliver(endpointId: string): Promise<void> {
    const lockMs = this.options.timeoutMs + 5000;
    for (let round = 0; round < MAX_ROUNDS && !this.stopped; round++) {
      const claimed = await claimDueDeliveries(this.pool, endpointId, CLAIM_SIZE, lockMs);
      if (claimed.length === 0) return;
      const outcomes = await Promise.all(claimed.map((d) => this.attempt(d)));
      const result = await recordAttempts(this.pool, endpointId, outcomes, this.options.policy);
      this.options.onRecorded?.(result);
      if (result.disabled.length > 0) this.options.logger.warn({ endpoint: endpointId }, "webhook endpoint disabled: its deliveries kept failing");
      if (claimed.length < CLAIM_SIZE) return;
    }
  }

  private async attempt(delivery: ClaimedDelivery): Promise<AttemptOutcome> {
    const body = JSON.stringify(delivery.event);
    const attemptedAt = new Date();
    const response = await this.sender.send({
      url: delivery.url,
      body,
      headers: { "Settle-Event-Id": delivery.event.id, "Settle-Signature": signatureHeader(body, delivery.secrets, attemptedAt) },
    });
    return { delivery, ok: response.ok, statusCode: response.statusCode, error: response.error, durationMs: response.durationMs, attemptedAt };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.polling.catch(() => undefined);
    // close() lets the round in hand finish; its deliveries are recorded before the process ends.
    await this.worker?.close();
    await this.queue.close();
    this.sender.close();
  }
}

/** `t=<seconds>,v1=<sig>[,v1=<sig>]`: one v1 per secret (two during a rotation), all over one timestamp. */
export function signatureHeader(body: string, secrets: string[], at: Date): string {
  const timestamp = Math.floor(at.getTime() / 1000);
  const signatures = secrets.map((secret) => signWebhookPayload({ payload: body, secret, timestamp }).split(",")[1]!);
  return [`t=${timestamp}`, ...signatures].join(",");
}
