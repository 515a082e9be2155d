// Requests on one payment or one account sent at the same moment, settled by several real worker
// processes: concurrent refunds of one payment, a capture racing a void, concurrent captures of one
// authorization, captures and voids around (and, with the workers paused, applied after) an
// authorization's expiry, a refund racing a dispute, concurrent payments from an account with an
// overdraft limit, and a limit changed while payments wait. Each is decided under a lock
// (docs/API.md "Refunds", "Authorize, then capture or void", "Overdraft limits"): what is accepted
// never exceeds what is there, and the ledger verifies at the end.
import { formatMoney, MoneyDecimal, type Money } from "@settle/core";
import { waitFor } from "@settle/core/testing";
import { assertInvariants, fundAccounts, ProcessCluster } from "./support/processes";
import { client, type ApiClient, type HttpResult } from "./support/http";

jest.setTimeout(180_000);

const WORKERS = 3;
const CLIENT_KEY = "ops-races-client-key-0123456789";
const ADMIN_KEY = "ops-races-admin-key-0123456789ab";
const FUNDS = "1000.00";

let cluster: ProcessCluster;
let user: ApiClient;
let admin: ApiClient;
let accounts: string[];
/** Every plain payment (transfer, deposit, withdrawal, refund) accepted: each must end completed or failed. */
const plainPayments: string[] = [];

const money = (s: string): Money => new MoneyDecimal(s);
const fmt = (m: Money): string => formatMoney(m);
const sum = (xs: Money[]): Money => xs.reduce((a, b) => a.plus(b), new MoneyDecimal(0));
const answer = (res: HttpResult): string => (res.status < 300 ? String(res.status) : `${res.status} ${res.body?.error?.code}`);
const pick = (o: Record<string, unknown>, ...keys: string[]) => Object.fromEntries(keys.map((k) => [k, o[k]]));
const countAnswers = (results: HttpResult[]) => results.map(answer).reduce<Record<string, number>>((acc, a) => ({ ...acc, [a]: (acc[a] ?? 0) + 1 }), {});

beforeAll(async () => {
  cluster = await ProcessCluster.create({ label: "opsraces", partitions: 16, env: { API_KEYS: CLIENT_KEY, ADMIN_API_KEYS: ADMIN_KEY } });
  await Promise.all([cluster.startApi(), cluster.startWorkers(WORKERS)]);
  user = client(cluster.apiUrl, { authorization: `Bearer ${CLIENT_KEY}` });
  admin = client(cluster.apiUrl, { authorization: `Bearer ${ADMIN_KEY}` });
  accounts = await fundAccounts(user, 12, FUNDS);
});
afterAll(() => cluster?.destroy());

/** Long-polls a payment until it leaves `pending`. */
async function settled(id: string): Promise<any> {
  for (let i = 0; i < 6; i++) {
    const payment = (await user.get(`/api/v1/payments/${id}?wait=10`)).body;
    if (payment.status !== "pending") return payment;
  }
  throw new Error(`payment ${id} still pending after 60 s`);
}

/** Waits until no payment and no operation on a payment is pending anywhere. */
async function quiet(): Promise<void> {
  await waitFor(
    async () => {
      const { rows } = await cluster.db.pool.query(
        "SELECT (SELECT count(*) FROM payments WHERE status = 'pending') + (SELECT count(*) FROM payment_operations WHERE status = 'pending') AS n",
      );
      return rows[0].n === "0";
    },
    { timeoutMs: 60_000, intervalMs: 100, what: "every payment and operation to be settled" },
  );
}

async function account(id: string): Promise<{ available: string; held: string; balance: string; status: string }> {
  return (await user.get(`/api/v1/accounts/${id}`)).body;
}

async function transfer(from: string, to: string, amount: string, extra: Record<string, unknown> = {}): Promise<any> {
  const res = await user.post("/api/v1/payments", { from_account: from, to_account: to, amount, ...extra });
  expect([answer(res), res.body.error]).toEqual(["202", undefined]);
  if (extra.capture !== false) plainPayments.push(res.body.id);
  return settled(res.body.id);
}

