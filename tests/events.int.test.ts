// Events and webhooks (docs/API.md "Events" and "Webhooks"): every change writes its event in its
// own transaction; GET /events pages through them in order; webhook endpoints receive the types
// they subscribe to, signed, retried with backoff until delivered, and nothing once disabled or
// deleted. A real HTTP receiver on 127.0.0.1 stands for the client.
import { purgeEvents, verifyWebhookSignature } from "@settle/core";
import { waitFor } from "@settle/core/testing";
import { startInProcess, type InProcessSystem } from "./support/in-process";
import { client, newAccount, settled, type ApiClient } from "./support/http";
import { WebhookReceiver } from "./support/webhook-receiver";

let system: InProcessSystem;
let api: ApiClient;
const receivers: WebhookReceiver[] = [];

beforeAll(async () => {
  system = await startInProcess("events", {
    workers: 2,
    // Seconds, not days: new events dispatched every 100 ms, retries 100 ms apart (doubling),
    // given up 6 s after the event, an endpoint disabled after 2 deliveries given up in a row.
    env: {
      WEBHOOK_ALLOW_INSECURE: "true",
      WEBHOOK_POLL_MS: "100",
      WEBHOOK_RETRY_BASE_MS: "100",
      WEBHOOK_RETRY_HOURS: String(6 / 3600),
      WEBHOOK_DISABLE_AFTER: "2",
      WEBHOOK_TIMEOUT_MS: "2000",
    },
  });
  api = client(system.api.url);
});
afterAll(async () => {
  await system.stop();
  await Promise.all(receivers.map((r) => r.close()));
});

async function receiver(answer?: Parameters<typeof WebhookReceiver.start>[0]): Promise<WebhookReceiver> {
  const r = await WebhookReceiver.start(answer);
  receivers.push(r);
  return r;
}

async function allEvents(params = "", pageSize = 7): Promise<{ id: string; type: string; data: any; created_at: string }[]> {
  const events = [];
  let after: string | null = null;
  for (;;) {
    const page: any = (await api.get(`/api/v1/events?limit=${pageSize}${after ? `&after=${after}` : ""}${params}`)).body;
    events.push(...page.events);
    if (page.events.length < pageSize) return events;
    after = page.next_after;
  }
}

async function funded(amount: string): Promise<string> {
  const id = await newAccount(api);
  const deposit = await api.post("/api/v1/deposits", { account_id: id, amount });
  expect((await settled(api, deposit.body.id)).status).toBe("completed");
  return id;
}

const waitSettledOps = (paymentId: string) => api.get(`/api/v1/payments/${paymentId}?wait=10`);

