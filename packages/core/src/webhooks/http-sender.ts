// Delivers one webhook attempt over HTTP(S) and reports what happened without throwing. The target is
// chosen by a client, so the sender treats it as hostile: it never follows redirects, bounds the
// whole attempt with one timer, reads only a capped amount of the answer, and (unless insecure mode
// is on) refuses to connect to private or reserved addresses, checking them again at connect time so
// a DNS answer that changed since registration (DNS rebinding) cannot steer it into our network.
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from "node:dns";
import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import { checkWebhookUrl, isForbiddenAddress } from "./url-policy";

export interface WebhookRequest {
  url: string;
  body: string;
  headers: Record<string, string>;
}

/** `ok` means a 2xx arrived in time; `error` says why not, in a few words fit for a delivery log. */
export interface WebhookResponse {
  ok: boolean;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

/** Resolves a hostname to every address it has; `family` and `hints` are what Node asked `lookup` for. */
export type ResolveHost = (hostname: string, options: { family: number; hints: number }) => Promise<LookupAddress[]>;

export interface WebhookSenderOptions {
  timeoutMs: number;
  allowInsecure: boolean;
  /** Bytes of response body read before the connection is dropped; default 64 KiB. */
  maxResponseBytes?: number;
  maxSockets?: number;
  /** Replaces `dns.lookup`; lets tests exercise the connect-time address guard without real DNS. */
  resolve?: ResolveHost;
}

const USER_AGENT = "Settle-Webhooks/1";
const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024;
// Framing and identity belong to the sender: a caller-supplied Content-Length or Host would corrupt
// the request or aim it somewhere other than the URL that passed the policy.
const RESERVED_HEADERS = new Set(["content-type", "content-length", "user-agent", "host", "connection", "transfer-encoding"]);

/** The error a guarded lookup fails with; its message becomes the attempt's `error`. */
export class ForbiddenAddressError extends Error {
  readonly code = "ERR_WEBHOOK_FORBIDDEN_ADDRESS";
  constructor(hostname: string, address: string) {
    super(`refused: ${hostname} resolves to a private or reserved address (${address})`);
    this.name = "ForbiddenAddressError";
  }
}

export class WebhookSender {
  private readonly timeoutMs: number;
  private readonly allowInsecure: boolean;
  private readonly maxResponseBytes: number;
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private closed = false;

  constructor(options: WebhookSenderOptions) {
    this.timeoutMs = options.timeoutMs;
    this.allowInsecure = options.allowInsecure;
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    const lookup = createLookup(options.resolve ?? systemResolve, !options.allowInsecure);
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets, lookup };
    this.httpAgent = new http.Agent(agentOptions);
    this.httpsAgent = new https.Agent(agentOptions);
  }

  /** One delivery attempt; resolves (never rejects) with the outcome. */
  send(req: WebhookRequest): Promise<WebhookResponse> {
    const startedAt = performance.now();
    const elapsed = (): number => Math.round(performance.now() - startedAt);
    if (this.closed) return Promise.resolve(failure("sender closed", elapsed()));
    const target = this.admit(req.url);
    if (typeof target === "string") return Promise.resolve(failure(target, elapsed()));
    return new Promise((resolve) => this.attempt(target, req, (statusCode, error) => resolve(outcome(statusCode, error, elapsed()))));
  }

