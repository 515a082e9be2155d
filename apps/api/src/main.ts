import cluster from "node:cluster";
import { ConfigError, createLogger, parseCommandLine } from "@settle/core";
import { runPrimary } from "./api-cluster";
import { loadConfig } from "./config";
import { startApi } from "./server";

const USAGE = `Usage: settle-api   (pnpm -C apps/api start; node dist/main.js in the image)

The HTTP API. It takes no arguments: it is configured by environment variables (README.md,
"Configuration"), e.g. DATABASE_URL, REDIS_URL, PORT, HOST, PARTITIONS, API_KEYS; API_PROCESSES
runs that many processes sharing the port (node:cluster).
SIGTERM or SIGINT stops it gracefully (after SHUTDOWN_DELAY_MS, in-flight requests finish).
Exit code: 0 after a graceful stop, 1 if it failed, 2 for a bad option or configuration.`;

async function main(): Promise<void> {
  parseCommandLine(process.argv.slice(2), { name: "settle-api", usage: USAGE });
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
  if (config.processes > 1 && cluster.isPrimary) {
    const log = createLogger({ level: config.logLevel, name: "settle-api", pretty: config.logPretty });
    process.exit(await runPrimary(config.processes, log));
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
