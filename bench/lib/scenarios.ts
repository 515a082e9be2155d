// The benchmark's scenarios: which accounts exist, how they are funded, and the stream of
// operations a run offers. Settle and the naive and careful servers get the same seeded stream.

export type ScenarioName = "uniform" | "uniform-batch" | "hot-merchant" | "contended" | "mixed";
export const SCENARIOS: ScenarioName[] = ["uniform", "uniform-batch", "hot-merchant", "contended", "mixed"];

export type Intent =
  | { type: "transfer"; from: number; to: number; amount: string }
  | { type: "deposit"; account: number; amount: string }
  | { type: "withdrawal"; account: number; amount: string }
  | { type: "dispute" }
  | { type: "resolve" }
  | { type: "chargeback" }
  /** A transfer with `"capture": false`: settled as a hold on the payer, captured or voided later. */
  | { type: "authorize"; from: number; to: number; amount: string }
  /** Of an authorization the run saw authorized: all of it, or `percent` % of it. */
  | { type: "capture"; percent?: number }
  | { type: "void" }
  /** Of a payment the run saw completed: `percent` % of it, or (without) all that is left. */
  | { type: "refund"; percent?: number };

/** What the API under test offers beyond payments (mixed uses each it has; the peers have none). */
export interface Features {
  disputes: boolean;
  refunds?: boolean;
  authorizations?: boolean;
  overdrafts?: boolean;
}

export interface Scenario {
  name: ScenarioName;
  description: string;
  accounts: number;
  /** Initial deposit per account (a decimal string). */
  funding: string;
  /**
   * Sent to Settle as POST /api/v1/payments/batch of --batch-items transfers each. The naive and
   * careful servers have no batch endpoint: they get the same intents one payment per request.
   */
  batch?: boolean;
  /**
   * Accounts 0..accounts-1 get an overdraft limit (PATCH /api/v1/accounts/{id}, admin) and are
   * then nearly emptied by a withdrawal, before the measured load, so that its debits from them
   * go below zero (and some past the limit: insufficient_funds).
   */
  overdraft?: { accounts: number; limit: string; withdraw: string };
  /** Why only Settle runs this scenario (the naive and careful servers have no such operations). */
  settleOnly?: string;
  /** A fresh, seeded intent stream: accounts are indexes into the run's account list. */
  intents(seed: number, options: Features): () => Intent;
}

/** mulberry32: a small seeded PRNG, so every system under test sees the same operations. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const int = (random: () => number, n: number) => Math.floor(random() * n);

// Amounts are built as digit strings ("37.05"): money never passes through a JavaScript number.
function amount(random: () => number, maxUnits: number): string {
  return `${1 + int(random, maxUnits)}.${int(random, 10)}${int(random, 10)}`;
}

function pair(random: () => number, n: number): [number, number] {
  const from = int(random, n);
  const to = (from + 1 + int(random, n - 1)) % n;
  return [from, to];
}

const uniform: Scenario = {
  name: "uniform",
  description: "transfers between random pairs of 10,000 accounts",
  accounts: 10_000,
  funding: "100000.00",
  intents(seed) {
    const random = seededRandom(seed);
    return () => {
      const [from, to] = pair(random, 10_000);
      return { type: "transfer", from, to, amount: amount(random, 99) };
    };
  },
};

export const scenarioCatalog: Record<ScenarioName, Scenario> = {
  uniform,
  "uniform-batch": {
    ...uniform,
    name: "uniform-batch",
    description: "uniform's accounts, funding and stream, sent to Settle in batch requests (POST /api/v1/payments/batch)",
    batch: true,
  },
  "hot-merchant": {
    name: "hot-merchant",
    description: "Black Friday: 20 % of transfers go to one merchant account, the rest between random pairs of 10,000",
    accounts: 10_000,
    funding: "100000.00",
    intents(seed) {
      const random = seededRandom(seed);
      return () => {
        if (random() < 0.2) return { type: "transfer", from: 1 + int(random, 9_999), to: 0, amount: amount(random, 99) };
        const [from, to] = pair(random, 10_000);
        return { type: "transfer", from, to, amount: amount(random, 99) };
      };
    },
  },
  contended: {
    name: "contended",
    description: "100 accounts with 1,000.00 each, many transfers each (the design notes' race at scale)",
    accounts: 100,
    funding: "1000.00",
    intents(seed) {
      const random = seededRandom(seed);
      return () => {
        const [from, to] = pair(random, 100);
        return { type: "transfer", from, to, amount: amount(random, 99) };
      };
    },
  },
  mixed: {
    name: "mixed",
    description:
      "10,000 accounts (200 with an overdraft limit, nearly emptied): 63 % transfers, 8 % deposits, 8 % withdrawals, 8 % authorizations (capture: false), 6 % captures (full or partial) and voids, 5 % refunds (partial, and of the rest), 2 % disputes, resolves and chargebacks — each kind when the API has it, else a transfer",
    accounts: 10_000,
    funding: "100000.00",
    overdraft: { accounts: 200, limit: "500.00", withdraw: "99950.00" },
    settleOnly: "mixed runs Settle alone: the naive and careful servers have no authorizations, captures, voids, refunds or disputes",
    intents(seed, { disputes, refunds, authorizations, overdrafts }) {
      const random = seededRandom(seed);
      // A payer is one of the overdraft accounts (0..199) one time in ten.
      const payer = () => (overdrafts && random() < 0.1 ? int(random, 200) : int(random, 10_000));
      const payee = (from: number) => (from + 1 + int(random, 10_000 - 1)) % 10_000;
      return () => {
        const r = random();
        if (r < 0.08) return { type: "deposit", account: int(random, 10_000), amount: amount(random, 499) };
        if (r < 0.16) return { type: "withdrawal", account: payer(), amount: amount(random, 99) };
        if (authorizations && r < 0.24) {
          const from = payer();
          return { type: "authorize", from, to: payee(from), amount: amount(random, 99) };
        }
        if (authorizations && r < 0.285) return random() < 0.5 ? { type: "capture" } : { type: "capture", percent: 10 + int(random, 80) };
        if (authorizations && r < 0.3) return { type: "void" };
        if (refunds && r < 0.33) return { type: "refund", percent: 10 + int(random, 80) };
        if (refunds && r < 0.35) return { type: "refund" };
        if (disputes && r < 0.36) return { type: "dispute" };
        if (disputes && r < 0.366) return { type: "resolve" };
        if (disputes && r < 0.37) return { type: "chargeback" };
        const from = payer();
        return { type: "transfer", from, to: payee(from), amount: amount(random, 99) };
      };
    },
  },
};
