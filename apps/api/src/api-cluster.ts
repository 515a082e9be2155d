import cluster, { type Worker } from "node:cluster";
import { AggregatorRegistry, type Registry } from "prom-client";
import type { Logger } from "@settle/core";

// API_PROCESSES > 1: the API runs as that many processes under node:cluster, sharing one port
// (the primary accepts connections and hands them round robin to the processes). The primary
// serves nothing itself: it starts the processes, replaces one that dies, passes SIGTERM/SIGINT
// on for a graceful stop, and aggregates the processes' metrics, so that GET /metrics (answered
// by whichever process) reports the whole API (docs/ARCHITECTURE.md "Scaling out").

const METRICS_REQUEST = "settle:metrics-request";
const METRICS_REPLY = "settle:metrics-reply";
const COLLECT = "settle:metrics-collect";
const PART = "settle:metrics-part";
/** A process that does not hand its metrics over within this long is left out of that answer. */
const COLLECT_TIMEOUT_MS = 2000;

interface MetricsRequest {
  type: typeof METRICS_REQUEST;
  id: number;
}
interface MetricsReply {
  type: typeof METRICS_REPLY;
  id: number;
  body?: string;
  error?: string;
}
interface Collect {
  type: typeof COLLECT;
  id: number;
}
interface Part {
  type: typeof PART;
  id: number;
  metrics: Awaited<ReturnType<Registry["getMetricsAsJSON"]>>;
}

/**
 * The primary: forks `processes` API processes and supervises them until SIGTERM or SIGINT,
 * which it passes on; resolves with the exit code once every process has exited.
 */
export function runPrimary(processes: number, log: Logger): Promise<number> {
  /** Each live process, and whether it has begun listening. */
  const live = new Map<Worker, { listening: boolean }>();
  let stopping = false;
  let failed = false;
  const fork = () => live.set(cluster.fork(), { listening: false });
  cluster.on("listening", (worker) => live.set(worker, { listening: true }));

  // The whole API's metrics: each listening process's registry, summed. A process still starting,
  // or one that does not answer in time, is left out rather than holding the answer up.
  let nextCollect = 0;
  /** Per collection under way: what to do with each part that arrives. */
  const collecting = new Map<number, (metrics: Part["metrics"]) => void>();
  const collect = () =>
    new Promise<string>((resolve) => {
      const id = nextCollect++;
      const targets = [...live].filter(([, s]) => s.listening).map(([w]) => w);
      const parts: Part["metrics"][] = [];
      const finish = () => {
        clearTimeout(timer);
        collecting.delete(id);
        resolve(AggregatorRegistry.aggregate(parts).metrics());
      };
      const timer = setTimeout(finish, COLLECT_TIMEOUT_MS);
      collecting.set(id, (metrics) => {
        parts.push(metrics);
        if (parts.length === targets.length) finish();
      });
      if (targets.length === 0) finish();
      for (const w of targets) w.send({ type: COLLECT, id } satisfies Collect);
    });
  cluster.on("message", (worker: Worker, message: MetricsRequest | Part) => {
    if (message?.type === PART) {
      collecting.get(message.id)?.(message.metrics);
      return;
    }
    if (message?.type !== METRICS_REQUEST) return;
    collect().then(
      (body) => worker.send({ type: METRICS_REPLY, id: message.id, body } satisfies MetricsReply),
      (err: Error) => worker.send({ type: METRICS_REPLY, id: message.id, error: err.message } satisfies MetricsReply),
    );
  });

  return new Promise((resolve) => {
    cluster.on("exit", (worker, code, signal) => {
      const listened = live.get(worker)?.listening ?? false;
      live.delete(worker);
      // Stopped by our own SIGTERM before it could handle it (still starting): not a failure.
      if (code !== 0 && !(stopping && signal === "SIGTERM")) failed = true;
      if (!stopping) {
        // One that never listened failed to start (configuration, database): another would too.
        if (!listened) {
          log.error({ pid: worker.process.pid, code, signal }, "an API process failed to start; stopping them all");
          stop("failed start");
        } else {
          log.error({ pid: worker.process.pid, code, signal }, "an API process died; starting another");
          failed = false;
          fork();
        }
      }
      if (stopping && live.size === 0) resolve(failed ? 1 : 0);
    });
    const stop = (why: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ why, processes: live.size }, "stopping the API processes");
      for (const worker of live.keys()) worker.process.kill("SIGTERM");
      if (live.size === 0) resolve(failed ? 1 : 0);
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
    log.info({ processes }, "starting the API processes");
    for (let i = 0; i < processes; i++) fork();
  });
}

let nextRequest = 0;

/**
 * In an API process of a cluster: reports `registry` to the primary's aggregation, and returns
 * the function that renders the whole API's metrics (asking the primary). Undefined outside a
 * cluster: the process renders its own.
 */
export function clusterMetricsSource(registry: Registry): (() => Promise<string>) | undefined {
  if (!cluster.isWorker) return undefined;
  // Hands this process's metrics to the primary when it collects them.
  process.on("message", (message: Collect) => {
    if (message?.type !== COLLECT) return;
    void registry.getMetricsAsJSON().then((metrics) => process.send!({ type: PART, id: message.id, metrics } satisfies Part));
  });
  return () =>
    new Promise((resolve, reject) => {
      const id = nextRequest++;
      const timer = setTimeout(() => {
        process.off("message", onReply);
        reject(new Error("the API's primary process did not answer for metrics within 5 s"));
      }, 5000);
      const onReply = (message: MetricsReply) => {
        if (message?.type !== METRICS_REPLY || message.id !== id) return;
        clearTimeout(timer);
        process.off("message", onReply);
        if (message.error !== undefined) reject(new Error(message.error));
        else resolve(message.body ?? "");
      };
      process.on("message", onReply);
      process.send!({ type: METRICS_REQUEST, id } satisfies MetricsRequest);
    });
}
