import type { Request, Response } from "express";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { clusterMetricsSource } from "../api-cluster";
import { registerPoolGauge, withTimeout, type Logger, type PartitionQueues, type Pool } from "@settle/core";
import { findRoute, UNDOCUMENTED_PREFIXES, type RouteSpec } from "./openapi-routes";
import { QUEUE_STATES, QueueDepthSampler } from "./queue-depth";
import { responseFacts } from "./response-facts";

// Sessions of this database waiting on a row or table lock right now, and PostgreSQL's count of
// deadlocks it detected (and broke) in this database since its statistics were reset. Both are
// database-wide: every API process reports the same figures, so dashboards take the max.
const LOCK_STATS_SQL = `
  SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock') AS lock_waits,
         (SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()) AS deadlocks`;

// Seconds; an accept is one INSERT and one Redis call, so most land in the first buckets.
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface ApiMetricsDeps {
  pool: Pool;
  queues: PartitionQueues;
  logger: Logger;
}

/** The route label of a request for `route` (its `findRoute`): the documented path template, never the raw URL (bounded cardinality). */
export function routeLabel(path: string, route: RouteSpec | undefined): string {
  if (route) return route.path;
  const prefix = UNDOCUMENTED_PREFIXES.find((u) => path === u.prefix || path.startsWith(`${u.prefix}/`));
  return prefix ? `${prefix.prefix}/*` : "(unmatched)";
}

/** The API's Prometheus metrics, in a registry of its own (several APIs may share a test process). */
export class ApiMetrics {
  readonly registry = new Registry();
  private readonly httpDuration: Histogram<"method" | "route" | "status">;
  private readonly accepted: Counter<"type">;
  private readonly replayed: Counter<"type">;
  private readonly rejected: Counter<"type" | "code">;
  private readonly acceptDuration: Histogram<"type">;
  private readonly depthSampler: QueueDepthSampler;

  constructor(deps: ApiMetricsDeps, options: { queueDepthCacheMs?: number } = {}) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.httpDuration = new Histogram({
      name: "settle_http_request_duration_seconds",
      help: "HTTP requests by route template, method and status, from arrival to the last byte sent",
      labelNames: ["method", "route", "status"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.accepted = new Counter({
      name: "settle_payments_accepted_total",
      help: "Payments (and dispute operations) accepted with 202, by type",
      labelNames: ["type"],
      registers,
    });
    this.replayed = new Counter({
      name: "settle_payments_replayed_total",
      help: "Requests answered with the stored response of an earlier one with the same Idempotency-Key (no new payment), by type",
      labelNames: ["type"],
      registers,
    });
    this.rejected = new Counter({
      name: "settle_payments_rejected_total",
      help: "Payment requests refused, by type and contract error code",
      labelNames: ["type", "code"],
      registers,
    });
    this.acceptDuration = new Histogram({
      name: "settle_payment_accept_duration_seconds",
      help: "Time to accept a payment: validation, the durable INSERT, the enqueue, the 202",
      labelNames: ["type"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.depthSampler = new QueueDepthSampler(deps.queues, options.queueDepthCacheMs ?? 2000);
    const sampler = this.depthSampler;
    let depthRead: Promise<void> = Promise.resolve();
    new Gauge({
      name: "settle_queue_jobs",
      help: "Jobs per partition queue and state (read from Redis on scrape, cached briefly)",
      labelNames: ["partition", "state"],
      registers,
      collect() {
        depthRead = (async () => {
          try {
            const counts = await sampler.sample();
            this.reset();
            counts.forEach((byState, partition) => {
              for (const state of QUEUE_STATES) this.set({ partition: String(partition), state }, byState[state]);
            });
          } catch (err) {
            // No series rather than stale ones: a gap in the graph says Redis did not answer.
            this.reset();
            depthErrors.inc();
            deps.logger.warn({ err }, "metrics: could not read queue depth");
          }
        })();
        return depthRead;
      },
    });
    // A scrape collects every metric at once: this one waits for the read above, so the same
    // scrape that failed to read the queues also counts it.
    const depthErrors = new Counter({
      name: "settle_queue_depth_scrape_errors_total",
      help: "Scrapes whose queue depth could not be read from Redis",
      registers,
      async collect() {
        await depthRead;
      },
    });
    let lockStats: { at: number; value: Promise<{ lockWaits: number; deadlocks: number }> } | undefined;
    const readLockStats = () => {
      // Cached like the queue depth: several scrapes within 2 s cost one query.
      if (!lockStats || Date.now() - lockStats.at > (options.queueDepthCacheMs ?? 2000)) {
        // Bounded: with PostgreSQL down a scrape must still answer, without these two.
        const value = withTimeout(deps.pool.query<{ lock_waits: string; deadlocks: string }>(LOCK_STATS_SQL), 1000, "reading lock statistics").then(
          ({ rows }) => ({ lockWaits: Number(rows[0]?.lock_waits ?? 0), deadlocks: Number(rows[0]?.deadlocks ?? 0) }),
        );
        lockStats = { at: Date.now(), value };
        value.catch(() => (lockStats = undefined));
      }
      return lockStats.value;
    };
    new Gauge({
      name: "settle_db_lock_waits",
      help: "Sessions of the database waiting on a lock now (database-wide, read on scrape)",
      registers,
      async collect() {
        this.reset();
        const stats = await readLockStats().catch(() => undefined);
        if (stats) this.set(stats.lockWaits);
      },
    });
    new Gauge({
      name: "settle_db_deadlocks",
      help: "Deadlocks PostgreSQL detected in the database since its statistics were reset (database-wide counter, read on scrape)",
      registers,
      async collect() {
        this.reset();
        const stats = await readLockStats().catch(() => undefined);
        if (stats) this.set(stats.deadlocks);
      },
    });
    registerPoolGauge(deps.pool, this.registry);
  }

  /** Times a finished request; counts accepted and refused payments by the route they came in on. */
  readonly observe = (req: Request, res: Response, seconds: number): void => {
    const path = req.originalUrl.split("?")[0] ?? "/";
    const status = res.statusCode;
    const route = findRoute(req.method, path);
    this.httpDuration.observe({ method: req.method, route: routeLabel(path, route), status: String(status) }, seconds);
    const type = route?.accepts;
    if (!type) return;
    const { batch } = responseFacts(res);
    if (type === "batch" && batch) {
      // Each item counts like a single request of its type; refused items carry no type.
      for (const item of batch) {
        if (item.replayed) this.replayed.inc({ type: item.type ?? type });
        else if (item.status === 202) this.accepted.inc({ type: item.type ?? type });
        else this.rejected.inc({ type, code: item.code ?? String(item.status) });
      }
      if (status === 202) this.acceptDuration.observe({ type }, seconds);
      return;
    }
    if (res.getHeader("Idempotent-Replayed") === "true") {
      this.replayed.inc({ type });
    } else if (status === 202) {
      this.accepted.inc({ type });
      this.acceptDuration.observe({ type }, seconds);
    } else if (status >= 400) {
      this.rejected.inc({ type, code: responseFacts(res).errorCode ?? String(status) });
    }
  };

  /** In an API process of a cluster (API_PROCESSES > 1): the whole API's metrics, summed by the primary. */
  private readonly clusterMetrics = clusterMetricsSource(this.registry);

  /** The Prometheus text of this registry, or of every API process's under a cluster. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await (this.clusterMetrics ?? (() => this.registry.metrics()))() };
  }
}
