import { Gauge, type Registry } from "prom-client";

/** `settle_db_pool_connections{state}`: this process's pg pool (total, idle, waiting), read on scrape. */
export function registerPoolGauge(pool: { totalCount: number; idleCount: number; waitingCount: number }, registry: Registry): Gauge {
  return new Gauge({
    name: "settle_db_pool_connections",
    help: "PostgreSQL pool of this process: total and idle connections, requests waiting for one",
    labelNames: ["state"],
    registers: [registry],
    collect() {
      this.set({ state: "total" }, pool.totalCount);
      this.set({ state: "idle" }, pool.idleCount);
      this.set({ state: "waiting" }, pool.waitingCount);
    },
  });
}
