import { ConfigError } from "@settle/core";
import { loadConfig } from "./config";
import { SettleWorker } from "./settle-worker";

async function main(): Promise<void> {
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