/** Sends all requests at the same moment (after each has been built), answers in request order. */
function atOnce(requests: (() => Promise<HttpResult>)[]): Promise<HttpResult[]> {
  return Promise.all(requests.map((send) => send()));
}

describe("concurrent refunds of one payment", () => {
  it.each([
    { refunds: 2, each: "60.00" },
    { refunds: 10, each: "15.00" },
  ])("$refunds refunds of $each of a 100.00 payment: exactly as many as fit are accepted, the rest are refund_exceeds_payment", async ({ refunds, each }) => {
    for (let round = 0; round < 4; round++) {
      const [payer, payee] = [accounts[round % 4]!, accounts[4 + (round % 4)]!];
      const [payerBefore, payeeBefore] = [await account(payer), await account(payee)];
      const original = await transfer(payer, payee, "100.00");
      expect(original.status).toBe("completed");

      const results = await atOnce(
        Array.from({ length: refunds }, (_, i) => () => user.post(`/api/v1/payments/${original.id}/refunds`, { amount: each, reason: `race ${i}` })),
      );
      const accepted = results.filter((r) => r.status === 202);
      // Each alone fits; together they exceed: the first floor(100 / each) fit, the payee can pay them all, so none fails.
      const fitting = money("100.00").dividedToIntegerBy(money(each)).toNumber();
      expect(countAnswers(results)).toEqual({ "202": fitting, "409 refund_exceeds_payment": refunds - fitting });
      for (const r of accepted) {
        expect(r.body).toMatchObject({ type: "refund", refund_of: original.id, from_account: payee, to_account: payer, amount: each });
        plainPayments.push(r.body.id);
      }
      const settledRefunds = await Promise.all(accepted.map((r) => settled(r.body.id)));
      const completed = settledRefunds.filter((p) => p.status === "completed");
      expect(completed.length).toBe(accepted.length);
      const refunded = sum(completed.map((p) => money(p.amount)));
      expect(refunded.lessThanOrEqualTo(money("100.00"))).toBe(true);

      const after = (await user.get(`/api/v1/payments/${original.id}`)).body;
      expect({ amount_refunded: after.amount_refunded, status: after.status }).toEqual({ amount_refunded: fmt(refunded), status: "completed" });
      // A further refund of what is left (if anything) fits exactly; one cent more does not.
      const rest = money("100.00").minus(refunded);
      const over = await user.post(`/api/v1/payments/${original.id}/refunds`, { amount: fmt(rest.plus("0.01")) });
      expect(answer(over)).toBe("409 refund_exceeds_payment");

      const [payerAfter, payeeAfter] = [await account(payer), await account(payee)];
      expect(payerAfter.available).toBe(fmt(money(payerBefore.available).minus("100.00").plus(refunded)));
      expect(payeeAfter.available).toBe(fmt(money(payeeBefore.available).plus("100.00").minus(refunded)));
    }
  });

  it("a refund of all that is left, sent with partial ones: all of the payment is refunded, never more", async () => {
    for (let round = 0; round < 4; round++) {
      const [payer, payee] = [accounts[round % 4]!, accounts[4 + (round % 4)]!];
      const original = await transfer(payer, payee, "100.00");
      const requests = [
        ...Array.from({ length: 4 }, () => () => user.post(`/api/v1/payments/${original.id}/refunds`, { amount: "30.00" })),
        () => user.post(`/api/v1/payments/${original.id}/refunds`, {}),
      ];
      // The full refund goes at a different place each round.
      requests.splice(round, 0, requests.pop()!);
      const results = await atOnce(requests);
      const full = results[round]!;
      // However many 30.00 refunds came first (at most three), something is left for the full one.
      expect(answer(full)).toBe("202");
      const accepted = results.filter((r) => r.status === 202);
      expect(results.filter((r) => r.status !== 202).map(answer)).toEqual(Array(results.length - accepted.length).fill("409 refund_exceeds_payment"));
      accepted.forEach((r) => plainPayments.push(r.body.id));
      const refunds = await Promise.all(accepted.map((r) => settled(r.body.id)));
      expect(refunds.map((p) => p.status)).toEqual(refunds.map(() => "completed"));
      expect(fmt(sum(refunds.map((p) => money(p.amount))))).toBe("100.00");
      expect((await user.get(`/api/v1/payments/${original.id}`)).body.amount_refunded).toBe("100.00");
      expect(answer(await user.post(`/api/v1/payments/${original.id}/refunds`, { amount: "0.01" }))).toBe("409 refund_exceeds_payment");
    }
  });
});

