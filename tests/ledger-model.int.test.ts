// Random sequences of deposits, withdrawals and transfers, applied through the real system
// (HTTP API, queue, worker, PostgreSQL) and to a simple in-memory model of the ledger: every
// outcome and every balance must agree.
import fc from "fast-check";
import { formatMoney, MoneyDecimal, verifyLedger, type Money } from "@settle/core";
import { startInProcess, type InProcessSystem } from "./support/in-process";
import { clearPrefix } from "./support/processes";
import { client, newAccount, settled, type ApiClient } from "./support/http";

jest.setTimeout(120_000);

let system: InProcessSystem;
let api: ApiClient;

beforeAll(async () => {
  system = await startInProcess("ledger-model", { workers: 2 });
  api = client(system.api.url);
});
afterAll(async () => {
  await system.stop();
  await clearPrefix(system.env.REDIS_URL!, system.prefix);
});

/** The model: what each account holds and how many journal entries it has. */
interface Model {
  accounts: { available: Money; entries: number }[];
}
interface Real {
  ids: string[];
}
type Outcome = { status: "completed"; failure_reason: null } | { status: "failed"; failure_reason: "insufficient_funds" };

const ACCOUNTS = 3;
const ZERO = new MoneyDecimal(0);

// Amounts from 0.01 to 39.99, as strings (money never passes through a number).
const amount = fc
  .tuple(fc.integer({ min: 0, max: 39 }), fc.integer({ min: 0, max: 99 }))
  .map(([units, cents]) => `${units}.${String(cents).padStart(2, "0")}`)
  .filter((s) => s !== "0.00");
const account = fc.integer({ min: 0, max: ACCOUNTS - 1 });

/** Applies one operation to the model the way docs/API.md defines it; returns the expected outcome. */
function applyToModel(model: Model, op: Operation): Outcome {
  const value = new MoneyDecimal(op.amount);
  const source = op.kind === "deposit" ? undefined : model.accounts[op.from]!;
  const target = op.kind === "withdrawal" ? undefined : model.accounts[op.to]!;
  if (source && source.available.lessThan(value)) return { status: "failed", failure_reason: "insufficient_funds" };
  if (source) {
    source.available = source.available.minus(value);
    source.entries++;
  }
  if (target) {
    target.available = target.available.plus(value);
    target.entries++;
  }
  return { status: "completed", failure_reason: null };
}

type Operation = { kind: "deposit" | "withdrawal" | "transfer"; from: number; to: number; amount: string };

function send(real: Real, op: Operation) {
  if (op.kind === "deposit") return api.post("/api/v1/deposits", { account_id: real.ids[op.to], amount: op.amount });
  if (op.kind === "withdrawal") return api.post("/api/v1/withdrawals", { account_id: real.ids[op.from], amount: op.amount });
  return api.post("/api/v1/payments", { from_account: real.ids[op.from], to_account: real.ids[op.to], amount: op.amount });
}

async function expectBalances(model: Model, real: Real, which: number[] = model.accounts.map((_, i) => i)): Promise<void> {
  for (const i of which) {
    const res = await api.get(`/api/v1/accounts/${real.ids[i]}`);
    const want = model.accounts[i]!;
    expect({ account: i, balance: res.body.balance, available: res.body.available, held: res.body.held, entries: res.body.entry_count }).toEqual({
      account: i,
      balance: formatMoney(want.available),
      available: formatMoney(want.available),
      held: "0.00",
      entries: want.entries,
    });
  }
}

/** One operation, sent and settled before the next: the model is sequential, and so is the test. */
class SettleOperation implements fc.AsyncCommand<Model, Real> {
  constructor(readonly op: Operation) {}
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const res = await send(real, this.op);
    expect(res.status).toBe(202);
    const payment = await settled(api, res.body.id);
    const expected = applyToModel(model, this.op);
    expect({ status: payment.status, failure_reason: payment.failure_reason, amount: payment.amount }).toEqual({
      ...expected,
      amount: formatMoney(new MoneyDecimal(this.op.amount)),
    });
    await expectBalances(model, real, [this.op.from, this.op.to]);
  }
  toString = () => `${this.op.kind}(${this.op.kind === "deposit" ? "" : this.op.from}→${this.op.kind === "withdrawal" ? "" : this.op.to}, ${this.op.amount})`;
}

