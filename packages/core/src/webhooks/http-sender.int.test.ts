import http from "node:http";
import type { AddressInfo } from "node:net";
import type { LookupAddress } from "node:dns";
import { createLookup, WebhookSender, type ResolveHost, type WebhookSenderOptions } from "./http-sender";

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

interface TestServer {
  port: number;
  base: string;
  received: Received[];
  connections: () => number;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

const servers: http.Server[] = [];
const senders: WebhookSender[] = [];

afterAll(async () => {
  for (const sender of senders) sender.close();
  await Promise.all(servers.map(closeServer));
});

function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

async function startServer(handler: Handler): Promise<TestServer> {
  const received: Received[] = [];
  let connections = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      received.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      handler(req, res, body);
    });
  });
  server.on("connection", () => connections++);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return { port, base: `http://127.0.0.1:${port}`, received, connections: () => connections };
}

function sender(options: Partial<WebhookSenderOptions> = {}): WebhookSender {
  const created = new WebhookSender({ timeoutMs: 5_000, allowInsecure: true, ...options });
  senders.push(created);
  return created;
}

function respond(status: number, body = ""): Handler {
  return (_req, res) => {
    res.writeHead(status, { "content-type": "text/plain" });
    res.end(body);
  };
}

const post = (url: string, body = '{"event":"payment.settled"}', headers: Record<string, string> = {}) => ({ url, body, headers });

/** A resolver standing in for DNS, so the connect-time guard is exercised without a network. */
function fakeResolve(...addresses: string[]): jest.MockedFunction<ResolveHost> {
  const answer: LookupAddress[] = addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  return jest.fn<ReturnType<ResolveHost>, Parameters<ResolveHost>>(() => Promise.resolve(answer));
}

