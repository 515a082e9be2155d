// mixed: the payments its later operations act on (refunds, captures, voids, dispute steps).
// Their state is read from PostgreSQL in the background, four times a second, outside the
// measured request path (one indexed query of at most a few thousand ids, by the bench's own
// connection, whose CPU is not counted as Settle's), so that each later operation is sent to a
// payment that is ready for it: a capture to an authorization already settled as `authorized`,
// a refund or a dispute to a payment already `completed`, a resolve or a chargeback to a dispute
// already applied. Each payment is handed to one later operation at a time.
import type { Pool } from "@settle/core";

/** What a watched payment is waited for to become. */
export type Awaited = "completed" | "authorized" | "disputed";

/** A payment ready for an operation, and what is left of it to refund or capture, in cents. */
export interface Target {
  id: string;
  cents: bigint;
}

const POLL_MS = 250;
/** Payments watched at once, and ready ones kept per kind: enough for the operations that use them. */
const WATCH_MAX = 4000;
const READY_MAX = 2000;

export class PaymentTracker {
  /** Completed transfers and deposits (captured authorizations too), undisputed: refund or dispute targets. */
  readonly completed: Target[] = [];
  readonly authorized: Target[] = [];
  readonly openDisputes: Target[] = [];
  /** Partly refunded (the partial refund accepted): the next refund of each takes what is left. */
  readonly partlyRefunded: Target[] = [];
  private readonly watching = new Map<string, Awaited>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;

  constructor(
    private readonly pool: Pool,
    /** The table of operations on a payment (payment_operations; dispute_operations before refunds and authorizations existed). */
    private readonly operationsTable: string,
  ) {}

  /** Whether one more payment awaited to become `awaited` is worth watching. */
  wants(awaited: Awaited): boolean {
    return this.watching.size < WATCH_MAX && this.ready(awaited).length < READY_MAX;
  }

  watch(id: string, awaited: Awaited): void {
    if (this.watching.size < WATCH_MAX) this.watching.set(id, awaited);
  }

  start(): void {
    this.timer ??= setInterval(() => {
      this.polling ??= this.poll().finally(() => (this.polling = undefined));
    }, POLL_MS);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.polling;
  }

  private ready(awaited: Awaited): Target[] {
    return awaited === "completed" ? this.completed : awaited === "authorized" ? this.authorized : this.openDisputes;
  }

  private async poll(): Promise<void> {
    if (this.watching.size === 0) return;
    try {
      const { rows } = await this.pool.query<{ id: string; status: string; dispute_status: string; left: string; queued: boolean }>(
        `SELECT p.id, p.status, p.dispute_status, coalesce(p.amount_captured, p.amount) - p.amount_refunded AS left,
                EXISTS (SELECT 1 FROM ${this.operationsTable} o WHERE o.payment_id = p.id AND o.status = 'pending') AS queued
           FROM payments p WHERE p.id = ANY($1::uuid[])`,
        [[...this.watching.keys()]],
      );
      for (const r of rows) {
        const awaited = this.watching.get(r.id);
        if (!awaited || r.status === "pending" || r.queued) continue;
        this.watching.delete(r.id);
        const target = { id: r.id, cents: toCents(r.left) };
        if (awaited === "completed" && r.status === "completed" && r.dispute_status === "none" && target.cents > 0n) this.completed.push(target);
        else if (awaited === "authorized" && r.status === "authorized") this.authorized.push(target);
        else if (awaited === "disputed" && r.dispute_status === "open") this.openDisputes.push(target);
        // Anything else (failed, or an operation rejected) is let go.
      }
    } catch {
      // The next poll tries again (the bench's pool may be busy with the drain's count).
    }
  }
}

/** "37.05" → 3705n: money stays in integers (the database answers numeric(17,2) as such a string). */
export function toCents(amount: string): bigint {
  const [units = "0", fraction = ""] = amount.split(".");
  return BigInt(units) * 100n + BigInt((fraction + "00").slice(0, 2));
}

export function fromCents(cents: bigint): string {
  return `${cents / 100n}.${String(cents % 100n).padStart(2, "0")}`;
}

/** `percent` % of `cents` as a decimal string, at least 0.01 and short of the whole; undefined when there is no such part. */
export function partOf(cents: bigint, percent: number | undefined): string | undefined {
  if (percent === undefined || cents < 2n) return undefined;
  const part = (cents * BigInt(percent)) / 100n;
  return fromCents(part < 1n ? 1n : part >= cents ? cents - 1n : part);
}
