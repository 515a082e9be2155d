import { ConfigError, parseCommandLine } from "@settle/core";
import { loadConfig } from "./config";
import { SettleWorker } from "./settle-worker";

const USAGE = `Usage: settle-worker   (pnpm -C apps/worker start; node dist/main.js in the image)

A settle worker; run as many as wanted. It takes no arguments: it is configured by environment
variables (README.md, "Configuration"), e.g. DATABASE_URL, REDIS_URL, PARTITIONS, WORKER_METRICS_PORT.
SIGTERM or SIGINT stops it gracefully (its partitions are handed on at once).
Exit code: 0 after a graceful stop, 1 if it failed, 2 for a bad option or configuration.`;

async function main(): Promise<void> {
  parseCommandLine(process.argv.slice(2), { name: "settle-worker", usage: USAGE });
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`settle-worker: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const worker = new SettleWorker(config);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    worker.logger.info({ signal }, "stopping");
    worker.stop().then(
      () => process.exit(0),
      (err) => {
        worker.logger.error({ err }, "unclean stop");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  await worker.start();
}

main().catch((err) => {
  process.stderr.write(`settle-worker: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
