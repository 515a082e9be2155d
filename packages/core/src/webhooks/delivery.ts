import type { Pool } from "../db/pool";
import { VISIBLE_EVENTS, type EventView } from "../events/events";

// The database side of webhook delivery (docs/ARCHITECTURE.md "Events and webhooks"): PostgreSQL
// holds every delivery and its next attempt, so a worker killed mid-delivery, or a Redis that lost
// its jobs, only delays one: the webhook queue's jobs say "deliver what is due for endpoint e".
//
//   dispatch   events → one delivery per subscribed endpoint, moving the dispatcher's cursor in
//              the same statement (crash-safe, never twice)
//   claim      the due deliveries of an endpoint, locked for one attempt (`locked_until`)
//   record     each attempt's outcome: delivered, retried later with backoff, or failed for good

/**
 * Turns up to `limit` new events into deliveries, one per enabled endpoint subscribed to the
 * event's type and created before it. One statement: the cursor moves with the deliveries it
 * writes. A dispatcher that finds the cursor locked leaves the work to the one holding it.
 * Returns the number of events passed and the endpoints that received deliveries.
 */
export async function dispatchEvents(pool: Pool, limit: number): Promise<{ events: number; endpoints: string[] }> {
  const { rows } = await pool.query<{ events: string; endpoints: string[] }>({
    name: "webhook-dispatch",
    text: `
      WITH cursor AS (
        SELECT after_xid, after_seq FROM webhook_dispatch FOR UPDATE SKIP LOCKED
      ), batch AS (
        SELECT e.id, e.type, e.created_at, e.xid, e.seq
          FROM events e, cursor c
         WHERE (e.xid, e.seq) > (c.after_xid, c.after_seq) AND e.${VISIBLE_EVENTS}
         ORDER BY e.xid, e.seq
         LIMIT $1
      ), deliveries AS (
        INSERT INTO webhook_deliveries (id, endpoint_id, event_id)
        SELECT gen_random_uuid(), ep.id, b.id
          FROM batch b
          JOIN webhook_endpoints ep
            ON ep.status = 'enabled' AND (b.type = ANY(ep.events) OR '*' = ANY(ep.events)) AND ep.created_at <= b.created_at
        ON CONFLICT (endpoint_id, event_id) DO NOTHING
        RETURNING endpoint_id
      ), moved AS (
        UPDATE webhook_dispatch d SET after_xid = last.xid, after_seq = last.seq
          FROM (SELECT xid, seq FROM batch ORDER BY xid DESC, seq DESC LIMIT 1) last
      )
      SELECT (SELECT count(*) FROM batch) AS events, ARRAY(SELECT DISTINCT endpoint_id FROM deliveries)::text[] AS endpoints`,
    values: [limit],
  });
  return { events: Number(rows[0]!.events), endpoints: rows[0]!.endpoints };
}

/** Endpoints with a delivery due now and not being sent: each needs a wake-up on the webhook queue. */
export async function endpointsWithDueDeliveries(pool: Pool, limit = 1000): Promise<string[]> {
  const { rows } = await pool.query<{ endpoint_id: string }>({
    name: "webhook-due-endpoints",
    text: `SELECT DISTINCT endpoint_id FROM webhook_deliveries
            WHERE status = 'pending' AND next_attempt_at <= now() AND (locked_until IS NULL OR locked_until <= now())
            LIMIT $1`,
    values: [limit],
  });
  return rows.map((r) => r.endpoint_id);
}

/** A delivery claimed for one attempt, with what sending it needs. */
export interface ClaimedDelivery {
  id: string;
  endpointId: string;
  attempt: number;
  createdAt: Date;
  url: string;
  /** The secrets to sign with: the current one, and the previous one during a rotation. */
  secrets: string[];
  event: EventView;
}

/**
 * Claims up to `limit` due deliveries of an enabled endpoint for one attempt each: they are locked
 * for `lockMs` (longer than an attempt can take), so no other worker sends them meanwhile, and a
 * worker killed mid-attempt leaves them to be claimed again once the lock lapses.
 */
