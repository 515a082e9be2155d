import type { Pool } from "pg";
import { uuidv7 } from "../ids";
import type { AcceptBatcher } from "./accept-batcher";
import { partitionFor } from "../partition";
import type { PartitionWaker } from "../queue/partition-waker";
import type { PaymentType } from "./payments";
import { insertPayment, type PaymentView } from "./ledger-repository";
import { runIdempotent, type IdempotencyKey, type IdempotentResult } from "../idempotency";

export interface AcceptDeps {
  pool: Pool;
  /** Adds the wake-ups of partitions that have new work. */
  waker: PartitionWaker;
  partitions: number;
  /** Group commit for accepts without an idempotency key; without it each payment is inserted alone. */
  batcher?: AcceptBatcher;
}

export interface PaymentRequest {
  type: PaymentType;
  fromAccount: string | null;
  toAccount: string | null;
  amount: string;
  description: string | null;
  /** False: an authorization, held for `expiresInSeconds` (docs/API.md "Authorize, then capture or void"). */
  capture?: boolean;
  expiresInSeconds?: number | null;
}

/** The account whose available funds a payment can decrease: its partition serialises it. */
export function debitAccountOf(p: { type: PaymentType; fromAccount: string | null; toAccount: string | null }): string {
  const account = p.type === "deposit" ? p.toAccount : p.fromAccount;
  if (!account) throw new Error(`${p.type} without its account`);
  return account;
}

/**
 * Accepts a payment: commits it as `pending` in PostgreSQL (with its idempotency key, if any),
 * then wakes its partition. Once this returns, the payment is durable and will be settled; a
 * failed wake-up is left to the sweeper. A replayed key returns the original response and wakes nothing.
 */
export async function acceptPayment(
  deps: AcceptDeps,
  request: PaymentRequest,
  context: { requestId?: string; idempotency?: IdempotencyKey } = {},
): Promise<IdempotentResult<PaymentView>> {
  const partition = partitionFor(debitAccountOf(request), deps.partitions);
  const response = await runIdempotent<PaymentView>(deps.pool, context.idempotency, async (db) => {
    const row = { id: uuidv7(), partition, ...request, requestId: context.requestId ?? null };
    // A keyed request inserts inside its idempotency transaction; the others may share a commit.
    const payment = deps.batcher && !context.idempotency ? await deps.batcher.insert(row) : await insertPayment(db, row);
    return payment;
  });
  if (!response.replayed) await deps.waker.wake(partition);
  return response;
}
