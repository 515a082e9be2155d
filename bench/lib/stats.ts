// Latency statistics. Latencies are milliseconds (plain numbers); money never comes here.

export interface Percentiles {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export const EMPTY_PERCENTILES: Percentiles = { count: 0, p50: 0, p95: 0, p99: 0, max: 0, mean: 0 };

/** Nearest-rank percentiles of `values` (sorted in place). */
export function percentiles(values: number[]): Percentiles {
  if (values.length === 0) return EMPTY_PERCENTILES;
  values.sort((a, b) => a - b);
  const at = (q: number) => values[Math.min(values.length - 1, Math.max(0, Math.ceil(q * values.length) - 1))]!;
  let sum = 0;
  for (const v of values) sum += v;
  return { count: values.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: values[values.length - 1]!, mean: sum / values.length };
}

/** Per-second series: bucket index → values recorded in that second, and what they count. */
export class SecondBuckets {
  private readonly buckets: number[][] = [];
  private readonly counts: number[] = [];

  /** `count`: what the value stands for (a batch request's latency counts its accepted payments). */
  add(second: number, value: number, count = 1): void {
    const i = Math.max(0, Math.floor(second));
    while (this.buckets.length <= i) {
      this.buckets.push([]);
      this.counts.push(0);
    }
    this.buckets[i]!.push(value);
    this.counts[i]! += count;
  }

  series(): { second: number; count: number; p50: number; p99: number; max: number }[] {
    return this.buckets.map((values, second) => {
      const p = percentiles(values);
      return { second, count: this.counts[second]!, p50: p.p50, p99: p.p99, max: p.max };
    });
  }
}

export const round = (n: number, digits = 1): number => {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
};
