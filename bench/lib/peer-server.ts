import fs from "node:fs";
import path from "node:path";
import { createPool, type Pool } from "@settle/core";
import { HttpClient } from "@settle/core/testing";
import { freePort, ROOT, startChild, stopChild, waitForHttp, type Child } from "./children";
import { recreateDatabase } from "./database";
import type { LoadOptions } from "./load";
import { progressLine } from "./progress";
import type { InvariantResult } from "./database";
import type { BenchOptions, RunSpec } from "./options";
import type { Percentiles } from "./stats";

/** What a run of a synchronous peer reports, beside Settle's. */
export interface PeerRunResult {
  spec: RunSpec;
  /** What was offered when it differs from the scenario (it has no batch endpoint). */
  note?: string;
  broken: boolean;
  /** Requests answered (completed, or refused for insufficient funds) per second. */
  processedPerS: number;
  completedPerS: number;
  latency: Percentiles;
  failures: Record<string, number>;
  invariants: InvariantResult[];
  brokenCount: number;
}

/** How a peer's load runs: the spec's rate, for --naive-duration, with the run's bounds, its progress labelled. */
export function peerLoadOptions(opts: BenchOptions, spec: RunSpec, label: string): LoadOptions {
  return {
    rate: spec.rate,
    durationS: opts.naiveDurationS,
    concurrency: opts.concurrency,
    maxInFlight: opts.maxInFlight,
    maxRequests: opts.maxRequests,
    onProgress: (s) => progressLine(label, s, opts.naiveDurationS),
  };
}

/** A synchronous peer server (naive or careful) running for one spec, on a database of its own. */
export interface PeerServer {
  url: string;
  pool: Pool;
  client: HttpClient;
  /** Waits until the server answers /healthz (after the caller has seeded its schema). */
  ready(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts `bench/<name>/server.ts` on a fresh database `settle_bench_<name>` with its
 * `schema.sql` applied, and a client sized like Settle's. Its pool has one connection per client,
 * as a synchronous endpoint needs.
 */
export async function startPeerServer(name: "naive" | "careful", opts: BenchOptions, spec: RunSpec, index: number, logs: string): Promise<PeerServer> {
  const dbUrl = await recreateDatabase(opts.databaseUrl, `settle_bench_${name}`, { migrate: false });
  const pool = createPool({ url: dbUrl, max: 2, applicationName: `${name}-bench` });
  const port = await freePort();
  const server: Child = startChild(name, {
    cwd: ROOT,
    script: `bench/${name}/server.ts`,
    env: { DATABASE_URL: dbUrl, PORT: String(port), DB_POOL_SIZE: String(Math.max(opts.concurrency, 10)) },
    logFile: path.join(logs, `${index}-${spec.scenario}-${name}.log`),
  });
  const client = new HttpClient(`http://127.0.0.1:${port}`, Math.max(opts.concurrency, opts.maxInFlight));
  try {
    await pool.query(fs.readFileSync(path.join(ROOT, `bench/${name}/schema.sql`), "utf8"));
  } catch (error) {
    client.close();
    await stopChild(server);
    await pool.end();
    throw error;
  }
  return {
    url: `http://127.0.0.1:${port}`,
    pool,
    client,
    ready: () => waitForHttp(`http://127.0.0.1:${port}/healthz`, server),
    async stop() {
      client.close();
      await stopChild(server);
      await pool.end();
    },
  };
}
