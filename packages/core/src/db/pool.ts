import { Pool, Client, type PoolClient, type PoolConfig } from "pg";
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

/** A pg pool whose connection attempts and statements are bounded in time. */
export function createPool(options: DatabaseOptions): Pool {
  const config: PoolConfig = {
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

/** Runs `work` in one transaction; rolls back and rethrows on any error. */
export async function withTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  // pg-pool drops its 'error' listener while a client is checked out: a server going away between
  // two statements would otherwise be an unhandled 'error' event that kills the process.
  const onError = () => (broken = true);
  client.on("error", onError);
  try {
    await client.query("BEGIN");
    const result = await work(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    broken ||= isTransientDbError(error);
    if (!broken) await client.query("ROLLBACK").catch(() => (broken = true));
    throw error;
  } finally {
    // A client whose connection failed must not go back to the pool.
    client.off("error", onError);
    client.release(broken);
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
