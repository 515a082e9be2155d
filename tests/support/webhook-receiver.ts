// A real webhook receiver for the tests: an HTTP server on 127.0.0.1 that records every delivery
// (raw body and headers) and answers as the test says.
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedDelivery {
  path: string;
  headers: IncomingHttpHeaders;
  /** The body exactly as received (what the signature covers). */
  raw: string;
  event: { id: string; type: string; created_at: string; data: Record<string, any> };
  receivedAt: number;
}

/** How to answer one delivery: a status (default 200), or `hold` to answer only when released. */
export type Answer = number | "hold";

export class WebhookReceiver {
  readonly received: ReceivedDelivery[] = [];
  private readonly held = new Set<ServerResponse>();
  private readonly server: Server;

  private constructor(
    /** Decides each answer, given the delivery and how many deliveries of its event came before. */
    public answer: (delivery: ReceivedDelivery, previousOfEvent: number) => Answer,
  ) {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => this.handle(req.url ?? "/", req.headers, Buffer.concat(chunks).toString("utf8"), res));
    });
  }

  static async start(answer: (delivery: ReceivedDelivery, previousOfEvent: number) => Answer = () => 200): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver(answer);
    await new Promise<void>((resolve) => receiver.server.listen(0, "127.0.0.1", resolve));
    return receiver;
  }

  private handle(path: string, headers: IncomingHttpHeaders, raw: string, res: ServerResponse): void {
    const delivery: ReceivedDelivery = { path, headers, raw, event: JSON.parse(raw) as ReceivedDelivery["event"], receivedAt: Date.now() };
    const previous = this.of(delivery.event.id).length;
    this.received.push(delivery);
    const answer = this.answer(delivery, previous);
    if (answer === "hold") {
      this.held.add(res);
      res.on("close", () => this.held.delete(res));
      return;
    }
    res.writeHead(answer, { "content-type": "text/plain" }).end(answer < 300 ? "ok" : "no");
  }

  url(path = "/hooks"): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  /** The deliveries of one event. */
  of(eventId: string): ReceivedDelivery[] {
    return this.received.filter((d) => d.event.id === eventId);
  }

  /** Distinct events received, by id. */
  eventIds(): Set<string> {
    return new Set(this.received.map((d) => d.event.id));
  }

  async close(): Promise<void> {
    for (const res of this.held) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
