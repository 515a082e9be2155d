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
  | { type: "chargeback" };

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
  /** A fresh, seeded intent stream: accounts are indexes into the run's account list. */
  intents(seed: number, options: { disputes: boolean }): () => Intent;
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
    description: "10,000 accounts: 75 % transfers, 10 % deposits, 10 % withdrawals, 5 % disputes/resolves/chargebacks (when the API has them; else transfers)",
    accounts: 10_000,
    funding: "100000.00",
    intents(seed, { disputes }) {
      const random = seededRandom(seed);
      return () => {
        const r = random();
        if (r < 0.1) return { type: "deposit", account: int(random, 10_000), amount: amount(random, 499) };
        if (r < 0.2) return { type: "withdrawal", account: int(random, 10_000), amount: amount(random, 99) };
        if (disputes && r < 0.22) return { type: "dispute" };
        if (disputes && r < 0.235) return { type: "resolve" };
        if (disputes && r < 0.25) return { type: "chargeback" };
        const [from, to] = pair(random, 10_000);
        return { type: "transfer", from, to, amount: amount(random, 99) };
      };
    },
  },
};