describe("capture and void of one authorization at the same moment", () => {
  it("accepts exactly one of the two for each of 20 authorizations; the outcome is the winner's and the holds come back", async () => {
    const [payer, payee] = [accounts[8]!, accounts[9]!];
    const [payerBefore, payeeBefore] = [await account(payer), await account(payee)];
    const auths = [];
    for (let i = 0; i < 20; i++) auths.push(await transfer(payer, payee, "20.00", { capture: false }));
    expect(auths.map((a) => a.status)).toEqual(auths.map(() => "authorized"));
    expect(await account(payer)).toMatchObject({ held: fmt(money(payerBefore.held).plus("400.00")) });

    // All 40 requests at once. Which of a pair is sent first alternates; in one pair of four the
    // void leaves a few milliseconds after the capture, so that both kinds of winner occur (sent
    // truly together, the body-less void tends to win).
    const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const pairs = await Promise.all(
      auths.map(async (auth, i) => {
        const capture = () => user.post(`/api/v1/payments/${auth.id}/capture`, { amount: "12.50" });
        const voiding = () => user.post(`/api/v1/payments/${auth.id}/void`);
        const lateVoid = async () => (await pause(1 + (i % 5)), voiding());
        const [c, v] =
          i % 4 === 3 ? await atOnce([capture, lateVoid]) : i % 2 ? await atOnce([capture, voiding]) : (await atOnce([voiding, capture])).reverse();
        return { auth, capture: c!, void: v! };
      }),
    );
    for (const { auth, capture, void: voided } of pairs) {
      expect({ id: auth.id, answers: [answer(capture), answer(voided)].sort() }).toEqual({ id: auth.id, answers: ["202", "409 invalid_state"] });
    }
    await quiet();
    let captured = new MoneyDecimal(0);
    for (const { auth, capture } of pairs) {
      const after = (await user.get(`/api/v1/payments/${auth.id}`)).body;
      if (capture.status === 202) {
        expect({ id: auth.id, status: after.status, amount_captured: after.amount_captured }).toEqual({
          id: auth.id,
          status: "completed",
          amount_captured: "12.50",
        });
        captured = captured.plus("12.50");
      } else {
        expect({ id: auth.id, status: after.status, amount_captured: after.amount_captured }).toEqual({ id: auth.id, status: "voided", amount_captured: null });
      }
    }
    console.log(`capture vs void: ${pairs.filter((p) => p.capture.status === 202).length} of ${pairs.length} captures won`);
    expect(await account(payer)).toMatchObject({ held: payerBefore.held, available: fmt(money(payerBefore.available).minus(captured)) });
    expect(await account(payee)).toMatchObject({ held: payeeBefore.held, available: fmt(money(payeeBefore.available).plus(captured)) });
  });
});