it("writes one event per change, in order, each with the payment or account as the change left it", async () => {
  const endpoint = await api.post("/api/v1/webhook-endpoints", { url: (await receiver()).url(), events: ["*"] });
  expect(endpoint.status).toBe(201);
  const [payer, payee] = [await funded("100.00"), await newAccount(api)];
  const paid = await api.post("/api/v1/payments", { from_account: payer, to_account: payee, amount: "30.00" });
  const refused = await api.post("/api/v1/payments", { from_account: payer, to_account: payee, amount: "500.00" });
  expect((await settled(api, paid.body.id)).status).toBe("completed");
  expect(await settled(api, refused.body.id)).toMatchObject({ status: "failed", failure_reason: "insufficient_funds" });
  for (const op of ["dispute", "resolve"]) {
    expect((await api.post(`/api/v1/payments/${paid.body.id}/${op}`)).status).toBe(202);
    await waitSettledOps(paid.body.id);
  }
  const second = await api.post("/api/v1/payments", { from_account: payer, to_account: payee, amount: "10.00" });
  expect((await settled(api, second.body.id)).status).toBe("completed");
  for (const op of ["dispute", "chargeback"]) {
    expect((await api.post(`/api/v1/payments/${second.body.id}/${op}`)).status).toBe(202);
    await waitSettledOps(second.body.id);
  }
  expect((await api.post(`/api/v1/accounts/${payee}/unfreeze`)).status).toBe(200);
  // Freezing twice is one change: one event.
  expect((await api.post(`/api/v1/accounts/${payer}/freeze`)).status).toBe(200);
  expect((await api.post(`/api/v1/accounts/${payer}/freeze`)).status).toBe(200);

  const mine = (await allEvents()).filter((e) =>
    [e.data.payment?.from_account, e.data.payment?.to_account, e.data.account?.id].some((id) => id === payer || id === payee),
  );
  expect(mine.map((e) => [e.type, e.data.payment?.id ?? e.data.account.id])).toEqual([
    ["payment.completed", expect.any(String)], // the payer's deposit
    ["payment.completed", paid.body.id],
    ["payment.failed", refused.body.id],
    ["dispute.opened", paid.body.id],
    ["dispute.resolved", paid.body.id],
    ["payment.completed", second.body.id],
    ["dispute.opened", second.body.id],
    ["dispute.charged_back", second.body.id],
    ["account.frozen", payee],
    ["account.unfrozen", payee],
    ["account.frozen", payer],
  ]);
  // Each shows the state the change left: the dispute status step by step; the payee frozen by the
  // chargeback, its 30.00 of the resolved payment left, the 10.00 charged back gone.
  expect(mine.filter((e) => e.data.payment?.id === paid.body.id).map((e) => [e.data.payment.status, e.data.payment.dispute_status])).toEqual([
    ["completed", "none"],
    ["completed", "open"],
    ["completed", "resolved"],
  ]);
  expect(mine.find((e) => e.type === "payment.failed")!.data.payment).toEqual(await api.settle.getPayment(refused.body.id));
  expect(mine.find((e) => e.type === "account.frozen" && e.data.account.id === payee)!.data.account).toMatchObject({
    status: "frozen",
    available: "30.00",
    held: "0.00",
  });
  expect(mine.every((e) => /^[0-9a-f-]{36}$/.test(e.id) && !Number.isNaN(Date.parse(e.created_at)))).toBe(true);
  // By type: the same events of that type, in the same order.
  const disputes = (await allEvents("&type=dispute.opened", 3)).filter((e) => [paid.body.id, second.body.id].includes(e.data.payment.id));
  expect(disputes.map((e) => e.data.payment.id)).toEqual([paid.body.id, second.body.id]);
});

it("pages the feed with a cursor that never skips: next_after continues where the last page ended", async () => {
  const first = await api.get("/api/v1/events?limit=2");
  expect(first.status).toBe(200);
  expect(first.body.events).toHaveLength(2);
  const rest = await api.get(`/api/v1/events?limit=500&after=${first.body.next_after}`);
  const all = await api.get("/api/v1/events?limit=500");
  expect([...first.body.events, ...rest.body.events].map((e: { id: string }) => e.id)).toEqual(all.body.events.map((e: { id: string }) => e.id));
  // Past the end: nothing, and the same cursor to ask again later.
  const end = await api.get(`/api/v1/events?after=${all.body.next_after}`);
  expect(end.body).toEqual({ events: [], next_after: all.body.next_after });
});

