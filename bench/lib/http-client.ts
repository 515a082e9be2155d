import http from "node:http";

export interface HttpReply {
  status: number;
  /** The body, only when the caller asked for it (parsing costs the driver CPU it shares with the system). */
  body: string | undefined;
}

/**
 * A lean keep-alive JSON client on node:http for the measured load: the load driver shares two
 * cores with the system under test, and this client costs about 30 µs of CPU per request where
 * @settle/client (openapi-fetch over fetch) costs about 300 (bench/client-cost.ts, BENCHMARKS.md
 * "The load driver's client"). Set-up calls use @settle/client.
 */
export class HttpClient {
  private readonly agent: http.Agent;
  private readonly host: string;
  private readonly port: number;

  constructor(baseUrl: string, maxSockets: number) {
    const url = new URL(baseUrl);
    this.host = url.hostname;
    this.port = Number(url.port);
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  request(method: string, path: string, json: string | undefined, options: { wantBody?: boolean; timeoutMs?: number } = {}): Promise<HttpReply> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = {};
      if (json !== undefined) {
        headers["content-type"] = "application/json";
        headers["content-length"] = Buffer.byteLength(json);
      }
      const req = http.request({ host: this.host, port: this.port, method, path, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        const keep = options.wantBody === true || (res.statusCode ?? 0) >= 300;
        res.on("data", (chunk: Buffer) => {
          if (keep) chunks.push(chunk);
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: keep ? Buffer.concat(chunks).toString("utf8") : undefined }));
        res.on("error", reject);
      });
      req.setTimeout(options.timeoutMs ?? 30_000, () => req.destroy(new Error("client timeout")));
      req.on("error", reject);
      req.end(json);
    });
  }

  post(path: string, body: unknown, options?: { wantBody?: boolean; timeoutMs?: number }): Promise<HttpReply> {
    return this.request("POST", path, JSON.stringify(body), options);
  }

  get(path: string, options?: { wantBody?: boolean; timeoutMs?: number }): Promise<HttpReply> {
    return this.request("GET", path, undefined, options);
  }

  close(): void {
    this.agent.destroy();
  }
}

/** The contract's error code of a non-2xx reply, or the status when the body is not the contract's. */
export function failureReason(reply: HttpReply): string {
  if (reply.body) {
    try {
      const code = (JSON.parse(reply.body) as { error?: { code?: string } }).error?.code;
      if (code) return `http ${reply.status} ${code}`;
    } catch {
      // not JSON
    }
  }
  return `http ${reply.status}`;
}
