import { failureReason, type HttpClient, type HttpReply } from "./http-client";
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
  /** Open loop: requests in flight at most; later arrivals wait (and their wait counts). */
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
 * Drives operations against the API. Open loop: arrivals are scheduled by the clock, and a
 * request's latency is measured from its scheduled time, so a slow server cannot hide latency by
 * slowing the client down (no coordinated omission). "max": closed loop, `concurrency` clients.
 */
export async function runLoad(client: HttpClient, next: () => Operation, options: LoadOptions): Promise<LoadResult> {
  const startedAt = Date.now();
  const endAt = startedAt + options.durationS * 1000;
  const okByKind: Record<string, number> = {};
  const failures: Record<string, number> = {};
  const latencies: number[] = [];
  const latencyByKindRaw: Record<string, number[]> = {};
  const buckets = new SecondBuckets();
  let sent = 0;
  let offered = 0;
  let ok = 0;
  let failed = 0;
  let inFlight = 0;
  const backlog: { op: Operation; intended: number }[] = [];
  const fail = (reason: string, n = 1) => {
    failed += n;
    failures[reason] = (failures[reason] ?? 0) + n;
  };

  const send = async (op: Operation, intended: number): Promise<void> => {
    inFlight++;
    sent++;
    try {
      const reply = await client.post(op.path, op.body, { wantBody: op.wantBody });
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
        buckets.add((intended - startedAt) / 1000, ms, counted.ok);
      } else fail(`${op.kind}: ${failureReason(reply)}`, op.items ?? 1);
      op.onReply?.(reply);
    } catch (error) {
      fail(`${op.kind}: ${error instanceof Error ? error.message : String(error)}`, op.items ?? 1);
    } finally {
      inFlight--;
    }
  };

  const progress = options.onProgress
    ? setInterval(() => options.onProgress!({ elapsedS: (Date.now() - startedAt) / 1000, sent, ok, failed, inFlight, backlog: backlog.length }), 1000)
    : undefined;

  try {
    if (options.rate === "max") {
      const loop = async () => {
        while (Date.now() < endAt && sent < options.maxRequests) {
          const op = next();
          offered += op.items ?? 1;
          await send(op, Date.now());
        }
      };
      await Promise.all(Array.from({ length: options.concurrency }, loop));
    } else {
      const rate = options.rate;
      const total = Math.min(options.maxRequests, Math.floor(rate * options.durationS));
      // Arrivals that cannot be sent within a couple of seconds are dropped and counted, bounding memory.
      const maxBacklog = Math.max(1000, rate * 2);
      let scheduled = 0;
      const pending = new Set<Promise<void>>();
      const dispatch = (op: Operation, intended: number) => {
        const p = send(op, intended).then(() => {
          pending.delete(p);
          const waiting = Date.now() < endAt ? backlog.shift() : undefined;
          if (waiting) dispatch(waiting.op, waiting.intended);
        });
        pending.add(p);
      };
      await new Promise<void>((resolve) => {
        const tick = () => {
          const now = Date.now();
          const due = Math.min(total, Math.floor(((now - startedAt) * rate) / 1000));
          while (scheduled < due) {
            const intended = startedAt + (scheduled * 1000) / rate;
            scheduled++;
            const op = next();
            offered += op.items ?? 1;
            if (inFlight < options.maxInFlight) dispatch(op, intended);
            else if (backlog.length < maxBacklog) backlog.push({ op, intended });
            else fail(`${op.kind}: driver backlog full (arrival dropped)`, op.items ?? 1);
          }
          if (scheduled >= total || now >= endAt) resolve();
          else setTimeout(tick, 1);
        };
        tick();
      });
      // The run ends on time: arrivals still waiting for a free connection were never sent (the
      // server could not keep up); they count as failures, and only requests in flight are awaited.
      for (const waiting of backlog.splice(0)) fail(`${waiting.op.kind}: not sent before the end (server saturated)`, waiting.op.items ?? 1);
      while (pending.size > 0) await Promise.race([...pending, new Promise((r) => setTimeout(r, 50))]);
    }
  } finally {
    if (progress) clearInterval(progress);
  }
  // The interval's last tick comes up to a second before the end (or after it, and is cleared).
  options.onProgress?.({ elapsedS: (Date.now() - startedAt) / 1000, sent, ok, failed, inFlight, backlog: backlog.length, done: true });
  const latencyByKind = Object.fromEntries(Object.entries(latencyByKindRaw).map(([k, v]) => [k, percentiles(v)]));
  return { startedAt, endedAt: Date.now(), sent, offered, okByKind, failures, latency: percentiles(latencies), latencyByKind, perSecond: buckets.series() };
}
