import { failureReason, paceRequests, type HttpClient, type HttpReply } from "@settle/core/testing";
import { percentiles, SecondBuckets, type Percentiles } from "./stats";

/** One request of a scenario. */
export interface Operation {
  kind: string;
  path: string;
  body: unknown;
  /** Asks for the reply body on success (mixed needs the ids of its transfers). */
  wantBody?: boolean;
  /** Statuses that count as success for this operation; default 2xx. */
  expected?: (status: number) => boolean;
  onReply?: (reply: HttpReply) => void;
  /** Payments the request carries (a batch request: several); a failed request fails them all. Default 1. */
  items?: number;
  /**
   * A batch request's answer item by item: how many payments were accepted, and why the others
   * were not. Without it, an expected status counts as one accepted payment.
   */
  count?: (reply: HttpReply) => { ok: number; failures: Record<string, number> };
}

export interface LoadOptions {
  /** Offered arrivals per second (open loop), or "max": `concurrency` closed-loop clients. */
  rate: number | "max";
  durationS: number;
  concurrency: number;
  /** Open loop: requests in flight at most; later arrivals wait in a bounded backlog (and their wait counts), then are dropped. */
  maxInFlight: number;
  /** Hard bound on requests sent, whatever the clock says. */
  maxRequests: number;
  onProgress?: (snapshot: LoadSnapshot) => void;
}

export interface LoadSnapshot {
  elapsedS: number;
  sent: number;
  ok: number;
  failed: number;
  inFlight: number;
  backlog: number;
  /** The load has ended: the last snapshot, sent once, so a progress line ends at 100 %. */
  done?: boolean;
}

export interface LoadResult {
  startedAt: number;
  endedAt: number;
  /** Requests sent. */
  sent: number;
  /** Payments offered: open loop, the arrivals the clock scheduled (sent or not); closed loop, those sent. */
  offered: number;
  /** Payments accepted, by operation kind (a batch request counts its accepted items). */
  okByKind: Record<string, number>;
  failures: Record<string, number>;
  /** Per request (a batch request is one sample), from its intended send time to its reply. */
  latency: Percentiles;
  latencyByKind: Record<string, Percentiles>;
  /** Per second of the run: payments accepted and the latency percentiles of their requests. */
  perSecond: { second: number; count: number; p50: number; p99: number; max: number }[];
}

/**
 * Drives operations against the API (on @settle/core/testing's paceRequests, as the tests' load).
 * Open loop: arrivals are scheduled by the clock, and a request's latency is measured from its
 * scheduled time, so a slow server cannot hide latency by slowing the client down (no coordinated
 * omission); beyond `maxInFlight`, arrivals queue in a backlog of a couple of seconds' worth, and
 * beyond that are dropped and counted ("drop"), bounding memory. "max": closed loop, `concurrency` clients.
 */
export async function runLoad(client: HttpClient, next: () => Operation, options: LoadOptions): Promise<LoadResult> {
  const okByKind: Record<string, number> = {};
  const failures: Record<string, number> = {};
  const latencies: number[] = [];
  const latencyByKindRaw: Record<string, number[]> = {};
  const buckets = new SecondBuckets();
  let offered = 0;
  let ok = 0;
  let failed = 0;
  const fail = (reason: string, n = 1) => {
    failed += n;
    failures[reason] = (failures[reason] ?? 0) + n;
  };

  const record = (op: Operation, intended: number, reply: HttpReply) => {
    const done = Date.now();
    const good = op.expected ? op.expected(reply.status) : reply.status >= 200 && reply.status < 300;
    if (good) {
      const counted = op.count ? op.count(reply) : { ok: 1, failures: {} };
      ok += counted.ok;
      okByKind[op.kind] = (okByKind[op.kind] ?? 0) + counted.ok;
      for (const [reason, n] of Object.entries(counted.failures)) fail(`${op.kind}: ${reason}`, n);
      const ms = done - intended;
      latencies.push(ms);
      (latencyByKindRaw[op.kind] ??= []).push(ms);
      buckets.add((intended - load.startedAt) / 1000, ms, counted.ok);
    } else fail(`${op.kind}: ${failureReason(reply)}`, op.items ?? 1);
    op.onReply?.(reply);
  };

  const load = paceRequests<Operation>({
    ...(options.rate === "max"
      ? { rate: "max", clients: options.concurrency }
      : // A backlog of a couple of seconds' arrivals at most.
        { rate: options.rate, maxInFlight: options.maxInFlight, whenSaturated: "drop", backlog: Math.max(1000, options.rate * 2) }),
    client,
    durationMs: options.durationS * 1000,
    maxRequests: options.maxRequests,
    next: () => {
      const op = next();
      offered += op.items ?? 1;
      return op;
    },
    onOutcome: (outcome) => {
      const op = outcome.request;
      let cause = outcome.error;
      if (outcome.reply) {
        try {
          record(op, outcome.intended, outcome.reply);
          return;
        } catch (thrown) {
          cause = thrown; // a reply the operation could not read counts as its failure
        }
      }
      fail(`${op.kind}: ${cause instanceof Error ? cause.message : String(cause)}`, op.items ?? 1);
    },
    onUnsent: (op, why) =>
      fail(`${op.kind}: ${why === "backlog full" ? "driver backlog full (arrival dropped)" : "not sent before the end (server saturated)"}`, op.items ?? 1),
  });

  const snapshot = (): LoadSnapshot => ({
    elapsedS: (Date.now() - load.startedAt) / 1000,
    sent: load.sent,
    ok,
    failed,
    inFlight: load.inFlight,
    backlog: load.backlog,
  });
  const progress = options.onProgress ? setInterval(() => options.onProgress!(snapshot()), 1000) : undefined;
  try {
    await load.done;
  } finally {
    if (progress) clearInterval(progress);
  }
  // The interval's last tick comes up to a second before the end (or after it, and is cleared).
  options.onProgress?.({ ...snapshot(), done: true });
  const latencyByKind = Object.fromEntries(Object.entries(latencyByKindRaw).map(([k, v]) => [k, percentiles(v)]));
  return {
    startedAt: load.startedAt,
    endedAt: Date.now(),
    sent: load.sent,
    offered,
    okByKind,
    failures,
    latency: percentiles(latencies),
    latencyByKind,
    perSecond: buckets.series(),
  };
}
