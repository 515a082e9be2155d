import { createPool, migrate, verifyLedger, type Pool } from "@settle/core";

/** The URL of database `name` on the server of `baseUrl`. */
export function databaseUrl(baseUrl: string, name: string): string {
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Drops (forcing out stale sessions of an earlier, interrupted run) and recreates a bench database. */
export async function recreateDatabase(baseUrl: string, name: string, options: { migrate: boolean }): Promise<string> {
  if (!/^settle_bench[a-z_]*$/.test(name)) throw new Error(`refusing to drop ${name}: bench databases are named settle_bench*`);
  const admin = createPool({ url: databaseUrl(baseUrl, "postgres"), max: 1, applicationName: "settle-bench" });
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = databaseUrl(baseUrl, name);
  if (options.migrate) await migrate(url);
  return url;
}

export async function dropDatabase(baseUrl: string, name: string): Promise<void> {
  if (!/^settle_bench[a-z_]*$/.test(name)) return;
  const admin = createPool({ url: databaseUrl(baseUrl, "postgres"), max: 1, applicationName: "settle-bench" });
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

export interface InvariantResult {
  name: string;
  ok: boolean;
  detail: string;
}

/**
 * The ledger's invariants (docs/ARCHITECTURE.md "Invariants") after a run, as verifyLedger checks
 * them for the tests and `pnpm verify` too: one line each for the report.
 */
export async function checkSettleInvariants(pool: Pool): Promise<InvariantResult[]> {
  const started = Date.now();
  const report = await verifyLedger(pool, { maxProblems: 20, quiescent: true });
  const ms = Date.now() - started;
  return report.findings.map((f) => ({
    name: f.informational ? `${f.invariant} (informational)` : f.invariant,
    ok: f.ok,
    detail: f.ok ? `${f.detail}${f.invariant === "journals verify" ? ` (${ms} ms)` : ""}` : f.problems.slice(0, 5).join("; "),
  }));
}
