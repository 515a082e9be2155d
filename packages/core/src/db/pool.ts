import { Pool, Client, type PoolClient, type PoolConfig, type QueryConfig, type QueryResult, type QueryResultRow } from "pg";
import { UnavailableError } from "../errors";

export type { Pool, PoolClient };

export interface DatabaseOptions {
  /** PostgreSQL connection string. */
  url: string;
  /** Connections kept by this process. @defaultValue 10 */
  max?: number;
  /** How long a request waits for a connection before the service counts as down. @defaultValue 3000 */
  connectionTimeoutMs?: number;
  /** Upper bound for one statement, so a stuck query cannot hold a request forever. @defaultValue 15000 */
  statementTimeoutMs?: number;
  /** `application_name`, shown in pg_stat_activity. */
  applicationName?: string;
}

/**
 * A pg pool whose connection attempts and statements are bounded in time. Its clients pipeline: a
 * statement is written at once, without waiting for the answer to the one before it, so that
 * `withTransaction` sends its BEGIN with the first statement and its COMMIT with the last.
 * PostgreSQL still runs a connection's statements one after another, in the order written.
 */
export function createPool(options: DatabaseOptions): Pool {
  const config: PoolConfig = {
    pipeline: true,
    connectionString: options.url,
    max: options.max ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 3000,
    idleTimeoutMillis: 30_000,
    statement_timeout: options.statementTimeoutMs ?? 15_000,
    application_name: options.applicationName ?? "settle",
    keepAlive: true,
  };
  const pool = new Pool(config);
  // An idle client whose server went away emits 'error' on the pool; without a listener the process dies.
  pool.on("error", () => undefined);
  return pool;
}

const TRANSIENT_SQLSTATES = new Set([
  "40001", // serialization_failure
  "40P01", // deadlock_detected
  "55P03", // lock_not_available
  "57014", // query_canceled: statement_timeout, typically waiting on a lock
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "08000",
  "08003",
  "08006",
  "08001",
  "08004",
  "53300", // too_many_connections
]);

/** True for a failure that a retry may cure: lost connection, deadlock, server restarting. */
export function isTransientDbError(error: unknown): boolean {
  // Duck-typed, not instanceof: errors from node's net layer may come from another realm (jest, vm).
  if (typeof error !== "object" || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === "string" && TRANSIENT_SQLSTATES.has(code)) return true;
  if (typeof code === "string" && ["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN"].includes(code)) return true;
  return (
    typeof message === "string" &&
    /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|not queryable/i.test(message)
  );
}

/** Maps a connection-level failure to 503 `unavailable`; anything else is rethrown unchanged. */
export function asUnavailable(error: unknown): never {
  if (isTransientDbError(error) && !(error instanceof UnavailableError)) throw new UnavailableError("postgres", error);
  throw error;
}

/** How `work` may end its transaction: its last statement and the COMMIT in one round trip. */
export interface TransactionEnd {
  /**
   * Writes `last` and the COMMIT together, and resolves with `last`'s result once both are done. If
   * `last` fails, PostgreSQL ends the aborted transaction with that COMMIT (as a ROLLBACK) and its
   * error is thrown. Either way the transaction is over: `work` sends nothing after it.
   */
  commitWith<R extends QueryResultRow = QueryResultRow>(last: QueryConfig): Promise<QueryResult<R>>;
}

export interface TransactionOptions {
  /**
   * Run the transaction's prepared (named) statements with their generic plan: planned once per
   * connection instead of at every run. PostgreSQL otherwise keeps planning a statement for each
   * set of values when it cannot tell that the values do not matter, as with arrays it unnests
   * (it guesses 100 elements for the generic plan), and planning the settle round's write cost it
   * more than running it. Only for statements whose best plan does not depend on their values.
   */
  genericPlans?: boolean;
}

/**
 * Runs `work` in one transaction; rolls back and rethrows on any error. The BEGIN is written with
 * `work`'s first statement, and `end.commitWith` writes the last one with the COMMIT, so a
 * transaction of two statements is two round trips, not four (the pool's clients pipeline).
 */
export async function withTransaction<T>(
  pool: Pool,
  work: (client: PoolClient, end: TransactionEnd) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  let ended = false;
  // pg-pool drops its 'error' listener while a client is checked out: a server going away between
  // two statements would otherwise be an unhandled 'error' event that kills the process.
  const onError = () => (broken = true);
  client.on("error", onError);
  const end: TransactionEnd = {
    async commitWith<R extends QueryResultRow>(last: QueryConfig): Promise<QueryResult<R>> {
      if (ended) throw new Error("withTransaction: the transaction has already ended");
      ended = true;
      const [statement, commit] = await Promise.allSettled(together(client, () => [client.query<R>(last), client.query("COMMIT")] as const));
      if (statement.status === "rejected") throw statement.reason;
      if (commit.status === "rejected") throw commit.reason;
      return statement.value;
    },
  };
  try {
    // Both settled before anything else happens: the client must never be released while `work`
    // still has a statement on it.
    const begin = options.genericPlans ? "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan" : "BEGIN";
    const [begun, worked] = await Promise.allSettled(together(client, () => [client.query(begin), work(client, end)] as const));
    if (begun.status === "rejected") throw begun.reason;
    if (worked.status === "rejected") throw worked.reason;
    if (!ended) {
      ended = true;
      await client.query("COMMIT");
    }
    return worked.value;
  } catch (error) {
    broken ||= isTransientDbError(error);
    if (!broken && !ended) await client.query("ROLLBACK").catch(() => (broken = true));
    throw error;
  } finally {
    // A client whose connection failed must not go back to the pool.
    client.off("error", onError);
    client.release(broken);
  }
}

/**
 * Runs `send` with the connection's socket corked: the statements it writes (pipelined, and
 * `work`'s first one, written before its first await) leave in one system call and reach
 * PostgreSQL together, instead of one write each.
 */
function together<T>(client: PoolClient, send: () => T): T {
  // A pool's client is a pg Client, whose connection's stream @types/pg declares.
  const socket = (client as unknown as Client).connection.stream;
  socket.cork();
  try {
    return send();
  } finally {
    socket.uncork();
  }
}

/** Creates the database named in `url` when it does not exist (the server must be reachable). */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ""));
  if (!name) throw new Error("DATABASE_URL names no database");
  const probe = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await probe.connect();
    return;
  } catch (error) {
    if ((error as { code?: string }).code !== "3D000") throw error; // 3D000: invalid_catalog_name
  } finally {
    await probe.end().catch(() => undefined);
  }
  const admin = new URL(url);
  admin.pathname = "/postgres";
  const client = new Client({ connectionString: admin.toString(), connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
  } catch (error) {
    if ((error as { code?: string }).code !== "42P04") throw error; // created meanwhile by another process
  } finally {
    await client.end();
  }
}