describe("concurrent partial captures of one authorization", () => {
  it("accepts exactly one of 10, which is the one applied", async () => {
    const [payer, payee] = [accounts[10]!, accounts[11]!];
    for (let round = 0; round < 5; round++) {
      const [payerBefore, payeeBefore] = [await account(payer), await account(payee)];
      const auth = await transfer(payer, payee, "50.00", { capture: false });
      expect(auth.status).toBe("authorized");
      const amounts = Array.from({ length: 10 }, (_, i) => `${i + 1}.00`);
      const results = await atOnce(amounts.map((amount) => () => user.post(`/api/v1/payments/${auth.id}/capture`, { amount })));
      expect(countAnswers(results)).toEqual({ "202": 1, "409 invalid_state": 9 });
      const winner = amounts[results.findIndex((r) => r.status === 202)]!;
      await quiet();
      const after = (await user.get(`/api/v1/payments/${auth.id}`)).body;
      expect({ status: after.status, amount_captured: after.amount_captured }).toEqual({ status: "completed", amount_captured: fmt(money(winner)) });
      expect(await account(payer)).toMatchObject({ held: payerBefore.held, available: fmt(money(payerBefore.available).minus(winner)) });
      expect(await account(payee)).toMatchObject({ held: payeeBefore.held, available: fmt(money(payeeBefore.available).plus(winner)) });
      // Once captured, nothing more is.
      expect(answer(await user.post(`/api/v1/payments/${auth.id}/capture`, { amount: "1.00" }))).toBe("409 invalid_state");
      expect(answer(await user.post(`/api/v1/payments/${auth.id}/void`))).toBe("409 invalid_state");
    }
  });
});

describe("a capture or void sent around the authorization's expiry", () => {
  it("is either accepted and applied (even if the sweeper is due) or refused, and then the authorization expires", async () => {
    const [payer, payee] = (await fundAccounts(user, 2, "500.00")) as [string, string];
    const [payerBefore, payeeBefore] = [await account(payer), await account(payee)];
    const auths = await Promise.all(
      Array.from({ length: 16 }, async () => {
        const res = await user.post("/api/v1/payments", { from_account: payer, to_account: payee, amount: "10.00", capture: false, expires_in_seconds: 1 });
        expect(answer(res)).toBe("202");
        return res.body;
      }),
    );
    // Each is sent from 200 ms before its expires_at to 175 ms after, captures and voids alternating.
    const results = await Promise.all(
      auths.map(async (auth, i) => {
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(auth.expires_at) - Date.now() - 200 + (i >> 1) * 50)));
        const kind = i % 2 ? "void" : "capture";
        const res = await user.post(`/api/v1/payments/${auth.id}/${kind}`, kind === "capture" ? { amount: "7.50" } : undefined);
        return { auth, kind, res };
      }),
    );
    for (const { auth, kind, res } of results)
      expect({ id: auth.id, kind, answer: ["202", "409 invalid_state"].includes(answer(res)) }).toEqual({ id: auth.id, kind, answer: true });
    // The refused ones expire within about a sweep interval; the accepted ones are applied.
    const finals = await Promise.all(
      results.map(async ({ auth }) =>
        waitFor(
          async () => {
            const p = (await user.get(`/api/v1/payments/${auth.id}?wait=5`)).body;
            return p.status === "authorized" || p.status === "pending" ? undefined : p;
          },
          { timeoutMs: 30_000, intervalMs: 100, what: `authorization ${auth.id} to be captured, voided or expired` },
        ),
      ),
    );
    await quiet();
    const expected = results.map(({ kind, res }) => (res.status !== 202 ? "expired" : kind === "capture" ? "completed" : "voided"));
    expect(finals.map((p) => p.status)).toEqual(expected);
    const captured = sum(finals.filter((p) => p.status === "completed").map((p) => money(p.amount_captured)));
    expect(await account(payer)).toMatchObject({ held: payerBefore.held, available: fmt(money(payerBefore.available).minus(captured)) });
    expect(await account(payee)).toMatchObject({ held: payeeBefore.held, available: fmt(money(payeeBefore.available).plus(captured)) });
    const tally = countAnswers(results.map((r) => r.res));
    console.log(
      `around expiry: ${JSON.stringify(tally)}; final ${JSON.stringify(expected.reduce<Record<string, number>>((a, s) => ({ ...a, [s]: (a[s] ?? 0) + 1 }), {}))}`,
    );
  });
});

