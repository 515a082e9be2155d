// The HTTP client of generated load (the bench's measured load, the tests' steady load): lean,
// because the load driver shares the machine's cores with the system under test.
import http from "node:http";

export interface HttpReply {
  status: number;
  /** The body, only when the caller asked for it or the status is not 2xx (parsing costs the driver CPU it shares with the system). */
  body: string | undefined;
}

export interface RequestOptions {
  wantBody?: boolean;
  /** The whole request, connection included; past it the request is destroyed and fails with a TimeoutError. @defaultValue 30000 */
  timeoutMs?: number;
}

/**
 * A lean keep-alive JSON client on node:http for generated load: the load driver shares two
 * cores with the system under test, and this client costs about 30 µs of CPU per request where
 * @settle/client (openapi-fetch over fetch) costs about 300 (bench/client-cost.ts, BENCHMARKS.md
 * "The load driver's client"). Set-up calls use @settle/client.
 *
 * `baseUrl` may be a function, read at every request: a test that restarts the API on another
 * port is followed (the agent pools sockets per host and port).
 */
export class HttpClient {
  private readonly agent: http.Agent;
  private readonly baseUrl: () => string;
  private target = { url: "", host: "", port: 0 };

  constructor(baseUrl: string | (() => string), maxSockets: number) {
    this.baseUrl = typeof baseUrl === "string" ? () => baseUrl : baseUrl;
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  /** Host and port of the base URL, parsed again only when it changed. */
  private where(): { host: string; port: number } {
    const url = this.baseUrl();
    if (url !== this.target.url) {
      const parsed = new URL(url);
      this.target = { url, host: parsed.hostname, port: parsed.port ? Number(parsed.port) : 80 };
    }
    return this.target;
  }

  request(method: string, path: string, json: string | undefined, options: RequestOptions = {}): Promise<HttpReply> {
    const { host, port } = this.where();
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = {};
      if (json !== undefined) {
        headers["content-type"] = "application/json";
        headers["content-length"] = Buffer.byteLength(json);
      }
      const req = http.request({ host, port, method, path, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        const keep = options.wantBody === true || (res.statusCode ?? 0) >= 300;
        res.on("data", (chunk: Buffer) => {
          if (keep) chunks.push(chunk);
        });
        res.on("end", () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, body: keep ? Buffer.concat(chunks).toString("utf8") : undefined });
        });
        res.on("error", fail);
      });
      // A deadline for the whole request (a socket idle timeout would not cover the connection).
      const timer = setTimeout(() => req.destroy(Object.assign(new Error("client timeout"), { name: "TimeoutError" })), options.timeoutMs ?? 30_000);
      const fail = (error: Error) => {
        clearTimeout(timer);
        reject(error);
      };
      req.on("error", fail);
      req.end(json);
    });
  }

  post(path: string, body: unknown, options?: RequestOptions): Promise<HttpReply> {
    return this.request("POST", path, JSON.stringify(body), options);
  }

  get(path: string, options?: RequestOptions): Promise<HttpReply> {
    return this.request("GET", path, undefined, options);
  }

  close(): void {
    this.agent.destroy();
  }
}

/** The contract's error code in a reply's body (`{"error":{"code":…}}`), if it has one. */
export function errorCode(reply: HttpReply): string | undefined {
  if (!reply.body) return undefined;
  try {
    return (JSON.parse(reply.body) as { error?: { code?: string } }).error?.code || undefined;
  } catch {
    return undefined; // not JSON
  }
}

/** A non-2xx reply as the bench reports it: "http 503 unavailable", or "http 502" when the body is not the contract's. */
export function failureReason(reply: HttpReply): string {
  const code = errorCode(reply);
  return code ? `http ${reply.status} ${code}` : `http ${reply.status}`;
}

/** A request that got no reply, by cause: "timeout", or the error's code (ECONNREFUSED, ECONNRESET…). Also reads fetch's errors. */
export function errorReason(error: unknown): string {
  const e = error as { name?: string; cause?: { code?: string }; code?: string } | undefined;
  if (e?.name === "TimeoutError" || e?.name === "AbortError") return "timeout";
  return e?.cause?.code ?? e?.code ?? e?.name ?? "error";
}