describe("WebhookSender delivering", () => {
  it("POSTs the exact body with its headers and reports a 2xx as delivered", async () => {
    const server = await startServer(respond(204));
    const body = JSON.stringify({ id: "evt_1", amount: "12.50", note: "café ☕" });
    const headers = { "Settle-Signature": "t=1,v1=abc", "Settle-Event-Id": "evt_1" };
    const result = await sender().send(post(`${server.base}/hooks/settle?v=1`, body, headers));

    expect(result).toEqual({ ok: true, statusCode: 204, error: null, durationMs: expect.any(Number) });
    expect(server.received).toHaveLength(1);
    const [got] = server.received;
    expect(got?.method).toBe("POST");
    expect(got?.url).toBe("/hooks/settle?v=1");
    expect(got?.body).toBe(body);
    expect(got?.headers).toMatchObject({
      "content-type": "application/json",
      "content-length": String(Buffer.byteLength(body)),
      "user-agent": "Settle-Webhooks/1",
      "settle-signature": "t=1,v1=abc",
      "settle-event-id": "evt_1",
      host: `127.0.0.1:${server.port}`,
    });
  });

  it("keeps its own framing and identity headers when the caller supplies others", async () => {
    const server = await startServer(respond(200));
    const headers = { "content-type": "text/plain", "User-Agent": "evil", "Content-Length": "1", Host: "internal.example" };
    const result = await sender().send(post(`${server.base}/`, '{"a":1}', headers));

    expect(result.ok).toBe(true);
    expect(server.received[0]?.headers).toMatchObject({
      "content-type": "application/json",
      "content-length": "7",
      "user-agent": "Settle-Webhooks/1",
      host: `127.0.0.1:${server.port}`,
    });
    expect(server.received[0]?.body).toBe('{"a":1}');
  });

  it("reuses a kept-alive connection for consecutive deliveries", async () => {
    const server = await startServer(respond(200, "thanks"));
    const webhooks = sender();
    expect((await webhooks.send(post(`${server.base}/1`))).ok).toBe(true);
    // The socket returns to the pool once the response has been fully consumed.
    await new Promise((resolve) => setImmediate(resolve));
    expect((await webhooks.send(post(`${server.base}/2`))).ok).toBe(true);
    expect(server.received.map((r) => r.url)).toEqual(["/1", "/2"]);
    expect(server.connections()).toBe(1);
  });

  it("reports a 500 as a failure with its status code", async () => {
    const server = await startServer(respond(500, "boom"));
    const result = await sender().send(post(`${server.base}/`));
    expect(result).toEqual({ ok: false, statusCode: 500, error: "HTTP 500", durationMs: expect.any(Number) });
  });

  it("does not follow a redirect", async () => {
    const target = await startServer(respond(200));
    const server = await startServer((_req, res) => {
      res.writeHead(302, { location: `${target.base}/elsewhere` });
      res.end();
    });
    const result = await sender().send(post(`${server.base}/`));

    expect(result).toEqual({ ok: false, statusCode: 302, error: "redirect not followed (HTTP 302)", durationMs: expect.any(Number) });
    expect(server.received).toHaveLength(1);
    expect(target.received).toHaveLength(0);
    expect(target.connections()).toBe(0);
  });

  it("times out a server that never answers", async () => {
    const server = await startServer(() => undefined);
    const result = await sender({ timeoutMs: 300 }).send(post(`${server.base}/`));

    expect(result).toEqual({ ok: false, statusCode: null, error: "timed out after 300 ms", durationMs: expect.any(Number) });
    expect(server.received).toHaveLength(1);
  });

  it("counts a body that stalls after the status line against the same timeout", async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("partial");
    });
    const result = await sender({ timeoutMs: 300 }).send(post(`${server.base}/`));
    expect(result).toEqual({ ok: false, statusCode: 200, error: "timed out after 300 ms", durationMs: expect.any(Number) });
  });

  it("lets the status code decide when the response body is 1 MiB", async () => {
    const big = "x".repeat(1024 * 1024);
    const okServer = await startServer(respond(200, big));
    const failingServer = await startServer(respond(503, big));
    const webhooks = sender();

    expect(await webhooks.send(post(`${okServer.base}/`))).toEqual({ ok: true, statusCode: 200, error: null, durationMs: expect.any(Number) });
    expect(await webhooks.send(post(`${failingServer.base}/`))).toEqual({ ok: false, statusCode: 503, error: "HTTP 503", durationMs: expect.any(Number) });
  });

  it("hangs up on an endless body instead of reading it", async () => {
    let hungUp!: (wroteAll: boolean) => void;
    const serverSawHangUp = new Promise<boolean>((resolve) => (hungUp = resolve));
    const server = await startServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      res.on("close", () => hungUp(res.writableFinished));
      streamForever(res);
    });
    // Were the body read to its (non-existent) end, this would time out rather than succeed.
    const result = await sender({ timeoutMs: 10_000, maxResponseBytes: 16 * 1024 }).send(post(`${server.base}/`));

    expect(result).toEqual({ ok: true, statusCode: 200, error: null, durationMs: expect.any(Number) });
    expect(await serverSawHangUp).toBe(false);
  });

  it("reports a refused connection", async () => {
    const server = await startServer(respond(200));
    const closedPort = server.port;
    await closeServer(servers.pop() as http.Server);
    const result = await sender().send(post(`http://127.0.0.1:${closedPort}/`));
    expect(result).toEqual({ ok: false, statusCode: null, error: "connection refused", durationMs: expect.any(Number) });
  });

  it("reports a DNS failure", async () => {
    const notFound = Object.assign(new Error("getaddrinfo ENOTFOUND hooks.invalid"), { code: "ENOTFOUND" });
    const webhooks = sender({ resolve: () => Promise.reject(notFound) });
    const result = await webhooks.send(post("http://hooks.invalid/"));
    expect(result).toEqual({ ok: false, statusCode: null, error: "DNS lookup failed (ENOTFOUND)", durationMs: expect.any(Number) });
  });

  it("connects through the injected resolver, in the shape Node asks for", async () => {
    const server = await startServer(respond(200));
    const resolve = fakeResolve("127.0.0.1");
    const result = await sender({ resolve }).send(post(`http://hooks.example.test:${server.port}/`));

    expect(result.ok).toBe(true);
    expect(resolve).toHaveBeenCalledWith("hooks.example.test", expect.objectContaining({ family: expect.any(Number) }));
    expect(server.received[0]?.headers.host).toBe(`hooks.example.test:${server.port}`);
  });

  it("does not throw on a header Node refuses to send", async () => {
    const server = await startServer(respond(200));
    const result = await sender().send(post(`${server.base}/`, "{}", { "X-Bad": "a\r\nInjected: yes" }));
    expect(result).toMatchObject({ ok: false, statusCode: null, error: expect.stringMatching(/^invalid request: /) });
    expect(server.received).toHaveLength(0);
  });

  it("refuses to send once closed", async () => {
    const server = await startServer(respond(200));
    const webhooks = sender();
    webhooks.close();
    expect(await webhooks.send(post(`${server.base}/`))).toMatchObject({ ok: false, statusCode: null, error: "sender closed" });
    expect(server.connections()).toBe(0);
  });
});