describe("a capture or void the workers reach after the authorization's expiry", () => {
  it("is applied all the same: accepted before expires_at, it wins over the expiry", async () => {
    const [payer, payee] = (await fundAccounts(user, 2, "500.00")) as [string, string];
    const [payerBefore, payeeBefore] = [await account(payer), await account(payee)];
    const auths = [];
    for (let i = 0; i < 9; i++) auths.push(await transfer(payer, payee, "10.00", { capture: false, expires_in_seconds: 3 }));
    expect(auths.map((a) => a.status)).toEqual(auths.map(() => "authorized"));
    await quiet();
    // Every worker paused (SIGSTOP): the operations are accepted by the API and wait in the queue
    // until well past expires_at; then the workers (and their sweeper) resume together.
    const workers = cluster.workers;
    for (const w of workers) w.child.kill("SIGSTOP");
    let answers: string[];
    try {
      const sent = await Promise.all(
        auths.map((auth, i) =>
          i % 3 === 0
            ? user.post(`/api/v1/payments/${auth.id}/capture`, { amount: "4.00" })
            : i % 3 === 1
              ? user.post(`/api/v1/payments/${auth.id}/void`)
              : Promise.resolve(undefined),
        ),
      );
      answers = sent.map((r) => (r ? answer(r) : "none"));
      const latest = Math.max(...auths.map((a) => Date.parse(a.expires_at)));
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, latest - Date.now()) + 1500));
    } finally {
      for (const w of workers) w.child.kill("SIGCONT");
    }
    expect(answers).toEqual(auths.map((_, i) => (i % 3 === 2 ? "none" : "202")));
    const finals = await Promise.all(
      auths.map((auth) =>
        waitFor(
          async () => {
            const p = (await user.get(`/api/v1/payments/${auth.id}?wait=5`)).body;
            return p.status === "authorized" ? undefined : p;
          },
          { timeoutMs: 30_000, intervalMs: 100, what: `authorization ${auth.id} to leave authorized` },
        ),
      ),
    );
    await quiet();
    expect(finals.map((p) => [p.status, p.amount_captured])).toEqual(
      auths.map((_, i) => (i % 3 === 0 ? ["completed", "4.00"] : i % 3 === 1 ? ["voided", null] : ["expired", null])),
    );
    expect(await account(payer)).toMatchObject({ held: payerBefore.held, available: fmt(money(payerBefore.available).minus("12.00")) });
    expect(await account(payee)).toMatchObject({ held: payeeBefore.held, available: fmt(money(payeeBefore.available).plus("12.00")) });
  });
});

