import type { Pool } from "../db/pool";
import { VISIBLE_EVENTS, type EventType } from "../events/events";

// The database side of webhook delivery (docs/ARCHITECTURE.md "Events and webhooks"). PostgreSQL
// holds what each endpoint has been sent, so a worker killed mid-send, or a Redis that lost its
// jobs, only delays a delivery; the webhook queue's jobs say "endpoint e has work".
//
//   feed     each endpoint reads the event feed after its own cursor: a worker claims the
//            endpoint (`claimed_by`, `claimed_until`), sends the next events of its types, and
//            records the attempts and the new cursor in one statement, while it still holds the
//            claim. Nothing is written per event until it has been sent: one attempt row.
//   retries  an event whose first attempt failed gets a `webhook_deliveries` row, retried with
//            backoff (claimed per delivery with `locked_until`) until delivered or given up.

/** An event ready to send: its body is the event as GET /events shows it. */
export interface OutgoingEvent {
  id: string;
  type: EventType;
  createdAt: Date;
  /** The request body, built from the stored JSON without parsing it. */
  body: string;
}

/** Where to send, and the secrets to sign with (the current one, and the previous one during a rotation). */
export interface EndpointTarget {
  endpointId: string;
  url: string;
  secrets: string[];
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

/** One attempt's outcome, as recorded. */
export interface AttemptOutcome {
  event: OutgoingEvent;
  attempt: number;
  ok: boolean;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  attemptedAt: Date;
}

/** What recording a round did, for the metrics. */
export interface RecordResult {
  delivered: number;
  retrying: number;
  failed: number;
  /** This round disabled the endpoint. */
  disabled: boolean;
}

const bodyOf = (row: { id: string; type: string; created_at: Date; data: string }): string =>
  `{"id":${JSON.stringify(row.id)},"type":${JSON.stringify(row.type)},"created_at":${JSON.stringify(row.created_at.toISOString())},"data":${row.data}}`;

/**
 * Endpoints with work a worker could take now: enabled, not claimed, with events after their
 * cursor (of any type: reading moves the cursor past the others), or with a retry due.
 */
export async function endpointsWithWork(pool: Pool, limit = 1000): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>({
    name: "webhook-endpoints-with-work",
    text: `
      SELECT ep.id FROM webhook_endpoints ep
       WHERE ep.status = 'enabled' AND (ep.claimed_until IS NULL OR ep.claimed_until <= now())
         AND EXISTS (SELECT 1 FROM events e WHERE (e.xid, e.seq) > (ep.after_xid, ep.after_seq) AND e.${VISIBLE_EVENTS})
      UNION
      SELECT d.endpoint_id FROM webhook_deliveries d JOIN webhook_endpoints ep ON ep.id = d.endpoint_id AND ep.status = 'enabled'
       WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND (d.locked_until IS NULL OR d.locked_until <= now())
      LIMIT $1`,
    values: [limit],
  });
  return rows.map((r) => r.id);
}

/** An endpoint claimed for reading its feed. */
export interface FeedClaim extends EndpointTarget {
  token: string;
  events: (EventType | "*")[];
  cursor: { xid: string; seq: string };
}

/**
 * Claims an enabled endpoint's feed for `lockMs` under `token`, unless another worker holds it.
 * The claim is renewed by each round's record and given back by `releaseFeed`.
 */
export async function claimFeed(pool: Pool, endpointId: string, token: string, lockMs: number): Promise<FeedClaim | null> {
  const { rows } = await pool.query<{
    url: string;
    secret: string;
    previous_secret: string | null;
    events: (EventType | "*")[];
    after_xid: string;
    after_seq: string;
  }>({
    name: "webhook-claim-feed",
    text: `
      UPDATE webhook_endpoints SET claimed_by = $2, claimed_until = now() + make_interval(secs => $3::double precision / 1000)
       WHERE id = $1 AND status = 'enabled' AND (claimed_until IS NULL OR claimed_until <= now())
      RETURNING url, secret, CASE WHEN previous_secret_expires_at > now() THEN previous_secret END AS previous_secret,
                events, after_xid::text AS after_xid, after_seq`,
    values: [endpointId, token, lockMs],
  });
  const r = rows[0];
  if (!r) return null;
  return {
    endpointId,
    token,
    url: r.url,
    secrets: r.previous_secret ? [r.secret, r.previous_secret] : [r.secret],
    events: r.events,
    cursor: { xid: r.after_xid, seq: String(r.after_seq) },
  };
}