describe("WebhookSender guarding private addresses (allowInsecure false)", () => {
  it("refuses http without connecting", async () => {
    const server = await startServer(respond(200));
    const result = await sender({ allowInsecure: false }).send(post(`${server.base}/`));

    expect(result).toEqual({ ok: false, statusCode: null, error: "refused: url: must use https", durationMs: expect.any(Number) });
    expect(server.connections()).toBe(0);
  });

  it("refuses private IP literals and localhost before connecting, since Node never looks those up", async () => {
    const server = await startServer(respond(200));
    const resolve = fakeResolve("127.0.0.1");
    const webhooks = sender({ allowInsecure: false, resolve });

    const literal = await webhooks.send(post(`https://127.0.0.1:${server.port}/`));
    expect(literal).toMatchObject({ ok: false, statusCode: null, error: "refused: url: must not point to a private, loopback or reserved address" });
    const mapped = await webhooks.send(post(`https://[::ffff:127.0.0.1]:${server.port}/`));
    expect(mapped).toMatchObject({ ok: false, error: "refused: url: must not point to a private, loopback or reserved address" });
    const byName = await webhooks.send(post(`https://localhost:${server.port}/`));
    expect(byName).toMatchObject({ ok: false, statusCode: null, error: "refused: url: must not point to localhost" });

    expect(resolve).not.toHaveBeenCalled();
    expect(server.connections()).toBe(0);
  });

  it("refuses at connect time a public-looking name that resolves to a private address", async () => {
    const server = await startServer(respond(200));
    const resolve = fakeResolve("127.0.0.1");
    const result = await sender({ allowInsecure: false, resolve }).send(post(`https://hooks.example.test:${server.port}/`));

    expect(result).toEqual({
      ok: false,
      statusCode: null,
      error: "refused: hooks.example.test resolves to a private or reserved address (127.0.0.1)",
      durationMs: expect.any(Number),
    });
    expect(resolve).toHaveBeenCalledWith("hooks.example.test", expect.anything());
    expect(server.connections()).toBe(0);
  });

  it("refuses a name when any of its addresses is private, not just the first", async () => {
    const resolve = fakeResolve("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "10.0.0.5");
    const result = await sender({ allowInsecure: false, resolve }).send(post("https://hooks.example.test/"));
    expect(result).toMatchObject({ ok: false, statusCode: null, error: "refused: hooks.example.test resolves to a private or reserved address (10.0.0.5)" });
  });
});

describe("createLookup", () => {
  type Answer = { err: NodeJS.ErrnoException | null; address: string | LookupAddress[]; family?: number };

  function lookUp(resolve: ResolveHost, guard: boolean, options: Parameters<ReturnType<typeof createLookup>>[1]): Promise<Answer> {
    return new Promise((done) => createLookup(resolve, guard)("hooks.example.test", options, (err, address, family) => done({ err, address, family })));
  }

  it("answers with the whole list when Node asks for all addresses", async () => {
    const answer = await lookUp(fakeResolve("93.184.216.34", "2606:4700::1111"), true, { all: true });
    expect(answer.err).toBeNull();
    expect(answer.address).toEqual([
      { address: "93.184.216.34", family: 4 },
      { address: "2606:4700::1111", family: 6 },
    ]);
  });

  it("answers with one address and its family otherwise, honouring a requested family", async () => {
    const resolve = fakeResolve("2606:4700::1111", "93.184.216.34");
    expect(await lookUp(resolve, true, {})).toEqual({ err: null, address: "2606:4700::1111", family: 6 });
    expect(await lookUp(resolve, true, { family: 4 })).toEqual({ err: null, address: "93.184.216.34", family: 4 });
    expect(await lookUp(resolve, true, { family: "IPv6", all: true })).toMatchObject({ err: null, address: [{ address: "2606:4700::1111", family: 6 }] });
  });

  it("fails with ENOTFOUND when no address of the requested family exists", async () => {
    const answer = await lookUp(fakeResolve("93.184.216.34"), true, { family: 6 });
    expect(answer.err?.code).toBe("ENOTFOUND");
  });

  it("refuses forbidden addresses only when guarding", async () => {
    const guarded = await lookUp(fakeResolve("169.254.169.254"), true, { all: true });
    expect(guarded.err?.code).toBe("ERR_WEBHOOK_FORBIDDEN_ADDRESS");
    const unguarded = await lookUp(fakeResolve("169.254.169.254"), false, { all: true });
    expect(unguarded).toMatchObject({ err: null, address: [{ address: "169.254.169.254", family: 4 }] });
  });
});

// Writes 64 KiB chunks, respecting backpressure, until the client hangs up (or an absurd amount has
// gone out, so a broken sender fails the test instead of spinning forever).
function streamForever(res: http.ServerResponse): void {
  const chunk = Buffer.alloc(64 * 1024, "y");
  let sent = 0;
  const pump = (): void => {
    while (!res.destroyed && sent < 512 * 1024 * 1024) {
      sent += chunk.length;
      if (!res.write(chunk)) return void res.once("drain", pump);
    }
    if (!res.destroyed) res.end();
  };
  pump();
}