it("never lets a cursor skip an event whose transaction commits late", async () => {
  // Transaction A writes an event and stays open (a slow settle round); B, begun later, writes one
  // and commits first. Ordered by time or id, a reader would get B's event and a cursor past A's.
  const tail = async () => (await api.get(`/api/v1/events?limit=500${cursor ? `&after=${cursor}` : ""}`)).body;
  let cursor: string | null = (await api.get("/api/v1/events?limit=500")).body.next_after;
  // Pages to the end: the cursor a polling client holds.
  for (let page = await tail(); page.events.length > 0; page = await tail()) cursor = page.next_after;
  const a = await system.db.pool.connect();
  try {
    await a.query("BEGIN");
    await a.query("INSERT INTO events (id, type, data) VALUES (gen_random_uuid(), 'account.frozen', $1)", [JSON.stringify({ account: { id: "late" } })]);
    await system.db.pool.query("INSERT INTO events (id, type, data) VALUES (gen_random_uuid(), 'account.frozen', $1)", [
      JSON.stringify({ account: { id: "early" } }),
    ]);
    // B's event is committed, but not shown while A, older, may still add one before it.
    const meanwhile = await tail();
    expect(meanwhile.events.map((e: { data: { account?: { id: string } } }) => e.data.account?.id)).not.toContain("early");
    expect(meanwhile.next_after).toBe(cursor);
    await a.query("COMMIT");
  } finally {
    a.release();
  }
  const page = await tail();
  expect(page.events.map((e: { data: { account?: { id: string } } }) => e.data.account?.id)).toEqual(["late", "early"]);
  // Remove the two rows (they name no real account): the later tests check events against changes.
  await system.db.pool.query("DELETE FROM events WHERE data->'account'->>'id' IN ('late', 'early')");
});

it("refuses a malformed query with the rule", async () => {
  for (const [query, path, message] of [
    ["limit=0", "limit", "must be an integer from 1 to 500"],
    ["after=abc", "after", "must be a next_after of an earlier answer"],
    ["type=payment.done", "type", expect.stringContaining("must be one of payment.completed")],
    ["cursor=1", "(query)", "unknown field(s): cursor"],
  ] as const) {
    const res = await api.get(`/api/v1/events?${query}`);
    expect([res.status, res.body.error.code, res.body.error.details[0]]).toEqual([400, "invalid_request", { path, message }]);
  }
});

it("delivers the subscribed events, signed, with Settle-Event-Id, and lists the attempts", async () => {
  const hooks = await receiver();
  const created = await api.post("/api/v1/webhook-endpoints", { url: hooks.url("/only-completed"), events: ["payment.completed"], description: "orders" });
  expect(created.body).toMatchObject({ url: hooks.url("/only-completed"), events: ["payment.completed"], description: "orders", status: "enabled" });
  expect(created.body.secret).toMatch(/^whsec_/);
  expect(created.headers.get("location")).toBe(`/api/v1/webhook-endpoints/${created.body.id}`);
  // The secret is shown once: never by a read.
  expect((await api.get(`/api/v1/webhook-endpoints/${created.body.id}`)).body).not.toHaveProperty("secret");

  const [payer, payee] = [await funded("20.00"), await newAccount(api)];
  const ok = await api.post("/api/v1/payments", { from_account: payer, to_account: payee, amount: "5.00" });
  const failed = await api.post("/api/v1/payments", { from_account: payer, to_account: payee, amount: "50.00" });
  await settled(api, ok.body.id);
  await settled(api, failed.body.id);
  await waitFor(() => hooks.received.some((d) => d.event.data.payment?.id === ok.body.id), { timeoutMs: 10_000, what: "the delivery" });

  const delivery = hooks.received.find((d) => d.event.data.payment.id === ok.body.id)!;
  expect(delivery.headers["content-type"]).toBe("application/json");
  expect(delivery.headers["settle-event-id"]).toBe(delivery.event.id);
  expect(verifyWebhookSignature({ payload: delivery.raw, header: delivery.headers["settle-signature"] as string, secret: created.body.secret })).toBe(true);
  expect(() => verifyWebhookSignature({ payload: delivery.raw, header: delivery.headers["settle-signature"] as string, secret: "whsec_other" })).toThrow(
    /no v1 signature/,
  );
  expect(delivery.event).toMatchObject({ type: "payment.completed", data: { payment: { id: ok.body.id, status: "completed", amount: "5.00" } } });
  // Only the subscribed type: the failed payment's event is not sent here.
  expect(hooks.received.every((d) => d.event.type === "payment.completed")).toBe(true);
  // The same event as the feed has it.
  const feed = await allEvents("&type=payment.completed", 500);
  expect(feed.find((e) => e.id === delivery.event.id)).toEqual(delivery.event);

  const attempts = await api.get(`/api/v1/webhook-endpoints/${created.body.id}/deliveries`);
  expect(attempts.body.attempts.find((a: { event_id: string }) => a.event_id === delivery.event.id)).toMatchObject({
    attempt: 1,
    status_code: 200,
    error: null,
    next_retry_at: null,
    delivery_status: "delivered",
  });
});

