import type { RedisClient as Redis } from "@settle/core";
import type { AcceptBatcher, Logger, PartitionQueues, PartitionWaker, Pool } from "@settle/core";
import type { ApiConfig } from "./config";
import type { PaymentEvents } from "./payment-events";
import type { AuthFailures } from "./http/auth-failures";

/** What the HTTP layer works with; created once per process (or per test). */
export interface ApiDeps {
  config: ApiConfig;
  pool: Pool;
  redis: Redis;
  queues: PartitionQueues;
  /** The workers' webhook queue, shown on the dashboard (absent in tests that build deps by hand). */
  webhookQueue?: PartitionQueues["queues"][number];
  /** Adds partition wake-ups, one per partition for the accepts of one moment. */
  waker: PartitionWaker;
  logger: Logger;
  /** Group commit of accepts (absent: one INSERT per payment). */
  batcher?: AcceptBatcher;
  /** Failed authentications per address (API keys and the dashboard), shared by both. */
  authFailures: AuthFailures;
  /** Set once shutdown begins: /readyz answers 503 from then on. */
  lifecycle: { stopping: boolean };
  /** Settlement notifications for long polls. */
  events?: PaymentEvents;
}
