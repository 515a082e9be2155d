// The measured load of a Settle run.
import type { Pool } from "@settle/core";
import type { HttpClient } from "@settle/core/testing";
import { runLoad, type LoadResult, type Operation } from "../load";
import type { BenchOptions, RunSpec } from "../options";
import { progressLine } from "../progress";
import { pendingCount } from "./drain";

/** Drives `next` for --duration, the progress line showing what is still pending. */
export async function applyLoad(
  pool: Pool,
  client: HttpClient,
  next: () => Operation,
  opts: BenchOptions,
  spec: RunSpec,
  label: string,
  batchItems: number | undefined,
): Promise<LoadResult> {
  let pendingNow = 0;
  const poller = setInterval(() => {
    pendingCount(pool).then(
      (n) => (pendingNow = n),
      () => undefined,
    );
  }, 1000);
  try {
    return await runLoad(client, next, {
      // An open-loop rate counts payments: a batch request carries batchItems of them.
      rate: spec.rate === "max" || !batchItems ? spec.rate : spec.rate / batchItems,
      durationS: opts.durationS,
      concurrency: opts.concurrency,
      maxInFlight: opts.maxInFlight,
      maxRequests: opts.maxRequests,
      onProgress: (s) => progressLine(label, s, opts.durationS, `pending ${pendingNow}`),
    });
  } finally {
    clearInterval(poller);
  }
}