describe("a refund and a dispute of one payment at the same moment", () => {
  it("never gives the payer back more than the payment: the dispute holds what the refund left", async () => {
    const payer = (await fundAccounts(user, 1, "1500.00"))[0]!;
    const payees = await Promise.all(Array.from({ length: 12 }, async () => (await user.post("/api/v1/accounts", { currency: "USD" })).body.id as string));
    const payments = [];
    for (const payee of payees) payments.push(await transfer(payer, payee, "100.00"));
    expect(payments.map((p) => p.status)).toEqual(payments.map(() => "completed"));
    const races = await Promise.all(
      payments.map(async (p, i) => {
        const refund = () => user.post(`/api/v1/payments/${p.id}/refunds`, { amount: "60.00" });
        const dispute = () => admin.post(`/api/v1/payments/${p.id}/dispute`);
        // As with capture and void: sent truly together the body-less dispute tends to win, so in
        // one pair of three the dispute leaves a few milliseconds after the refund.
        const lateDispute = async () => (await new Promise((resolve) => setTimeout(resolve, 1 + (i % 5))), dispute());
        const [r, d] =
          i % 3 === 2 ? await atOnce([refund, lateDispute]) : i % 2 ? await atOnce([refund, dispute]) : (await atOnce([dispute, refund])).reverse();
        return { payment: p, payee: payees[i]!, refund: r!, dispute: d! };
      }),
    );
    for (const { payment, refund, dispute } of races) {
      // The dispute always fits (something is left even after the refund); the refund fits unless the dispute came first.
      const said = (res: HttpResult) => (res.status === 202 ? "202" : `${answer(res)}: ${res.body?.error?.message}`);
      expect({ id: payment.id, refund: said(refund), dispute: said(dispute) }).toEqual({
        id: payment.id,
        refund: expect.stringMatching(/^(202|409 invalid_state: .*)$/),
        dispute: "202",
      });
      if (refund.status === 202) plainPayments.push(refund.body.id);
    }
    await quiet();
    for (const { payment, payee, refund } of races) {
      const refunded = refund.status === 202 ? "60.00" : "0.00";
      expect({ id: payment.id, ...pick((await user.get(`/api/v1/payments/${payment.id}`)).body, "dispute_status", "amount_refunded") }).toEqual({
        id: payment.id,
        dispute_status: "open",
        amount_refunded: refunded,
      });
      const held = fmt(money("100.00").minus(refunded));
      expect({ payee, ...pick(await account(payee), "available", "held") }).toEqual({ payee, available: "0.00", held });
    }
    // Charged back, each payment gives the payer back exactly its amount, however it was split.
    const chargebacks = await atOnce(
      races.map(
        ({ payment }) =>
          () =>
            admin.post(`/api/v1/payments/${payment.id}/chargeback`),
      ),
    );
    expect(countAnswers(chargebacks)).toEqual({ "202": races.length });
    await quiet();
    expect(await account(payer)).toMatchObject({ available: "1500.00", held: "0.00" });
    for (const { payee } of races) expect({ payee, ...pick(await account(payee), "balance", "status") }).toEqual({ payee, balance: "0.00", status: "frozen" });
    console.log(`refund vs dispute: ${races.filter((r) => r.refund.status === 202).length} of ${races.length} refunds accepted beside the dispute`);
  });
});

describe("concurrent payments from an account with an overdraft limit", () => {
  it("never takes available below -overdraft_limit, and every refusal is insufficient_funds", async () => {
    const LIMIT = "30.00";
    const holder = (await user.post("/api/v1/accounts", { currency: "USD" })).body.id as string;
    const deposit = await user.post("/api/v1/deposits", { account_id: holder, amount: "50.00" });
    plainPayments.push(deposit.body.id);
    expect((await settled(deposit.body.id)).status).toBe("completed");
    const patched = await admin.call("PATCH", `/api/v1/accounts/${holder}`, { overdraft_limit: LIMIT });
    expect([answer(patched), patched.body.overdraft_limit]).toEqual(["200", LIMIT]);

    // 60 debits (transfers, withdrawals, authorizations) of 1.10 to 9.90, 330.00 in all against 80.00 of room.
    const sends = Array.from({ length: 60 }, (_, i) => {
      const amount = `${(i % 9) + 1}.${(i % 9) + 1}0`;
      const to = accounts[i % accounts.length]!;
      if (i % 10 === 3) return { amount, send: () => user.post("/api/v1/withdrawals", { account_id: holder, amount }) };
      if (i % 10 === 7) return { amount, send: () => user.post("/api/v1/payments", { from_account: holder, to_account: to, amount, capture: false }) };
      return { amount, send: () => user.post("/api/v1/payments", { from_account: holder, to_account: to, amount }) };
    });
    const results = await atOnce(sends.map((s) => s.send));
    expect(countAnswers(results)).toEqual({ "202": sends.length });
    results.filter((r) => r.body.capture !== false).forEach((r) => plainPayments.push(r.body.id));
    const outcomes = await Promise.all(results.map((r) => settled(r.body.id)));
    const failed = outcomes.filter((p) => p.status === "failed");
    expect([...new Set(failed.map((p) => p.failure_reason))]).toEqual(["insufficient_funds"]);
    expect(outcomes.filter((p) => !["failed", "completed", "authorized"].includes(p.status))).toEqual([]);

    const after = await account(holder);
    const floor = money(LIMIT).negated();
    expect(money(after.available).greaterThanOrEqualTo(floor)).toBe(true);
    // Nothing but these debits moved the account after its deposit.
    const debited = sum(outcomes.filter((p) => p.status !== "failed").map((p) => money(p.amount)));
    expect(after.available).toBe(fmt(money("50.00").minus(debited)));
    // available only went down, so each refused payment would not fit at the end either.
    const unjustified = failed.filter((p) => money(after.available).minus(p.amount).greaterThanOrEqualTo(floor));
    expect(unjustified).toEqual([]);
    // No journal entry of the account ever went below the floor.
    const entries = (await user.get(`/api/v1/accounts/${holder}/entries?limit=500`)).body.entries as { available_after: string; type: string }[];
    expect(entries.filter((e) => money(e.available_after).lessThan(floor))).toEqual([]);
    console.log(
      `overdraft race: ${outcomes.length - failed.length} of ${outcomes.length} debits went through (${fmt(debited)} of 80.00 of room), available ${after.available}`,
    );
  });
});

