// `pnpm migrate`: creates the database if missing and applies infra/migrations.
import { z } from "zod";
import { ConfigError, migrate, parseEnv, sharedEnv } from "@settle/core";

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