/**
 * The next `limit` events of the claim's types after its cursor, and where the cursor goes once
 * they are sent: past the last of them, or, when there were fewer, to the last visible event of
 * any type (read in the same snapshot, so no event can fall between).
 */
export async function readFeed(pool: Pool, claim: FeedClaim, limit: number): Promise<{ events: OutgoingEvent[]; next: { xid: string; seq: string } }> {
  const types = claim.events.includes("*") ? null : claim.events;
  const { rows } = await pool.query<{
    head_xid: string | null;
    head_seq: string | null;
    id: string | null;
    type: EventType;
    created_at: Date;
    data: string;
    xid: string;
    seq: string;
  }>({
    name: "webhook-read-feed",
    text: `
      WITH page AS (
        SELECT id, type, created_at, data::text AS data, xid, seq FROM events
         WHERE (xid, seq) > ($1::xid8, $2::bigint) AND ${VISIBLE_EVENTS} AND ($3::text[] IS NULL OR type = ANY($3::text[]))
         ORDER BY xid, seq LIMIT $4
      ), head AS (
        SELECT xid, seq FROM events WHERE ${VISIBLE_EVENTS} ORDER BY xid DESC, seq DESC LIMIT 1
      )
      SELECT h.xid::text AS head_xid, h.seq AS head_seq, p.id, p.type, p.created_at, p.data, p.xid::text AS xid, p.seq
        FROM (SELECT 1) one LEFT JOIN head h ON true LEFT JOIN page p ON true
       ORDER BY p.xid, p.seq`,
    values: [claim.cursor.xid, claim.cursor.seq, types, limit],
  });
  const page = rows.filter((r) => r.id !== null);
  const events = page.map((r) => ({ id: r.id!, type: r.type, createdAt: r.created_at, body: bodyOf({ ...r, id: r.id! }) }));
  const last = page[page.length - 1];
  const head = rows[0]?.head_xid ? { xid: rows[0].head_xid, seq: String(rows[0].head_seq) } : claim.cursor;
  return { events, next: page.length === limit && last ? { xid: last.xid, seq: String(last.seq) } : head };
}

/**
 * The delay before attempt `attempt + 1`: exponential, capped, with jitter (a random half to all
 * of it), so the deliveries of one outage do not all come back at once.
 */
export function retryDelayMs(policy: Pick<RetryPolicy, "baseDelayMs" | "maxDelayMs">, attempt: number, random: () => number = Math.random): number {
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(exponential * (0.5 + random() / 2));
}

/** A round's outcomes judged: each one's next attempt (or none), its status, the counts, the endpoint's run. */
function judge(outcomes: AttemptOutcome[], policy: RetryPolicy) {
  const nextAt = outcomes.map((o) => (o.ok ? null : nextAttemptAt(o, policy)));
  const statuses = outcomes.map((o, i): "delivered" | "pending" | "failed" => (o.ok ? "delivered" : nextAt[i] ? "pending" : "failed"));
  return { nextAt, statuses, result: countStatuses(statuses), run: failureRun(statuses) };
}

function countStatuses(statuses: ("delivered" | "pending" | "failed")[]): RecordResult {
  const result: RecordResult = { delivered: 0, retrying: 0, failed: 0, disabled: false };
  for (const s of statuses) result[s === "pending" ? "retrying" : s]++;
  return result;
}

/** When the next attempt is due, or null when the retry window is spent (the delivery fails for good). */
function nextAttemptAt(o: AttemptOutcome, policy: RetryPolicy): Date | null {
  const next = new Date(o.attemptedAt.getTime() + o.durationMs + retryDelayMs(policy, o.attempt));
  return next.getTime() - o.event.createdAt.getTime() > policy.retryForMs ? null : next;
}

const attemptColumns = (outcomes: AttemptOutcome[], nextAt: (Date | null)[]) => [
  outcomes.map((o) => o.event.id),
  outcomes.map((o) => o.attempt),
  outcomes.map((o) => o.statusCode),
  outcomes.map((o) => o.error),
  outcomes.map((o) => Math.round(o.durationMs)),
  outcomes.map((o) => o.attemptedAt.toISOString()),
  nextAt.map((d) => d?.toISOString() ?? null),
];

/**
 * The endpoint's run of deliveries failed for good, as a round changes it: a delivered one
 * restarts it from the failures after the last success of the round; otherwise the round's
 * failures extend it.
 */
