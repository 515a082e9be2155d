import { randomUUID } from "node:crypto";
import { Worker, type Job, type Queue } from "bullmq";
import type { RedisClient as Redis } from "@settle/core";
import {
  claimDueRetries,
  claimFeed,
  createWebhookQueue,
  deliveryBacklog,
  endpointsWithWork,
  readFeed,
  recordFeedRound,
  recordRetries,
  releaseFeed,
  signWebhookPayload,
  WEBHOOK_QUEUE_NAME,
  webhookQueuePrefix,
  WebhookSender,
  type AttemptOutcome,
  type EndpointTarget,
  type Logger,
  type OutgoingEvent,
  type Pool,
  type RecordResult,
  type RetryPolicy,
} from "@settle/core";

// Webhook delivery, in every worker process (docs/ARCHITECTURE.md "Events and webhooks"):
//   - a poller adds a wake-up to the webhook queue for each endpoint with work: events after its
//     feed cursor, or retries due;
//   - the queue's consumer claims the endpoint's feed, sends the next events, signed, and records
//     the attempts with the new cursor in one statement; then it sends the retries due.
// PostgreSQL holds every cursor and retry; the queue only says "endpoint e has work". A lost job,
// a Redis that lost its data, or a worker killed mid-send only delays a delivery until its claim
// lapses and the next poll wakes the endpoint: at least once, never none.

export interface WebhookDeliveryOptions {
  prefix: string;
  /** How often endpoints with work are woken (WEBHOOK_POLL_MS). */
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

/** Events (or retries) one round sends in parallel and records in one statement. */
const ROUND_SIZE = 100;
/** Rounds one wake-up runs before yielding the endpoint back to the queue (the next poll wakes it). */
const MAX_ROUNDS = 20;
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
    producer: Redis,
    private readonly consumerConnection: Redis,
    private readonly options: WebhookDeliveryOptions,
  ) {
    this.queue = createWebhookQueue(producer, options.prefix);
    this.sender = new WebhookSender({ timeoutMs: options.timeoutMs, allowInsecure: options.allowInsecure });
  }

  /** A claim outlives any round: its attempts run in parallel, each bounded by the timeout. */
  private get lockMs(): number {
    return this.options.timeoutMs + 5000;
  }

  start(): void {
    this.worker = new Worker<{ endpointId: string }>(WEBHOOK_QUEUE_NAME, (job: Job<{ endpointId: string }>) => this.deliver(job.data.endpointId), {
      connection: this.consumerConnection,
      prefix: webhookQueuePrefix(this.options.prefix),
      concurrency: this.options.concurrency,
      // A wake-up runs rounds of at most one attempt's timeout each; the lock outlives several.
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

  /** One poll: a wake-up per endpoint with work. */
  async poll(): Promise<void> {
    const endpoints = await endpointsWithWork(this.pool);
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

  /** Sends an endpoint's new events from its feed, then its retries due, a round at a time. */
  async deliver(endpointId: string): Promise<void> {
    await this.deliverFeed(endpointId);
    await this.deliverRetries(endpointId);
  }

  private async deliverFeed(endpointId: string): Promise<void> {
    const claim = await claimFeed(this.pool, endpointId, randomUUID(), this.lockMs);
    if (!claim) return; // another worker reads it, or it is disabled
    try {
      for (let round = 0; round < MAX_ROUNDS && !this.stopped; round++) {
        const { events, next } = await readFeed(this.pool, claim, ROUND_SIZE);
        const moved = next.xid !== claim.cursor.xid || next.seq !== claim.cursor.seq;
        if (events.length === 0 && !moved) return;
        const outcomes = await Promise.all(events.map((event) => this.attempt(claim, event, 1)));
        const { recorded, result } = await recordFeedRound(this.pool, claim, outcomes, next, this.options.policy, this.lockMs);
        if (!recorded) {
          this.options.logger.warn({ endpoint: endpointId }, "webhook feed claim lapsed mid-round; its next reader sends these events again");
          return;
        }
        this.report(endpointId, result);
        if (events.length < ROUND_SIZE) return;
      }
    } finally {
      await releaseFeed(this.pool, claim).catch((err) => this.options.logger.warn({ err, endpoint: endpointId }, "could not release a webhook feed claim"));
    }
  }

  private async deliverRetries(endpointId: string): Promise<void> {
    for (let round = 0; round < MAX_ROUNDS && !this.stopped; round++) {
      const { target, retries } = await claimDueRetries(this.pool, endpointId, ROUND_SIZE, this.lockMs);
      if (!target) return;
      const outcomes = await Promise.all(retries.map((r) => this.attempt(target, r.event, r.attempt)));
      this.report(endpointId, await recordRetries(this.pool, endpointId, retries, outcomes, this.options.policy));
      if (retries.length < ROUND_SIZE) return;
    }
  }

  private report(endpointId: string, result: RecordResult): void {
    this.options.onRecorded?.(result);
    if (result.disabled) this.options.logger.warn({ endpoint: endpointId }, "webhook endpoint disabled: its deliveries kept failing");
  }

  private async attempt(target: EndpointTarget, event: OutgoingEvent, attempt: number): Promise<AttemptOutcome> {
    const attemptedAt = new Date();
    const response = await this.sender.send({
      url: target.url,
      body: event.body,
      headers: { "Settle-Event-Id": event.id, "Settle-Signature": signatureHeader(event.body, target.secrets, attemptedAt) },
    });
    return { event, attempt, ok: response.ok, statusCode: response.statusCode, error: response.error, durationMs: response.durationMs, attemptedAt };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.polling.catch(() => undefined);
    // close() lets the round in hand finish; its attempts are recorded before the process ends.
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
