// --webhooks: one endpoint subscribed to every event, on a receiver in the bench process. It
// answers 204 and notes when each event first arrived, for the delivery lag; its CPU counts in the
// machine's load like any client's would.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Pool } from "@settle/core";
import { percentiles, round } from "../stats";
import type { WebhookFigures } from "./types";

export class BenchWebhookReceiver {
  private readonly firstSeen = new Map<string, number>();
  private deliveries = 0;

  private readonly server: Server;

  private constructor() {
    this.server = createServer((req, res) => {
      const id = req.headers["settle-event-id"];
      this.deliveries++;
      if (typeof id === "string" && !this.firstSeen.has(id)) this.firstSeen.set(id, Date.now());
      req.resume();
      req.on("end", () => res.writeHead(204).end());
    });
    this.server.keepAliveTimeout = 65_000;
  }

  static async start(): Promise<BenchWebhookReceiver> {
    const receiver = new BenchWebhookReceiver();
    await new Promise<void>((resolve) => receiver.server.listen(0, "127.0.0.1", resolve));
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/webhooks`;
  }

  /** Subscribes the receiver to every event of the system at `baseUrl`. */
  async subscribe(baseUrl: string): Promise<void> {
    const res = await fetch(`${baseUrl}/api/v1/webhook-endpoints`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ url: this.url, events: ["*"], description: "bench receiver" }),
    });
    if (res.status !== 201) throw new Error(`could not create the bench's webhook endpoint: ${res.status} ${await res.text()}`);
  }

  /** Waits (at most `timeoutS`) until every event written has arrived; then the figures. */
  async figures(pool: Pool, timeoutS: number): Promise<WebhookFigures> {
    const started = Date.now();
    const count = async () => Number((await pool.query<{ n: string }>("SELECT count(*) AS n FROM events")).rows[0]!.n);
    let events = await count();
    while (this.firstSeen.size < events && Date.now() - started < timeoutS * 1000) {
      await new Promise((r) => setTimeout(r, 200));
      events = await count();
    }
    const { rows } = await pool.query<{ id: string; created_ms: string }>(
      "SELECT id, (extract(epoch FROM created_at) * 1000)::bigint AS created_ms FROM events",
    );
    const lags = rows.flatMap((r) => {
      const seen = this.firstSeen.get(r.id);
      return seen === undefined ? [] : [Math.max(0, seen - Number(r.created_ms))];
    });
    return {
      events,
      delivered: this.firstSeen.size,
      deliveries: this.deliveries,
      lag: percentiles(lags),
      caughtUpAfterDrainS: round((Date.now() - started) / 1000),
    };
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
