// --webhooks: one endpoint subscribed to every event, on a receiver process of the bench's
// (webhook-receiver-main.ts). It answers 204 and notes when each event first arrived, for the
// delivery lag; its CPU is measured and shown apart from Settle's, but it runs on the same cores.
import path from "node:path";
import { createSettleClient } from "@settle/client";
import type { Pool } from "@settle/core";
import { freePort, ROOT, startChild, stopChild, waitForHttp, type Child } from "../children";
import { percentiles, round } from "../stats";
import type { WebhookFigures } from "./types";

export class BenchWebhookReceiver {
  private constructor(
    readonly child: Child,
    private readonly port: number,
  ) {}

  static async start(logDir: string): Promise<BenchWebhookReceiver> {
    const port = await freePort();
    const child = startChild("webhook-receiver", {
      cwd: path.join(ROOT, "bench"),
      script: "lib/settle/webhook-receiver-main.ts",
      env: { PORT: String(port) },
      logFile: path.join(logDir, "webhook-receiver.log"),
    });
    await waitForHttp(`http://127.0.0.1:${port}/healthz`, child);
    return new BenchWebhookReceiver(child, port);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/webhooks`;
  }

  /** Subscribes the receiver to every event of the system at `baseUrl` (a set-up call: the typed client). */
  async subscribe(baseUrl: string): Promise<void> {
    await createSettleClient({ baseUrl }).createWebhookEndpoint({ url: this.url, events: ["*"], description: "bench receiver" });
  }

  private async stats(): Promise<{ deliveries: number; firstSeen: Record<string, number> }> {
    return (await (await fetch(`http://127.0.0.1:${this.port}/stats`)).json()) as { deliveries: number; firstSeen: Record<string, number> };
  }

  /** Waits (at most `timeoutS`) until every event written has arrived; then the figures. */
  async figures(pool: Pool, timeoutS: number): Promise<WebhookFigures> {
    const started = Date.now();
    const count = async () => Number((await pool.query<{ n: string }>("SELECT count(*) AS n FROM events")).rows[0]!.n);
    let events = await count();
    let stats = await this.stats();
    while (Object.keys(stats.firstSeen).length < events && Date.now() - started < timeoutS * 1000) {
      await new Promise((r) => setTimeout(r, 200));
      [events, stats] = await Promise.all([count(), this.stats()]);
    }
    const caughtUpAfterDrainS = round((Date.now() - started) / 1000);
    const { rows } = await pool.query<{ id: string; created_ms: string }>(
      "SELECT id, (extract(epoch FROM created_at) * 1000)::bigint AS created_ms FROM events",
    );
    const lags = rows.flatMap((r) => {
      const seen = stats.firstSeen[r.id];
      return seen === undefined ? [] : [Math.max(0, seen - Number(r.created_ms))];
    });
    return { events, delivered: Object.keys(stats.firstSeen).length, deliveries: stats.deliveries, lag: percentiles(lags), caughtUpAfterDrainS };
  }

  async close(): Promise<void> {
    await stopChild(this.child);
  }
}