describe("an overdraft limit changed while payments wait to be settled", () => {
  it("is the limit they are checked against (it takes effect when answered)", async () => {
    const [raised, lowered] = await Promise.all(
      ["0.00", "50.00"].map(async (limit) => {
        const res = await admin.post("/api/v1/accounts", { currency: "USD", overdraft_limit: limit });
        expect([answer(res), res.body.overdraft_limit]).toEqual(["201", limit]);
        return res.body.id as string;
      }),
    );
    const workers = cluster.workers;
    await quiet();
    for (const w of workers) w.child.kill("SIGSTOP");
    let pending: HttpResult[];
    try {
      // Five debits of 10.00 from each (available 0.00), accepted while no worker runs…
      pending = await atOnce(
        [raised!, lowered!].flatMap((from) =>
          Array.from({ length: 5 }, (_, i) => () => user.post("/api/v1/payments", { from_account: from, to_account: accounts[i]!, amount: "10.00" })),
        ),
      );
      // …then the limits change: 0.00 → 30.00 and 50.00 → 20.00.
      const patched = await atOnce([
        () => admin.call("PATCH", `/api/v1/accounts/${raised}`, { overdraft_limit: "30.00" }),
        () => admin.call("PATCH", `/api/v1/accounts/${lowered}`, { overdraft_limit: "20.00" }),
      ]);
      expect(patched.map((r) => [answer(r), r.body.overdraft_limit])).toEqual([
        ["200", "30.00"],
        ["200", "20.00"],
      ]);
    } finally {
      for (const w of workers) w.child.kill("SIGCONT");
    }
    expect(countAnswers(pending)).toEqual({ "202": 10 });
    pending.forEach((r) => plainPayments.push(r.body.id));
    const outcomes = await Promise.all(pending.map((r) => settled(r.body.id)));
    const summary = (from: string) => outcomes.filter((p) => p.from_account === from).map((p) => (p.status === "failed" ? p.failure_reason : p.status));
    // In acceptance order, each account's first three (30.00) and first two (20.00) fit the new limits.
    const byStatus = (list: string[]) => list.reduce<Record<string, number>>((acc, x) => ({ ...acc, [x]: (acc[x] ?? 0) + 1 }), {});
    expect(byStatus(summary(raised!))).toEqual({ completed: 3, insufficient_funds: 2 });
    expect(byStatus(summary(lowered!))).toEqual({ completed: 2, insufficient_funds: 3 });
    expect(await account(raised!)).toMatchObject({ available: "-30.00" });
    expect(await account(lowered!)).toMatchObject({ available: "-20.00" });
  });
});

it("leaves a ledger that verifies", async () => {
  await quiet();
  const report = await assertInvariants(cluster.db.pool, plainPayments);
  console.log(`operations races: ${report.payments} payments, ${report.entries} journal entries verified on ${WORKERS} worker processes`);
});