it("retries a failing receiver with backoff: 500 three times, then 200 on the 4th attempt", async () => {
  const hooks = await receiver((_delivery, previous) => (previous < 3 ? 500 : 200));
  const endpoint = (await api.post("/api/v1/webhook-endpoints", { url: hooks.url(), events: ["account.frozen"] })).body;
  const account = await newAccount(api);
  await api.post(`/api/v1/accounts/${account}/freeze`);
  await waitFor(() => hooks.received.some((d) => d.event.data.account.id === account && hooks.of(d.event.id).length === 4), {
    timeoutMs: 15_000,
    what: "the 4th attempt",
  });
  const eventId = hooks.received.find((d) => d.event.data.account.id === account)!.event.id;
  const times = hooks.of(eventId).map((d) => d.receivedAt);
  // Exponential: each wait at least half the doubled base (jitter), so growing overall.
  expect(times[3]! - times[0]!).toBeGreaterThanOrEqual(50 + 100 + 200);
  await waitFor(
    async () => {
      const list = (await api.get(`/api/v1/webhook-endpoints/${endpoint.id}/deliveries`)).body.attempts.filter(
        (a: { event_id: string }) => a.event_id === eventId,
      );
      return list.length === 4 && list;
    },
    { timeoutMs: 5000, what: "4 attempts listed" },
  ).then((list: { attempt: number; status_code: number; error: string | null; next_retry_at: string | null; delivery_status: string }[]) => {
    expect(list.map((a) => [a.attempt, a.status_code, a.error, a.next_retry_at === null])).toEqual([
      [4, 200, null, true],
      [3, 500, "HTTP 500", false],
      [2, 500, "HTTP 500", false],
      [1, 500, "HTTP 500", false],
    ]);
    expect(list.every((a) => a.delivery_status === "delivered")).toBe(true);
  });
  // Delivered once it succeeded: never again.
  await new Promise((r) => setTimeout(r, 500));
  expect(hooks.of(eventId)).toHaveLength(4);
});

it("gives a delivery up after the retry window, disables an endpoint whose deliveries keep failing, and sends nothing to it after", async () => {
  const hooks = await receiver(() => 503);
  const endpoint = (await api.post("/api/v1/webhook-endpoints", { url: hooks.url(), events: ["account.unfrozen"] })).body;
  const accounts = [await newAccount(api), await newAccount(api)];
  for (const a of accounts) {
    await api.post(`/api/v1/accounts/${a}/freeze`);
    await api.post(`/api/v1/accounts/${a}/unfreeze`);
  }
  await waitFor(async () => (await api.get(`/api/v1/webhook-endpoints/${endpoint.id}`)).body.status === "disabled", {
    timeoutMs: 20_000,
    what: "the endpoint to be disabled",
  });
  const attempts = (await api.get(`/api/v1/webhook-endpoints/${endpoint.id}/deliveries?limit=500`)).body.attempts;
  expect(new Set(attempts.filter((a: { delivery_status: string }) => a.delivery_status === "failed").map((a: { event_id: string }) => a.event_id)).size).toBe(
    2,
  );
  const before = hooks.received.length;
  const later = await newAccount(api);
  await api.post(`/api/v1/accounts/${later}/freeze`);
  await api.post(`/api/v1/accounts/${later}/unfreeze`);
  // Its event exists, and is not sent to the disabled endpoint.
  await waitFor(async () => (await allEvents("&type=account.unfrozen", 500)).some((e) => e.data.account.id === later), { timeoutMs: 5000, what: "the event" });
  await new Promise((r) => setTimeout(r, 1000));
  expect(hooks.received.length).toBe(before);

  // Enabled again (the receiver fixed): the events from now on arrive; those of the time it was
  // disabled do not (they stay in the feed).
  hooks.answer = () => 200;
  const enabled = await api.post(`/api/v1/webhook-endpoints/${endpoint.id}/enable`);
  expect([enabled.status, enabled.body.status]).toEqual([200, "enabled"]);
  const after = await newAccount(api);
  await api.post(`/api/v1/accounts/${after}/freeze`);
  await api.post(`/api/v1/accounts/${after}/unfreeze`);
  await waitFor(() => hooks.received.some((d) => d.event.data.account.id === after), { timeoutMs: 10_000, what: "the event after enabling" });
  expect(hooks.received.some((d) => d.event.data.account.id === later)).toBe(false);
  // And disabled by hand: nothing more.
  expect((await api.post(`/api/v1/webhook-endpoints/${endpoint.id}/disable`)).body.status).toBe("disabled");
});