function failureRun(statuses: ("delivered" | "pending" | "failed")[]): { restarted: boolean; failures: number } {
  let failures = 0;
  for (const s of statuses) failures = s === "delivered" ? 0 : s === "failed" ? failures + 1 : failures;
  return { restarted: statuses.includes("delivered"), failures };
}

// $n: restarted (boolean), $n+1: failures, $n+2: the policy's limit.
const updateRun = (n: number) => `
  failed_in_a_row = CASE WHEN $${n}::boolean THEN $${n + 1}::int ELSE failed_in_a_row + $${n + 1}::int END,
  status = CASE WHEN (CASE WHEN $${n}::boolean THEN $${n + 1}::int ELSE failed_in_a_row + $${n + 1}::int END) >= $${n + 2}::int THEN 'disabled' ELSE status END`;

const INSERT_ATTEMPTS = `
  INSERT INTO webhook_attempts (endpoint_id, event_id, attempt, status_code, error, duration_ms, attempted_at, next_retry_at)
  SELECT $1, v.event_id, v.attempt, v.status_code, v.error, v.duration_ms, v.attempted_at, v.next_at
    FROM unnest($3::uuid[], $4::int[], $5::int[], $6::text[], $7::int[], $8::timestamptz[], $9::timestamptz[])
         AS v(event_id, attempt, status_code, error, duration_ms, attempted_at, next_at)`;

/**
 * Records a round of first attempts from the feed, only while `claim` still holds the endpoint:
 * the attempts, a retry row for each failed one, the cursor moved to `next`, the claim renewed
 * for `lockMs`. A worker whose claim lapsed records nothing (the next reader sends those events
 * again). Returns false then.
 */
export async function recordFeedRound(
  pool: Pool,
  claim: FeedClaim,
  outcomes: AttemptOutcome[],
  next: { xid: string; seq: string },
  policy: RetryPolicy,
  lockMs: number,
): Promise<{ recorded: boolean; result: RecordResult }> {
  const { nextAt, statuses, result, run } = judge(outcomes, policy);
  const { rows } = await pool.query<{ status: string }>({
    name: "webhook-record-feed",
    text: `
      WITH mine AS (
        UPDATE webhook_endpoints
           SET after_xid = $10::xid8, after_seq = $11, claimed_until = now() + make_interval(secs => $12::double precision / 1000),
               ${updateRun(14)}
         WHERE id = $1 AND claimed_by = $2
        RETURNING status
      ), attempts AS (
        ${INSERT_ATTEMPTS} WHERE EXISTS (SELECT 1 FROM mine)
      ), retries AS (
        INSERT INTO webhook_deliveries (id, endpoint_id, event_id, attempts, next_attempt_at, status, finished_at)
        SELECT gen_random_uuid(), $1, v.event_id, 1, coalesce(v.next_at, now()), v.status, CASE WHEN v.status = 'failed' THEN now() END
          FROM unnest($3::uuid[], $9::timestamptz[], $13::text[]) AS v(event_id, next_at, status)
         WHERE v.status <> 'delivered' AND EXISTS (SELECT 1 FROM mine)
        ON CONFLICT (endpoint_id, event_id) DO NOTHING
      )
      SELECT status FROM mine`,
    values: [
      claim.endpointId,
      claim.token,
      ...attemptColumns(outcomes, nextAt),
      next.xid,
      next.seq,
      lockMs,
      statuses,
      run.restarted,
      run.failures,
      policy.disableAfterFailedDeliveries,
    ],
  });
  result.disabled = rows[0]?.status === "disabled" && result.failed > 0;
  const recorded = rows.length > 0;
  if (recorded) claim.cursor = next;
  return { recorded, result };
}

/** Gives the endpoint's feed back (its next reader may be any worker). */
export async function releaseFeed(pool: Pool, claim: FeedClaim): Promise<void> {
  await pool.query("UPDATE webhook_endpoints SET claimed_by = NULL, claimed_until = NULL WHERE id = $1 AND claimed_by = $2", [claim.endpointId, claim.token]);
}

/** A retry claimed for one attempt. */
export interface ClaimedRetry {
  id: string;
  attempt: number;
  event: OutgoingEvent;
}

/**
 * Claims up to `limit` retries of an enabled endpoint that are due, for one attempt each: locked
 * for `lockMs` (longer than an attempt can take), so no other worker sends them meanwhile, and a
 * worker killed mid-attempt leaves them to be claimed again once the lock lapses.
 */