export async function claimDueDeliveries(pool: Pool, endpointId: string, limit: number, lockMs: number): Promise<ClaimedDelivery[]> {
  const { rows } = await pool.query<{
    id: string;
    attempts: number;
    created_at: Date;
    url: string;
    secret: string;
    previous_secret: string | null;
    event_id: string;
    event_type: EventView["type"];
    event_created_at: Date;
    data: EventView["data"];
  }>({
    name: "webhook-claim",
    text: `
      WITH due AS (
        SELECT d.id FROM webhook_deliveries d
          JOIN webhook_endpoints ep ON ep.id = d.endpoint_id AND ep.status = 'enabled'
         WHERE d.endpoint_id = $1 AND d.status = 'pending' AND d.next_attempt_at <= now()
           AND (d.locked_until IS NULL OR d.locked_until <= now())
         ORDER BY d.next_attempt_at, d.id
         LIMIT $2
           FOR UPDATE OF d SKIP LOCKED
      ), claimed AS (
        UPDATE webhook_deliveries d
           SET locked_until = now() + make_interval(secs => $3::double precision / 1000), attempts = d.attempts + 1
          FROM due WHERE d.id = due.id
        RETURNING d.id, d.attempts, d.created_at, d.event_id, d.endpoint_id
      )
      SELECT c.id, c.attempts, c.created_at, ep.url, ep.secret,
             CASE WHEN ep.previous_secret_expires_at > now() THEN ep.previous_secret END AS previous_secret,
             e.id AS event_id, e.type AS event_type, e.created_at AS event_created_at, e.data
        FROM claimed c JOIN webhook_endpoints ep ON ep.id = c.endpoint_id JOIN events e ON e.id = c.event_id
       ORDER BY e.xid, e.seq`,
    values: [endpointId, limit, lockMs],
  });
  return rows.map((r) => ({
    id: r.id,
    endpointId,
    attempt: r.attempts,
    createdAt: r.created_at,
    url: r.url,
    secrets: r.previous_secret ? [r.secret, r.previous_secret] : [r.secret],
    event: { id: r.event_id, type: r.event_type, created_at: r.event_created_at.toISOString(), data: r.data },
  }));
}

export interface RetryPolicy {
  /** The delay before the second attempt; each later one doubles it, up to `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A delivery not delivered this long after its event is given up (WEBHOOK_RETRY_HOURS). */
  retryForMs: number;
  /** An endpoint whose deliveries fail for good this many times in a row is disabled. */
  disableAfterFailedDeliveries: number;
}

/**
 * The delay before attempt `attempt + 1`: exponential, capped, with jitter (a random half to all
 * of it), so the deliveries of one outage do not all come back at once.
 */
export function retryDelayMs(policy: Pick<RetryPolicy, "baseDelayMs" | "maxDelayMs">, attempt: number, random: () => number = Math.random): number {
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(exponential * (0.5 + random() / 2));
}

export interface AttemptOutcome {
  delivery: ClaimedDelivery;
  ok: boolean;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  attemptedAt: Date;
}

/** What recording a round of attempts did, for the metrics. */
export interface RecordResult {
  delivered: number;
  retrying: number;
  failed: number;
  /** Endpoints disabled by this round's final failures. */
  disabled: string[];
}

/**
 * Records a round of attempts on one endpoint: each attempt row, each delivery's new state
 * (delivered; pending with its next attempt; failed once the retry window is spent), and the
 * endpoint's run of failed deliveries, disabling it when the run reaches the policy's limit.
 */