it("sends nothing to a deleted endpoint, and 404s it after", async () => {
  const hooks = await receiver();
  const endpoint = (await api.post("/api/v1/webhook-endpoints", { url: hooks.url(), events: ["account.frozen"] })).body;
  expect((await api.call("DELETE", `/api/v1/webhook-endpoints/${endpoint.id}`)).status).toBe(204);
  expect((await api.get(`/api/v1/webhook-endpoints/${endpoint.id}`)).body.error).toEqual({ code: "not_found", message: "webhook endpoint not found" });
  expect((await api.call("DELETE", `/api/v1/webhook-endpoints/${endpoint.id}`)).status).toBe(404);
  const account = await newAccount(api);
  await api.post(`/api/v1/accounts/${account}/freeze`);
  await waitFor(async () => (await allEvents("&type=account.frozen", 500)).some((e) => e.data.account.id === account), { timeoutMs: 5000, what: "the event" });
  await new Promise((r) => setTimeout(r, 1000));
  expect(hooks.received).toEqual([]);
});

it("rotates a secret: both the new and the previous one sign until the previous one expires", async () => {
  const hooks = await receiver();
  const created = (await api.post("/api/v1/webhook-endpoints", { url: hooks.url(), events: ["account.frozen"] })).body;
  const rotated = await api.post(`/api/v1/webhook-endpoints/${created.id}/rotate-secret`);
  expect(rotated.status).toBe(200);
  expect(rotated.body.secret).toMatch(/^whsec_/);
  expect(rotated.body.secret).not.toBe(created.secret);
  const account = await newAccount(api);
  await api.post(`/api/v1/accounts/${account}/freeze`);
  await waitFor(() => hooks.received.length > 0, { timeoutMs: 10_000, what: "the delivery" });
  const [delivery] = hooks.received;
  const header = delivery!.headers["settle-signature"] as string;
  expect(header.match(/v1=/g)).toHaveLength(2);
  for (const secret of [created.secret, rotated.body.secret]) expect(verifyWebhookSignature({ payload: delivery!.raw, header, secret })).toBe(true);
});

it("lists endpoints with cursor paging, never with their secrets", async () => {
  const page = await api.get("/api/v1/webhook-endpoints?limit=2");
  expect(page.status).toBe(200);
  expect(page.body.webhook_endpoints).toHaveLength(2);
  expect(page.body.webhook_endpoints.every((e: object) => !("secret" in e))).toBe(true);
  const next = await api.get(`/api/v1/webhook-endpoints?limit=500&after=${page.body.next_after}`);
  expect(next.body.webhook_endpoints[0].id > page.body.webhook_endpoints[1].id).toBe(true);
  expect(next.body.next_after).toBeNull();
});

