import { ConfigError } from "@settle/core";
import { loadConfig } from "./config";
import { startApi } from "./server";

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`settle-api: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const api = await startApi(config);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    api.deps.logger.info({ signal }, "stopping: finishing in-flight requests");
    api.close().then(
      () => process.exit(0),
      (err) => {
        api.deps.logger.error({ err }, "unclean stop");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

main().catch((err) => {
  process.stderr.write(`settle-api: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