export async function recordAttempts(pool: Pool, endpointId: string, outcomes: AttemptOutcome[], policy: RetryPolicy): Promise<RecordResult> {
  const result: RecordResult = { delivered: 0, retrying: 0, failed: 0, disabled: [] };
  if (outcomes.length === 0) return result;
  const rows = outcomes.map((o) => {
    let status: "delivered" | "pending" | "failed" = "delivered";
    let nextAt: Date | null = null;
    if (!o.ok) {
      nextAt = new Date(o.attemptedAt.getTime() + o.durationMs + retryDelayMs(policy, o.delivery.attempt));
      status = nextAt.getTime() - o.delivery.createdAt.getTime() > policy.retryForMs ? "failed" : "pending";
      if (status === "failed") nextAt = null;
    }
    result[status === "pending" ? "retrying" : status]++;
    return { o, status, nextAt };
  });
  // The endpoint's run of deliveries failed for good: a delivered one restarts it from the failures
  // after the last success of this round; otherwise this round's failures extend it.
  const restarted = rows.some((r) => r.status === "delivered");
  const failures = countFailedAfterLastSuccess(rows);
  const { rows: endpoint } = await pool.query<{ id: string; status: string }>({
    name: "webhook-record",
    text: `
      WITH attempts AS (
        INSERT INTO webhook_attempts (delivery_id, attempt, endpoint_id, event_id, status_code, error, duration_ms, attempted_at, next_retry_at)
        SELECT v.id, v.attempt, $1, v.event_id, v.status_code, v.error, v.duration_ms, v.attempted_at, v.next_at
          FROM unnest($2::uuid[], $3::int[], $4::uuid[], $5::int[], $6::text[], $7::int[], $8::timestamptz[], $9::timestamptz[])
               AS v(id, attempt, event_id, status_code, error, duration_ms, attempted_at, next_at)
        ON CONFLICT DO NOTHING
      ), deliveries AS (
        UPDATE webhook_deliveries d
           SET status = v.status, next_attempt_at = COALESCE(v.next_at, d.next_attempt_at), locked_until = NULL,
               finished_at = CASE WHEN v.status = 'pending' THEN NULL ELSE now() END
          FROM unnest($2::uuid[], $10::text[], $9::timestamptz[]) AS v(id, status, next_at)
         WHERE d.id = v.id AND d.status = 'pending'
      )
      UPDATE webhook_endpoints ep
         SET failed_in_a_row = CASE WHEN $11::boolean THEN $12::int ELSE ep.failed_in_a_row + $12::int END,
             status = CASE WHEN (CASE WHEN $11::boolean THEN $12::int ELSE ep.failed_in_a_row + $12::int END) >= $13::int THEN 'disabled' ELSE ep.status END
       WHERE ep.id = $1
      RETURNING ep.id, ep.status`,
    values: [
      endpointId,
      rows.map((r) => r.o.delivery.id),
      rows.map((r) => r.o.delivery.attempt),
      rows.map((r) => r.o.delivery.event.id),
      rows.map((r) => r.o.statusCode),
      rows.map((r) => r.o.error),
      rows.map((r) => Math.round(r.o.durationMs)),
      rows.map((r) => r.o.attemptedAt.toISOString()),
      rows.map((r) => r.nextAt?.toISOString() ?? null),
      rows.map((r) => r.status),
      restarted,
      failures,
      policy.disableAfterFailedDeliveries,
    ],
  });
  if (endpoint[0]?.status === "disabled" && rows.some((r) => r.status === "failed")) result.disabled.push(endpointId);
  return result;
}

/** Deliveries failed for good after the last delivered one (all of them when none was delivered). */
function countFailedAfterLastSuccess(rows: { status: string }[]): number {
  let n = 0;
  for (const r of rows) n = r.status === "delivered" ? 0 : r.status === "failed" ? n + 1 : n;
  return n;
}

/** Backlog figures for the metrics: deliveries waiting to retry, and the oldest undelivered event's age. */
export async function deliveryBacklog(pool: Pool): Promise<{ retrying: number; oldestUndeliveredSeconds: number }> {
  const { rows } = await pool.query<{ retrying: string; oldest: number | null }>(
    `SELECT count(*) FILTER (WHERE attempts > 0) AS retrying, extract(epoch FROM now() - min(created_at))::float8 AS oldest
       FROM webhook_deliveries WHERE status = 'pending'`,
  );
  return { retrying: Number(rows[0]!.retrying), oldestUndeliveredSeconds: rows[0]!.oldest ?? 0 };
}
