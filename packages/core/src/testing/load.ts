// Generated load through HTTP, for the bench's measured runs (bench/lib/load.ts) and the tests'
// steady load (tests/support/processes.ts): arrivals paced by the clock with a bound on requests
// in flight, or closed-loop clients; bounded in time and count; every outcome handed to the caller.
import type { HttpClient, HttpReply } from "./http-client";

/** One request of the load: a POST of `body` to `path`. */
export interface LoadRequest {
  path: string;
  body: unknown;
  /** Asks for the reply body on success too. */
  wantBody?: boolean;
}

/** What became of one request sent: its reply, or the error that stood for one (timeout, refused connection…). */
export type LoadOutcome<R extends LoadRequest> = {
  request: R;
  /** Date.now() when it was due (open loop: its arrival's scheduled time) or made (closed loop); latency counts from here. */
  intended: number;
  /** performance.now() when it was sent and when its answer or error came back. */
  sentAt: number;
  answeredAt: number;
} & ({ reply: HttpReply; error?: undefined } | { reply?: undefined; error: unknown });

/**
 * How arrivals come. Open loop (`rate` a number): `rate` arrivals per second scheduled by the
 * clock, at most `maxInFlight` requests in flight. When that many are, `whenSaturated` says what
 * an arrival does:
 * - "wait": no arrival is made until a request is answered; the late ones then go out back to back
 *   (catching up with the clock), none dropped. A slow or dead server slows the load down. The
 *   tests pick it: they check that every request sent is accounted for, so none may be lost to
 *   the driver, and a fault (a killed API, a stopped database) must not pile up requests.
 * - "drop": arrivals keep coming on time and queue in a backlog of `backlog`, sent as requests are
 *   answered; beyond it they are dropped and reported (onUnsent "backlog full"), and those still
 *   queued when the run ends are reported too ("run ended"). The bench picks it: its latency
 *   counts from the scheduled time, so a saturated server shows as latency and drops rather than
 *   as a slower offered rate (no coordinated omission), and the backlog bounds the driver's memory.
 * Closed loop (`rate` "max"): `clients` clients, each sending its next request when its last is answered.
 */
export type Pacing =
  | { rate: number; maxInFlight: number; whenSaturated: "wait" }
  | { rate: number; maxInFlight: number; whenSaturated: "drop"; backlog: number }
  | { rate: "max"; clients: number };

export type PaceOptions<R extends LoadRequest> = Pacing & {
  client: HttpClient;
  /** The next arrival's request: called when it is due, so a caller can count arrivals here. */
  next: () => R;
  /** Called as each request is answered (or fails). A throw ends the load and `done` rejects with it. */
  onOutcome: (outcome: LoadOutcome<R>) => void;
  /** An arrival never sent ("drop" only). */
  onUnsent?: (request: R, why: "backlog full" | "run ended") => void;
  /** No arrival after this long. */
  durationMs: number;
  /** Requests sent at most, whatever the clock says. */
  maxRequests: number;
  /** Per request (HttpClient's default when unset). */
  timeoutMs?: number;
};

export interface PacedLoad {
  /** Date.now() when the load started; the open loop's schedule counts from it. */
  readonly startedAt: number;
  readonly sent: number;
  readonly inFlight: number;
  /** Arrivals waiting for a request to be answered ("drop"). */
  readonly backlog: number;
  /** Makes no more arrivals; `done` resolves once the requests in flight are answered. */
  stop(): void;
  /** Resolves when the load has ended and every request sent has its outcome. */
  readonly done: Promise<void>;
}

/** Starts sending `options.next()`'s requests as `options` paces them (see Pacing). */
export function paceRequests<R extends LoadRequest>(options: PaceOptions<R>): PacedLoad {
  return new Pacer(options);
}

class Pacer<R extends LoadRequest> implements PacedLoad {
  readonly startedAt = Date.now();
  readonly done: Promise<void>;
  sent = 0;
  inFlight = 0;
  private readonly endAt: number;
  private readonly waiting: { request: R; intended: number }[] = [];
  private readonly pending = new Set<Promise<void>>();
  private stopped = false;
  private failure: { error: unknown } | undefined;

  constructor(private readonly options: PaceOptions<R>) {
    this.endAt = this.startedAt + options.durationMs;
    this.done = (options.rate === "max" ? this.closedLoop(options.clients) : this.openLoop(options)).then(() => {
      if (this.failure) throw this.failure.error;
    });
  }

  get backlog(): number {
    return this.waiting.length;
  }

  stop(): void {
    this.stopped = true;
  }

  private async closedLoop(clients: number): Promise<void> {
    const loop = async () => {
      while (!this.stopped && Date.now() < this.endAt && this.sent < this.options.maxRequests) await this.send(this.options.next(), Date.now());
    };
    await Promise.all(Array.from({ length: clients }, loop));
  }

  private async openLoop(pacing: Exclude<Pacing, { rate: "max" }>): Promise<void> {
    const { rate, maxInFlight } = pacing;
    const wait = pacing.whenSaturated === "wait";
    const backlog = pacing.whenSaturated === "drop" ? pacing.backlog : 0;
    const total = Math.min(this.options.maxRequests, Math.floor(rate * (this.options.durationMs / 1000)));
    let scheduled = 0;
    await new Promise<void>((resolve) => {
      const tick = () => {
        const now = Date.now();
        // Arrival n is due once n + 1 intervals have passed, and its latency counts from n intervals.
        const due = Math.min(total, Math.floor(((now - this.startedAt) * rate) / 1000));
        while (scheduled < due && !this.stopped && !(wait && this.inFlight >= maxInFlight)) {
          const intended = this.startedAt + (scheduled * 1000) / rate;
          scheduled++;
          const request = this.options.next();
          if (this.inFlight < maxInFlight) this.dispatch(request, intended);
          else if (this.waiting.length < backlog) this.waiting.push({ request, intended });
          else this.options.onUnsent?.(request, "backlog full");
        }
        if (this.stopped || scheduled >= total || now >= this.endAt) resolve();
        else setTimeout(tick, 1);
      };
      tick();
    });
    // The run ends on time: arrivals still waiting were never sent (the server could not keep up);
    // only the requests in flight are awaited.
    for (const { request } of this.waiting.splice(0)) this.options.onUnsent?.(request, "run ended");
    while (this.pending.size > 0) await Promise.all(this.pending);
  }

  /** Sends one request of the open loop; as it is answered, the backlog's oldest arrival takes its place. */
  private dispatch(request: R, intended: number): void {
    const sending = this.send(request, intended).then(() => {
      this.pending.delete(sending);
      const next = Date.now() < this.endAt && !this.stopped ? this.waiting.shift() : undefined;
      if (next) this.dispatch(next.request, next.intended);
    });
    this.pending.add(sending);
  }

  private async send(request: R, intended: number): Promise<void> {
    this.inFlight++;
    this.sent++;
    const sentAt = performance.now();
    let outcome: LoadOutcome<R>;
    try {
      const reply = await this.options.client.post(request.path, request.body, { wantBody: request.wantBody, timeoutMs: this.options.timeoutMs });
      outcome = { request, intended, sentAt, answeredAt: performance.now(), reply };
    } catch (error) {
      outcome = { request, intended, sentAt, answeredAt: performance.now(), error };
    }
    try {
      this.options.onOutcome(outcome);
    } catch (error) {
      this.failure ??= { error };
      this.stopped = true;
    } finally {
      this.inFlight--;
    }
  }
}