  /** Destroys pooled sockets; in-flight attempts resolve with a connection error. */
  close(): void {
    this.closed = true;
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  // Re-applies the registration policy at send time: the policy may have tightened since the URL was
  // stored, and Node skips `lookup` for IP-literal hosts, so this is the only check those get.
  private admit(raw: string): URL | string {
    const check = checkWebhookUrl(raw, { allowInsecure: this.allowInsecure });
    return check.ok ? check.url : `refused: ${check.reason}`;
  }

  private attempt(url: URL, req: WebhookRequest, settle: (statusCode: number | null, error: string | null) => void): void {
    let done = false;
    let request: http.ClientRequest | undefined;
    let statusCode: number | null = null;
    const finish = (statusCode: number | null, error: string | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      settle(statusCode, error);
    };
    // One timer for connect, upload, headers and capped body: per-phase socket timeouts would let a
    // server that trickles bytes hold the attempt open indefinitely.
    const timer = setTimeout(() => {
      finish(statusCode, `timed out after ${this.timeoutMs} ms`);
      request?.destroy();
    }, this.timeoutMs);
    try {
      request = this.open(url, req);
    } catch (err) {
      // http.request throws synchronously for malformed header names or values.
      finish(null, `invalid request: ${errorMessage(err)}`);
      return;
    }
    request.on("error", (err) => finish(statusCode, describeError(err)));
    request.on("response", (res) => {
      statusCode = res.statusCode ?? null;
      this.drain(res, () => finish(statusCode, statusError(statusCode)));
    });
    request.end(req.body);
  }

  private open(url: URL, req: WebhookRequest): http.ClientRequest {
    const secure = url.protocol === "https:";
    const headers = {
      ...callerHeaders(req.headers),
      "Content-Type": "application/json",
      "Content-Length": String(Buffer.byteLength(req.body)),
      "User-Agent": USER_AGENT,
    };
    const options = { method: "POST", headers, agent: secure ? this.httpsAgent : this.httpAgent };
    return secure ? https.request(url, options) : http.request(url, options);
  }

  // Reading the body to its end lets the keep-alive socket go back to the pool; past the cap the
  // socket is not worth saving, and destroying it stops a hostile server from streaming forever.
  private drain(res: http.IncomingMessage, done: () => void): void {
    let received = 0;
    res.on("data", (chunk: Buffer) => {
      received += chunk.length;
      if (received > this.maxResponseBytes) {
        res.destroy();
        done();
      }
    });
    res.on("end", done);
    // The status line already arrived, so a body cut short does not change the outcome.
    res.on("error", done);
    res.on("close", done);
  }
}

function outcome(statusCode: number | null, error: string | null, durationMs: number): WebhookResponse {
  return { ok: error === null && statusCode !== null && statusCode >= 200 && statusCode < 300, statusCode, error, durationMs };
}

function failure(error: string, durationMs: number): WebhookResponse {
  return { ok: false, statusCode: null, error, durationMs };
}

function statusError(statusCode: number | null): string | null {
  if (statusCode === null) return "no status code";
  if (statusCode >= 200 && statusCode < 300) return null;
  if (statusCode >= 300 && statusCode < 400) return `redirect not followed (HTTP ${statusCode})`;
  return `HTTP ${statusCode}`;
}

function callerHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !RESERVED_HEADERS.has(name.toLowerCase())));
}

const DNS_FAILURES = new Set(["ENOTFOUND", "EAI_AGAIN", "EAI_FAIL", "EAI_NODATA", "EAI_NONAME", "ENODATA"]);

function describeError(err: Error): string {
  if (err instanceof ForbiddenAddressError) return err.message;
  const code = (err as NodeJS.ErrnoException).code;
  if (code !== undefined && DNS_FAILURES.has(code)) return `DNS lookup failed (${code})`;
  if (code === "ECONNREFUSED") return "connection refused";
  if (code === "ECONNRESET") return "connection reset";
  if (code !== undefined) return `connection error (${code})`;
  return err.message;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function systemResolve(hostname: string, options: { family: number; hints: number }): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, family: options.family, hints: options.hints }, (err, addresses) => (err ? reject(err) : resolve(addresses)));
  });
}

/**
 * The `lookup` the agents connect through. With `guard` on, it fails when ANY resolved address is
 * forbidden rather than skipping those: happy-eyeballs may try several, and a name that mixes public
 * and private answers is an attack, not a misconfiguration. Answers in the shape Node asked for
 * (`all: true` wants the list, otherwise one address and its family).
 */
export function createLookup(resolve: ResolveHost, guard: boolean): LookupFunction {
  return (hostname, options, callback) => {
    const family = toFamily(options.family);
    resolve(hostname, { family, hints: options.hints ?? 0 }).then(
      (all) => answer(hostname, options, callback, guard, family, all),
      (err: NodeJS.ErrnoException) => callback(err, ""),
    );
  };
}

function answer(hostname: string, options: LookupOptions, callback: Parameters<LookupFunction>[2], guard: boolean, family: number, all: LookupAddress[]): void {
  const addresses = family === 0 ? all : all.filter((a) => a.family === family);
  const bad = guard ? addresses.find((a) => isForbiddenAddress(a.address)) : undefined;
  if (bad !== undefined) return callback(new ForbiddenAddressError(hostname, bad.address), "");
  const first = addresses[0];
  if (first === undefined) return callback(notFound(hostname), "");
  if (options.all === true) return callback(null, addresses);
  callback(null, first.address, first.family);
}

function toFamily(family: LookupOptions["family"]): number {
  if (family === "IPv4") return 4;
  if (family === "IPv6") return 6;
  return family ?? 0;
}

function notFound(hostname: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
  err.code = "ENOTFOUND";
  return err;
}
