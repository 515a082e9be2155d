import { createHash } from "node:crypto";
import type { Pool, PoolClient } from "pg";
import { asUnavailable, withTransaction } from "./db/pool";
import { DomainError } from "./errors";
import { IDEMPOTENCY_KEY_PATTERN } from "./schemas";

/** An Idempotency-Key with what identifies the request it was first used for. */
export interface IdempotencyKey {
  /** The client the key belongs to (its API key); keys of different clients never meet. */
  scope: string;
  /** The endpoint of the request (`account`, `transfer`, `deposit`, `withdrawal`, `webhook-endpoint`): a key used on one is refused on the others. */
  endpoint: string;
  key: string;
  requestHash: string;
}

/**
 * What an idempotent request produced: its body, stored with its key and replayed to a repeat.
 * The HTTP status is not the domain's: the API answers each endpoint's own.
 */
export interface IdempotentResult<B> {
  body: B;
  /** The body is the stored one of an earlier request with the same key. */
  replayed: boolean;
}

/** Validates an Idempotency-Key header value (1..255 printable ASCII characters). */
export function parseIdempotencyKey(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !IDEMPOTENCY_KEY_PATTERN.test(value)) {
    throw new DomainError("invalid_request", "Idempotency-Key: must be 1 to 255 printable ASCII characters", [
      { path: "Idempotency-Key", message: "must be 1 to 255 printable ASCII characters" },
    ]);
  }
  return value;
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/** sha256 of the request body with object keys sorted: the same JSON in another key order is the same request. */
export function hashRequest(body: unknown): string {
  return createHash("sha256")
    .update(JSON.stringify(canonical(body ?? null)))
    .digest("hex");
}

// How a conflict names the endpoint a key was first used on; a batch item counts as its type's.
const ENDPOINT_ROUTES: Record<string, string> = {
  account: "POST /api/v1/accounts",
  transfer: "POST /api/v1/payments",
  deposit: "POST /api/v1/deposits",
  withdrawal: "POST /api/v1/withdrawals",
  "webhook-endpoint": "POST /api/v1/webhook-endpoints",
};

/**
 * Why a request with `key` may not take what `stored` holds: the key was first used on another
 * endpoint, or with another body. Undefined when the request is the same one (a replay). `name`
 * is how the key was sent: the header, or a batch item's `idempotency_key`.
 */
export function idempotencyConflict(stored: { endpoint: string; requestHash: string }, key: IdempotencyKey, name = "Idempotency-Key"): DomainError | undefined {
  if (stored.endpoint !== key.endpoint) {
    return new DomainError("idempotency_conflict", `${name} was first used on another endpoint (${ENDPOINT_ROUTES[stored.endpoint] ?? stored.endpoint})`);
  }
  if (stored.requestHash !== key.requestHash) return new DomainError("idempotency_conflict", `${name} was already used with a different request body`);
  return undefined;
}

// A key lives in its client's scope. Migration 0005 left the rows of a key that one client had
// used on several endpoints under the old scope '<scope>:<endpoint>' (all but the oldest): the
// look-up probes that one too, preferring the row of this endpoint, so their retries still replay.
const FIND_KEY = `
  SELECT endpoint, request_hash, response FROM idempotency_keys
   WHERE key = $2 AND scope IN ($1::text, $1::text || ':' || $3::text)
   ORDER BY endpoint = $3::text DESC LIMIT 1`;
// ON CONFLICT DO NOTHING waits for a concurrent holder of the same key to commit or roll back,
// so of many concurrent requests with one key exactly one stores its response.
const STORE_KEY = `
  INSERT INTO idempotency_keys (scope, key, endpoint, request_hash, response) VALUES ($1, $2, $3, $4, $5)
  ON CONFLICT (scope, key) DO NOTHING RETURNING key`;

class KeyTaken extends Error {}

/** A stored key's row as FIND_KEY reads it (`response` is jsonb, parsed by pg). */
interface StoredRow<B> {
  endpoint: string;
  request_hash: string;
  response: B;
}

function replay<B>(row: StoredRow<B>, key: IdempotencyKey): IdempotentResult<B> {
  const conflict = idempotencyConflict({ endpoint: row.endpoint, requestHash: row.request_hash }, key);
  if (conflict) throw conflict;
  return { body: row.response, replayed: true };
}

/**
 * Runs `work` once per idempotency key: its writes and the stored body commit in one
 * transaction. A repeated key with the same request gets the stored body and creates nothing;
 * on another endpoint or with a different body, 409 `idempotency_conflict`. Without a key,
 * `work` just runs.
 */