it("refuses a bad endpoint with the rule, and writes nothing", async () => {
  const count = async () => (await api.get("/api/v1/webhook-endpoints?limit=500")).body.webhook_endpoints.length;
  const before = await count();
  for (const [body, path, message] of [
    [{ url: "ftp://example.com/x", events: ["*"] }, "url", "must use http or https"],
    [{ url: "https://example.com/x", events: [] }, "events", "must name at least one event type, or *"],
    [{ url: "https://example.com/x", events: ["payment.done"] }, "events.0", expect.stringContaining('each must be "*" or one of')],
    [{ url: "https://example.com/x", events: ["*"], secret: "mine" }, "(body)", "unknown field(s): secret"],
  ] as const) {
    const res = await api.post("/api/v1/webhook-endpoints", body);
    expect([res.status, res.body.error.code, res.body.error.details[0]]).toEqual([400, "invalid_request", { path, message }]);
  }
  expect(await count()).toBe(before);
});

it("counts attempts by outcome and reports the retry backlog and the oldest undelivered event", async () => {
  // Summed over both workers: by now the tests above delivered, retried and gave up.
  const texts = await Promise.all(system.workers.map((w) => w.metrics.registry.metrics()));
  const sum = (outcome: string) =>
    texts.reduce((n, t) => n + Number(new RegExp(`^settle_webhook_attempts_total\\{outcome="${outcome}"\\} (\\d+)`, "m").exec(t)?.[1] ?? 0), 0);
  expect(sum("delivered")).toBeGreaterThan(0);
  expect(sum("retrying")).toBeGreaterThanOrEqual(3 + 2);
  expect(sum("failed")).toBeGreaterThanOrEqual(2);
  for (const t of texts) {
    expect(t).toMatch(/^settle_webhook_retry_backlog \d+/m);
    expect(t).toMatch(/^settle_webhook_oldest_undelivered_seconds [\d.e+-]+/m);
  }
});

it("purges events past their retention, with their retries and attempts, and keeps the rest", async () => {
  // Attempts are written by the workers' webhook delivery (an earlier test's retries may still be
  // due): with no worker running, the counts below cannot move under the purge.
  await Promise.all(system.workers.map((w) => w.stop()));
  system.workers.length = 0;
  const pool = system.db.pool;
  const count = async (table: string) => Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n);
  const [events, retries, attempts] = [await count("events"), await count("webhook_deliveries"), await count("webhook_attempts")];
  // The oldest half of the feed, as if written 31 days ago, with everything attached to it.
  const { rows: old } = await pool.query<{ id: string }>(
    `UPDATE events SET created_at = now() - interval '31 days'
      WHERE id IN (SELECT id FROM events ORDER BY xid, seq LIMIT (SELECT count(*) / 2 FROM events)) RETURNING id`,
  );
  const oldIds = old.map((r) => r.id);
  await pool.query("UPDATE webhook_attempts SET attempted_at = now() - interval '31 days' WHERE event_id = ANY($1::uuid[])", [oldIds]);
  const oldRetries = Number(
    (await pool.query<{ n: string }>("SELECT count(*) AS n FROM webhook_deliveries WHERE event_id = ANY($1::uuid[])", [oldIds])).rows[0]!.n,
  );
  const oldAttempts = Number(
    (await pool.query<{ n: string }>("SELECT count(*) AS n FROM webhook_attempts WHERE event_id = ANY($1::uuid[])", [oldIds])).rows[0]!.n,
  );

  expect(await purgeEvents(pool, 30, 7)).toBe(oldIds.length);
  expect(await count("events")).toBe(events - oldIds.length);
  expect(await count("webhook_deliveries")).toBe(retries - oldRetries);
  expect(await count("webhook_attempts")).toBe(attempts - oldAttempts);
  // What is left is the newer half, still in order for the feed.
  expect((await allEvents("", 500)).some((e) => oldIds.includes(e.id))).toBe(false);
  expect(await purgeEvents(pool, 30)).toBe(0);
});
