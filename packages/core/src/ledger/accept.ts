import type { Pool } from "pg";
import type { Logger } from "pino";
import { uuidv7 } from "../ids";
import { withTimeout } from "../timeout";
import type { AcceptBatcher } from "./accept-batcher";
import { partitionFor } from "../partition";
import type { PartitionQueues } from "../queue/partition-queues";
import type { PaymentType } from "./apply";
import { insertPayment, type PaymentView } from "./ledger-repository";
import { runIdempotent, type IdempotencyKey, type StoredResponse } from "../idempotency";

export interface AcceptDeps {
  pool: Pool;
  queues: PartitionQueues;
  partitions: number;
  logger: Logger;
  /** Group commit for accepts without an idempotency key; without it each payment is inserted alone. */
  batcher?: AcceptBatcher;
  /** How long the 202 may wait on Redis before leaving the payment to the sweeper. @defaultValue 1000 */
  enqueueTimeoutMs?: number;
}

export interface PaymentRequest {
  type: PaymentType;
  fromAccount: string | null;
  toAccount: string | null;
  amount: string;
  description: string | null;
}

/** The account whose available funds a payment can decrease: its partition serialises it. */
export function debitAccountOf(p: { type: PaymentType; fromAccount: string | null; toAccount: string | null }): string {
  const account = p.type === "deposit" ? p.toAccount : p.fromAccount;
  if (!account) throw new Error(`${p.type} without its account`);
  return account;
}

/**
 * Accepts a payment: commits it as `pending` in PostgreSQL (with its idempotency key, if any),
 * then enqueues it. Once this returns, the payment is durable and will be settled; a failed
 * enqueue is left to the sweeper. A replayed key returns the original response and enqueues nothing.
 */
export async function acceptPayment(
  deps: AcceptDeps,
  request: PaymentRequest,
  context: { requestId?: string; idempotency?: IdempotencyKey } = {},
): Promise<StoredResponse<PaymentView> & { replayed: boolean }> {
  const partition = partitionFor(debitAccountOf(request), deps.partitions);
  let orderSeq = "";
  const response = await runIdempotent<PaymentView>(deps.pool, context.idempotency, async (db) => {
    const row = { id: uuidv7(), partition, ...request, requestId: context.requestId ?? null };
    // A keyed request inserts inside its idempotency transaction; the others may share a commit.
    const { order_seq, ...payment } = deps.batcher && !context.idempotency ? await deps.batcher.insert(row) : await insertPayment(db, row);
    orderSeq = order_seq;
    return { status: 202, body: payment };
  });
  if (!response.replayed) {
    const job = { partition, through_order_seq: orderSeq, payment_id: response.body.id, request_id: context.requestId };
    await enqueueSettle(deps, job, response.body.id);
  }
  return response;
}

/** Enqueues a settle job, bounded in time; failure is logged, never thrown (PostgreSQL already has the work). */
export async function enqueueSettle(
  deps: Pick<AcceptDeps, "queues" | "logger" | "enqueueTimeoutMs">,
  job: Parameters<PartitionQueues["enqueueSettle"]>[0],
  jobId: string,
): Promise<boolean> {
  try {
    await withTimeout(deps.queues.enqueueSettle(job, jobId), deps.enqueueTimeoutMs ?? 1000, "enqueue");
    return true;
  } catch (error) {
    deps.logger.warn({ err: error, jobId, partition: job.partition }, "enqueue failed; the sweeper will enqueue it");
    return false;
  }
}
