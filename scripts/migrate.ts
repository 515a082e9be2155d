// `pnpm migrate`: creates the database if missing and applies infra/migrations.
import { z } from "zod";
import { ConfigError, migrate, parseCommandLine, parseEnv, sharedEnv } from "@settle/core";

const USAGE = `Usage: pnpm migrate

Creates the database of DATABASE_URL if it is missing and applies infra/migrations/*.sql that are
not applied yet, in order, each in its own transaction, under an advisory lock (so concurrent runs
are safe). An applied migration whose file has changed since is refused.

Environment: DATABASE_URL (postgres://postgres@127.0.0.1:5432/settle)
Exit code: 0 when the database is up to date, 1 on any error, 2 for a bad option.`;

parseCommandLine(process.argv.slice(2), { name: "migrate", usage: USAGE });

async function main(): Promise<void> {
  const env = parseEnv(z.object({ DATABASE_URL: sharedEnv.DATABASE_URL }), process.env);
  const result = await migrate(env.DATABASE_URL);
  const db = new URL(env.DATABASE_URL).pathname.slice(1);
  process.stdout.write(
    result.applied.length
      ? `migrate: applied ${result.applied.join(", ")} to ${db}\n`
      : `migrate: ${db} is up to date (${result.alreadyApplied.length} migrations)\n`,
  );
}

main().catch((err) => {
  process.stderr.write(`migrate: ${err instanceof ConfigError ? err.message : err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
