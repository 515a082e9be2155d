import { Client } from "pg";
import { SETTLE_EVENTS_CHANNEL, type Logger } from "@settle/core";

type Wake = () => void;

/**
 * Fans the workers' settle notifications (PostgreSQL LISTEN) out to long-polling requests, so a
 * waiting request costs no query until its payment changes. If the listening connection drops,
 * every waiter is woken to look for itself, and the connection is re-established.
 */
export class PaymentEvents {
  private client: Client | undefined;
  private readonly waiters = new Map<string, Set<Wake>>();
  private closed = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly databaseUrl: string,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    await this.connect().catch((err) => {
      this.logger.warn({ err }, "payment events: cannot listen yet; retrying");
      this.scheduleReconnect();
    });
  }

  private async connect(): Promise<void> {
    const client = new Client({ connectionString: this.databaseUrl, connectionTimeoutMillis: 3000, keepAlive: true, application_name: "settle-api-listen" });
    const lost = (err?: Error) => {
      if (this.client !== client) return;
      this.client = undefined;
      client.end().catch(() => undefined);
      if (!this.closed) {
        this.logger.warn({ err }, "payment events: connection lost; reconnecting");
        this.wakeAll();
        this.scheduleReconnect();
      }
    };
    client.on("error", lost);
    client.on("end", () => lost());
    client.on("notification", (message) => {
      for (const id of (message.payload ?? "").split(",")) this.wake(id);
    });
    await client.connect();
    await client.query(`LISTEN ${SETTLE_EVENTS_CHANNEL}`);
    this.client = client;
    // Anything that changed while we were not listening is found by the waiters' own re-check.
    this.wakeAll();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.connect().catch(() => this.scheduleReconnect());
    }, 1000);
  }

  private wake(id: string): void {
    const set = this.waiters.get(id);
    if (!set) return;
    this.waiters.delete(id);
    for (const w of set) w();
  }

  private wakeAll(): void {
    for (const id of [...this.waiters.keys()]) this.wake(id);
  }

  /** Resolves when the payment is announced, or after `timeoutMs`; `cancel()` frees it early. */
  waitFor(paymentId: string, timeoutMs: number): { done: Promise<void>; cancel: () => void } {
    let wake!: Wake;
    const done = new Promise<void>((resolve) => (wake = resolve));
    const timer = setTimeout(wake, timeoutMs);
    const entry: Wake = () => {
      clearTimeout(timer);
      wake();
    };
    const set = this.waiters.get(paymentId) ?? new Set<Wake>();
    set.add(entry);
    this.waiters.set(paymentId, set);
    const cancel = () => {
      clearTimeout(timer);
      this.waiters.get(paymentId)?.delete(entry);
      if (this.waiters.get(paymentId)?.size === 0) this.waiters.delete(paymentId);
      wake();
    };
    return { done, cancel };
  }

  get waiting(): number {
    let n = 0;
    for (const set of this.waiters.values()) n += set.size;
    return n;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.wakeAll();
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}
