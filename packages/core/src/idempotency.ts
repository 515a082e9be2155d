import { createHash } from "node:crypto";
import type { Pool, PoolClient } from "pg";
import { asUnavailable, withTransaction } from "./db/pool";
import { DomainError } from "./errors";
import { IDEMPOTENCY_KEY_PATTERN } from "./schemas";

/** An Idempotency-Key with what identifies the request it was first used for. */
export interface IdempotencyKey {
  /** The endpoint and the client the key belongs to; keys of different scopes never meet. */
  scope: string;
  key: string;
  requestHash: string;
}

export interface StoredResponse<B = unknown> {
  status: number;
  body: B;
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
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]));
  }
  return value;
}

/** sha256 of the request body with object keys sorted: the same JSON in another key order is the same request. */
export function hashRequest(body: unknown): string {
  return createHash("sha256").update(JSON.stringify(canonical(body ?? null))).digest("hex");
}

const FIND_KEY = "SELECT request_hash, status_code, response FROM idempotency_keys WHERE scope = $1 AND key = $2";
// ON CONFLICT DO NOTHING waits for a concurrent holder of the same key to commit or roll back,
// so of many concurrent requests with one key exactly one stores its response.
const STORE_KEY = `
  INSERT INTO idempotency_keys (scope, key, request_hash, status_code, response) VALUES ($1, $2, $3, $4, $5)
  ON CONFLICT (scope, key) DO NOTHING RETURNING key`;

class KeyTaken extends Error {}

function replay<B>(row: { request_hash: string; status_code: number; response: B }, key: IdempotencyKey): StoredResponse<B> & { replayed: true } {
  if (row.request_hash !== key.requestHash) {
    throw new DomainError("idempotency_conflict", "Idempotency-Key was already used with a different request body");
  }
  return { status: row.status_code, body: row.response, replayed: true };
}

/**
 * Runs `work` once per idempotency key: its writes and the stored response commit in one
 * transaction. A repeated key with the same request gets the stored response and creates
 * nothing; with a different request, 409 `idempotency_conflict`. Without a key, `work` just runs.
 */
export async function runIdempotent<B>(
  pool: Pool,
  key: IdempotencyKey | undefined,
  work: (db: Pool | PoolClient) => Promise<StoredResponse<B>>,
): Promise<StoredResponse<B> & { replayed: boolean }> {
  if (!key) return { ...(await work(pool)), replayed: false };
  const { rows: existing } = await pool.query(FIND_KEY, [key.scope, key.key]).catch(asUnavailable);
  if (existing[0]) return replay(existing[0], key);
  try {
    return await withTransaction(pool, async (client) => {
      const response = await work(client);
      const { rows } = await client.query(STORE_KEY, [key.scope, key.key, key.requestHash, response.status, JSON.stringify(response.body)]);
      if (!rows[0]) throw new KeyTaken();
      return { ...response, replayed: false };
    });
  } catch (error) {
    if (!(error instanceof KeyTaken)) return asUnavailable(error);
    const { rows } = await pool.query(FIND_KEY, [key.scope, key.key]).catch(asUnavailable);
    return replay(rows[0], key);
  }
}

/** Deletes keys older than `olderThanHours` (docs/API.md keeps them at least 24 hours). */
export async function purgeIdempotencyKeys(pool: Pool, olderThanHours: number, batch = 10_000): Promise<number> {
  const { rowCount } = await pool.query(
    `DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY(
       SELECT ctid FROM idempotency_keys WHERE created_at < now() - make_interval(hours => $1) LIMIT $2))`,
    [olderThanHours, batch],
  );
  return rowCount ?? 0;
}

/** Stored responses of several keys, by `scope + "\0" + key` (one round trip). */
export async function findIdempotencyKeys<B>(pool: Pool, keys: IdempotencyKey[]): Promise<Map<string, { requestHash: string; response: B }>> {
  if (keys.length === 0) return new Map();
  const { rows } = await pool
    .query(
      `SELECT k.scope, k.key, k.request_hash, k.response
         FROM idempotency_keys k JOIN unnest($1::text[], $2::text[]) AS wanted(scope, key) USING (scope, key)`,
      [keys.map((k) => k.scope), keys.map((k) => k.key)],
    )
    .catch(asUnavailable);
  return new Map(rows.map((r) => [`${r.scope}\0${r.key}`, { requestHash: String(r.request_hash), response: r.response as B }]));
}

/**
 * Stores several keys' responses inside the caller's transaction. False when another request
 * holds one of them (the caller rolls back and replays it): ON CONFLICT DO NOTHING waits for a
 * concurrent holder to commit, as in `runIdempotent`.
 */
export async function storeIdempotencyKeys(client: PoolClient, entries: { key: IdempotencyKey; response: StoredResponse }[]): Promise<boolean> {
  if (entries.length === 0) return true;
  const { rowCount } = await client.query(
    `INSERT INTO idempotency_keys (scope, key, request_hash, status_code, response)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::jsonb[])
     ON CONFLICT (scope, key) DO NOTHING`,
    [
      entries.map((e) => e.key.scope),
      entries.map((e) => e.key.key),
      entries.map((e) => e.key.requestHash),
      entries.map((e) => e.response.status),
      entries.map((e) => JSON.stringify(e.response.body)),
    ],
  );
  return rowCount === entries.length;
}
