// `pnpm verify`: recomputes every journal (hashes, seq, balances), every payment's entries and
// the conservation of money; prints a summary and each problem; exits 1 on any mismatch.
import { z } from "zod";
import { ConfigError, createPool, parseCommandLine, parseEnv, sharedEnv, verifyLedger } from "@settle/core";

const MAX_PROBLEMS = 1000;
const USAGE = `Usage: pnpm verify

Recomputes every account's journal from the database of DATABASE_URL (hash chain, gap-free seq,
balances after each entry, the account row), every payment's entries and the conservation of
money; prints a summary and each problem (the first ${MAX_PROBLEMS}). Read-only.

Environment: DATABASE_URL (postgres://postgres@127.0.0.1:5432/settle)
Exit code: 0 when everything checks out, 1 on any mismatch, 2 when it could not check (or a bad option).`;

parseCommandLine(process.argv.slice(2), { name: "verify", usage: USAGE });

async function main(): Promise<number> {
  const env = parseEnv(z.object({ DATABASE_URL: sharedEnv.DATABASE_URL }), process.env);
  const pool = createPool({ url: env.DATABASE_URL, max: 2, applicationName: "settle-verify", statementTimeoutMs: 0 });
  try {
    const report = await verifyLedger(pool, { maxProblems: MAX_PROBLEMS });
    const db = new URL(env.DATABASE_URL).pathname.slice(1);
    const { completed, failed, pending } = report.payments;
    process.stdout.write(
      [
        `verify: ${db}`,
        `  accounts:        ${report.accounts}`,
        `  journal entries: ${report.entries}`,
        `  payments:        ${completed + failed + pending} (completed ${completed}, failed ${failed}, pending ${pending})`,
        `  total balance:   ${report.totalBalance}`,
        `  money in − out:  ${report.externalNet} (completed deposits − withdrawals)`,
        "",
        // The same findings the tests assert on and the bench reports.
        ...report.findings.map((f) => `  ${f.informational ? "i" : f.ok ? "✓" : "✗"} ${f.invariant}: ${f.detail}`),
        "",
      ].join("\n"),
    );
    if (report.problems.length === 0) {
      process.stdout.write("verify: OK: every hash chain, seq, balance and payment checks out\n");
      return 0;
    }
    const more = report.problems.length >= MAX_PROBLEMS ? ` (the first ${MAX_PROBLEMS})` : "";
    const lines = report.findings.flatMap((f) => f.problems.map((p) => `  - ${f.invariant}: ${p}\n`));
    process.stderr.write(`verify: ${report.problems.length} problem(s)${more}:\n${lines.join("")}`);
    return 1;
  } finally {
    await pool.end();
  }
}

// exitCode, not exit(): a long report to a pipe is written out in full before the process ends.
main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`verify: ${err instanceof ConfigError ? err.message : err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  },
);