export async function claimDueRetries(
  pool: Pool,
  endpointId: string,
  limit: number,
  lockMs: number,
): Promise<{ target: EndpointTarget | null; retries: ClaimedRetry[] }> {
  const { rows } = await pool.query<{
    id: string;
    attempts: number;
    url: string;
    secret: string;
    previous_secret: string | null;
    event_id: string;
    type: EventType;
    created_at: Date;
    data: string;
  }>({
    name: "webhook-claim-retries",
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
        RETURNING d.id, d.attempts, d.event_id, d.endpoint_id
      )
      SELECT c.id, c.attempts, ep.url, ep.secret,
             CASE WHEN ep.previous_secret_expires_at > now() THEN ep.previous_secret END AS previous_secret,
             e.id AS event_id, e.type, e.created_at, e.data::text AS data
        FROM claimed c JOIN webhook_endpoints ep ON ep.id = c.endpoint_id JOIN events e ON e.id = c.event_id
       ORDER BY e.xid, e.seq`,
    values: [endpointId, limit, lockMs],
  });
  const first = rows[0];
  return {
    target: first ? { endpointId, url: first.url, secrets: first.previous_secret ? [first.secret, first.previous_secret] : [first.secret] } : null,
    retries: rows.map((r) => ({
      id: r.id,
      attempt: r.attempts,
      event: { id: r.event_id, type: r.type, createdAt: r.created_at, body: bodyOf({ id: r.event_id, type: r.type, created_at: r.created_at, data: r.data }) },
    })),
  };
}

/**
 * Records a round of retries on one endpoint: each attempt, each delivery's new state (delivered;
 * pending with its next attempt; failed once the retry window is spent), and the endpoint's run
 * of deliveries failed for good, disabling it when the run reaches the policy's limit.
 */
export async function recordRetries(
  pool: Pool,
  endpointId: string,
  retries: ClaimedRetry[],
  outcomes: AttemptOutcome[],
  policy: RetryPolicy,
): Promise<RecordResult> {
  if (outcomes.length === 0) return { delivered: 0, retrying: 0, failed: 0, disabled: false };
  const { nextAt, statuses, result, run } = judge(outcomes, policy);
  const { rows } = await pool.query<{ status: string }>({
    name: "webhook-record-retries",
    text: `
      WITH attempts AS (
        ${INSERT_ATTEMPTS}
      ), deliveries AS (
        UPDATE webhook_deliveries d
           SET status = v.status, next_attempt_at = coalesce(v.next_at, d.next_attempt_at), locked_until = NULL,
               finished_at = CASE WHEN v.status = 'pending' THEN NULL ELSE now() END
          FROM unnest($2::uuid[], $10::text[], $9::timestamptz[]) AS v(id, status, next_at)
         WHERE d.id = v.id AND d.status = 'pending'
      )
      UPDATE webhook_endpoints SET ${updateRun(11)}
       WHERE id = $1
      RETURNING status`,
    values: [
      endpointId,
      retries.map((r) => r.id),
      ...attemptColumns(outcomes, nextAt),
      statuses,
      run.restarted,
      run.failures,
      policy.disableAfterFailedDeliveries,
    ],
  });
  result.disabled = rows[0]?.status === "disabled" && result.failed > 0;
  return result;
}

/** Backlog figures for the metrics: deliveries waiting to retry, and the oldest undelivered event's age. */
export async function deliveryBacklog(pool: Pool): Promise<{ retrying: number; oldestUndeliveredSeconds: number }> {
  const { rows } = await pool.query<{ retrying: string; oldest: number | null }>(
    `SELECT (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending') AS retrying,
            extract(epoch FROM now() - least(
              (SELECT min(e.created_at) FROM webhook_deliveries d JOIN events e ON e.id = d.event_id WHERE d.status = 'pending'),
              (SELECT min(e.created_at) FROM webhook_endpoints ep CROSS JOIN LATERAL (
                 SELECT created_at FROM events e WHERE (e.xid, e.seq) > (ep.after_xid, ep.after_seq) ORDER BY e.xid, e.seq LIMIT 1) e
                WHERE ep.status = 'enabled')))::float8 AS oldest`,
  );
  return { retrying: Number(rows[0]!.retrying), oldestUndeliveredSeconds: rows[0]!.oldest ?? 0 };
}
