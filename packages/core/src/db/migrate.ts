import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { Client } from "pg";
import { ensureDatabase } from "./pool";

/** Where the numbered SQL migrations live: infra/migrations at the repository root. */
export const DEFAULT_MIGRATIONS_DIR = path.resolve(__dirname, "../../../../infra/migrations");

// One key for every Settle process: concurrent starters queue here instead of racing.
const MIGRATION_LOCK_KEY = 0x5e771e;

export interface MigrationResult {
  applied: string[];
  alreadyApplied: string[];
}

/**
 * Creates the database if missing and applies `NNNN_name.sql` files in order, each in its own
 * transaction, under an advisory lock, recording each in `schema_migrations` with a checksum.
 */
export async function migrate(databaseUrl: string, migrationsDir: string = DEFAULT_MIGRATIONS_DIR): Promise<MigrationResult> {
  await ensureDatabase(databaseUrl);
  const files = (await readdir(migrationsDir)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
  const client = new Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  const result: MigrationResult = { applied: [], alreadyApplied: [] };
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ name: string; checksum: string }>("SELECT name, checksum FROM schema_migrations");
    const done = new Map(rows.map((r) => [r.name, r.checksum]));
    for (const file of files) {
      const sql = await readFile(path.join(migrationsDir, file), "utf8");
      const checksum = createHash("sha256").update(sql).digest("hex");
      const recorded = done.get(file);
      if (recorded !== undefined) {
        // Migrations are append-only: an edited one would leave databases that differ silently.
        if (recorded !== checksum) throw new Error(`migration ${file} was changed after it was applied; add a new migration instead`);
        result.alreadyApplied.push(file);
        continue;
      }
      await client.query("BEGIN");
      try {
        await client.query(sql);
        await client.query("INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)", [file, checksum]);
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK");
        throw new Error(`migration ${file} failed: ${(error as Error).message}`, { cause: error });
      }
      result.applied.push(file);
    }
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await client.end();
  }
  return result;
}

/** Refuses to run against a database that lacks a migration this code needs ("run pnpm migrate"). */
export async function assertMigrated(pool: { query: Client["query"] }, migrationsDir: string = DEFAULT_MIGRATIONS_DIR): Promise<void> {
  const files = (await readdir(migrationsDir)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f));
  const applied = await pool
    .query<{ name: string }>("SELECT name FROM schema_migrations")
    .then((r) => new Set(r.rows.map((row) => row.name)))
    .catch(() => new Set<string>());
  const missing = files.filter((f) => !applied.has(f)).sort();
  if (missing.length) throw new Error(`the database lacks migrations ${missing.join(", ")}; run \`pnpm migrate\` first`);
}
