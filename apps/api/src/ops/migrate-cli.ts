// The production image's `pnpm migrate` (docker compose's one-shot `migrate` service): the image
// has neither tsx nor the sources that scripts/migrate.ts runs from, only compiled JavaScript.
import { z } from "zod";
import { ConfigError, migrate, parseEnv, sharedEnv } from "@settle/core";

async function main(): Promise<void> {
  const env = parseEnv(z.object({ DATABASE_URL: sharedEnv.DATABASE_URL }), process.env);
  const result = await migrate(env.DATABASE_URL);
  process.stdout.write(
    JSON.stringify({
      level: "info",
      name: "settle-migrate",
      applied: result.applied,
      alreadyApplied: result.alreadyApplied.length,
      msg: "migrations applied",
    }) + "\n",
  );
}

main().catch((err) => {
  process.stderr.write(`settle-migrate: ${err instanceof ConfigError || err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