export async function runIdempotent<B>(pool: Pool, key: IdempotencyKey | undefined, work: (db: Pool | PoolClient) => Promise<B>): Promise<IdempotentResult<B>> {
  if (!key) return { body: await work(pool), replayed: false };
  const { rows: existing } = await pool.query<StoredRow<B>>(FIND_KEY, [key.scope, key.key, key.endpoint]).catch(asUnavailable);
  if (existing[0]) return replay(existing[0], key);
  try {
    return await withTransaction(pool, async (client) => {
      const body = await work(client);
      const { rows } = await client.query(STORE_KEY, [key.scope, key.key, key.endpoint, key.requestHash, JSON.stringify(body)]);
      if (!rows[0]) throw new KeyTaken();
      return { body, replayed: false };
    });
  } catch (error) {
    if (!(error instanceof KeyTaken)) return asUnavailable(error);
    const { rows } = await pool.query<StoredRow<B>>(FIND_KEY, [key.scope, key.key, key.endpoint]).catch(asUnavailable);
    // The request that holds the key committed it: it is there now.
    return replay(rows[0]!, key);
  }
}

/**
 * As `runIdempotent`, for work that must run in one transaction whether or not a key comes with it
 * (it locks a row to decide, then writes): with a key, in the transaction that stores the key;
 * without, in one of its own.
 */
export async function runIdempotentInTransaction<B>(
  pool: Pool,
  key: IdempotencyKey | undefined,
  work: (client: PoolClient) => Promise<B>,
): Promise<IdempotentResult<B>> {
  if (!key) return { body: await withTransaction(pool, work).catch(asUnavailable), replayed: false };
  // With a key, runIdempotent hands `work` the client of its transaction.
  return runIdempotent(pool, key, (db) => work(db as PoolClient));
}

/** A stored key: the endpoint and request it was first used for, and the response. */
export interface StoredKey<B> {
  endpoint: string;
  requestHash: string;
  response: B;
}

/**
 * The stored key that each of `keys` finds, in their order (undefined where none), in one round
 * trip; the same look-up as `runIdempotent`'s, old-scope rows of migration 0005 included.
 */
export async function findIdempotencyKeys<B>(pool: Pool, keys: IdempotencyKey[]): Promise<(StoredKey<B> | undefined)[]> {
  const found: (StoredKey<B> | undefined)[] = keys.map(() => undefined);
  if (keys.length === 0) return found;
  const { rows } = await pool
    .query<{ i: string; endpoint: string; request_hash: string; response: B }>(
      // LATERAL, one primary-key probe per key: as a plain join the two-scope condition would
      // become a join filter over a scan of the whole table.
      `SELECT w.i, f.endpoint, f.request_hash, f.response
         FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS w(scope, key, endpoint, i)
         CROSS JOIN LATERAL (
           SELECT k.endpoint, k.request_hash, k.response FROM idempotency_keys k
            WHERE k.key = w.key AND k.scope IN (w.scope, w.scope || ':' || w.endpoint)
            ORDER BY k.endpoint = w.endpoint DESC LIMIT 1) AS f`,
      [keys.map((k) => k.scope), keys.map((k) => k.key), keys.map((k) => k.endpoint)],
    )
    .catch(asUnavailable);
  for (const r of rows) found[Number(r.i) - 1] = { endpoint: r.endpoint, requestHash: r.request_hash, response: r.response };
  return found;
}

/**
 * Stores several keys' bodies inside the caller's transaction. False when another request
 * holds one of them (the caller rolls back and replays it): ON CONFLICT DO NOTHING waits for a
 * concurrent holder to commit, as in `runIdempotent`.
 */
export async function storeIdempotencyKeys(client: PoolClient, entries: { key: IdempotencyKey; body: unknown }[]): Promise<boolean> {
  if (entries.length === 0) return true;
  const { rowCount } = await client.query(
    `INSERT INTO idempotency_keys (scope, key, endpoint, request_hash, response)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[])
     ON CONFLICT (scope, key) DO NOTHING`,
    [
      entries.map((e) => e.key.scope),
      entries.map((e) => e.key.key),
      entries.map((e) => e.key.endpoint),
      entries.map((e) => e.key.requestHash),
      entries.map((e) => JSON.stringify(e.body)),
    ],
  );
  return rowCount === entries.length;
}