/** A request docs/API.md refuses: 400, and nothing written. */
class RefusedOperation implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly from: number,
    readonly to: number,
    readonly badAmount: unknown,
  ) {}
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const res = await api.post("/api/v1/payments", { from_account: real.ids[this.from], to_account: real.ids[this.to], amount: this.badAmount });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_request");
    await expectBalances(model, real);
  }
  toString = () => `refused(${this.from}→${this.to}, ${JSON.stringify(this.badAmount)})`;
}

const operation: fc.Arbitrary<Operation> = fc.oneof(
  fc.record({ kind: fc.constant("deposit" as const), from: fc.constant(0), to: account, amount }),
  fc.record({ kind: fc.constant("withdrawal" as const), from: account, to: fc.constant(0), amount }),
  {
    arbitrary: fc
      .tuple(account, account, amount)
      .filter(([f, t]) => f !== t)
      .map(([from, to, a]) => ({ kind: "transfer" as const, from, to, amount: a })),
    weight: 3,
  },
);

const setup = async () => {
  const ids: string[] = [];
  for (let i = 0; i < ACCOUNTS; i++) ids.push(await newAccount(api));
  return { model: { accounts: ids.map(() => ({ available: ZERO, entries: 0 })) }, real: { ids } };
};

it("agrees with the model outcome by outcome and balance by balance, one settled operation at a time", async () => {
  const commands = [
    operation.map((op) => new SettleOperation(op)),
    fc
      .tuple(account, account, fc.constantFrom<unknown>("0", "-1.00", "1.001", "1e3", " 5", "5.", 5, null, "1000000000000000"))
      .filter(([f, t]) => f !== t)
      .map(([from, to, bad]) => new RefusedOperation(from, to, bad)),
  ];
  await fc.assert(
    fc.asyncProperty(fc.commands(commands, { maxCommands: 20 }), async (cmds) => {
      await fc.asyncModelRun(setup, cmds);
    }),
    { numRuns: 12 },
  );
});

it("agrees with the model when one account's operations are sent back to back, without waiting for each to settle", async () => {
  // Everything here debits account 0 (or deposits to it): one partition, applied in acceptance
  // order, so the sequential model predicts every outcome whatever the timing.
  const own = fc.oneof(
    fc.record({ kind: fc.constant("deposit" as const), from: fc.constant(0), to: fc.constant(0), amount }),
    fc.record({ kind: fc.constant("withdrawal" as const), from: fc.constant(0), to: fc.constant(0), amount }),
    {
      arbitrary: fc.record({ kind: fc.constant("transfer" as const), from: fc.constant(0), to: fc.integer({ min: 1, max: ACCOUNTS - 1 }), amount }),
      weight: 3,
    },
  );
  await fc.assert(
    fc.asyncProperty(fc.array(own, { minLength: 1, maxLength: 40 }), async (ops) => {
      const { model, real } = await setup();
      const ids: string[] = [];
      for (const op of ops) {
        const res = await send(real, op);
        expect(res.status).toBe(202);
        ids.push(res.body.id);
      }
      for (const [i, op] of ops.entries()) {
        const payment = await settled(api, ids[i]!);
        expect({ index: i, status: payment.status, failure_reason: payment.failure_reason }).toEqual({ index: i, ...applyToModel(model, op) });
      }
      await expectBalances(model, real);
    }),
    { numRuns: 15 },
  );
});

it("leaves a ledger that verifies", async () => {
  const report = await verifyLedger(system.db.pool);
  expect(report.problems).toEqual([]);
  expect(report.payments.pending).toBe(0);
  expect(report.entries).toBeGreaterThan(0);
});
