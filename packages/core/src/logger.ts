import pino, { type Logger, type LoggerOptions } from "pino";

export type { Logger };

/** Paths that never reach a log line, whatever logs them. */
export const REDACTED_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  'req.headers["idempotency-key"]',
  "res.headers['set-cookie']",
  "password",
  "*.password",
  "databaseUrl",
  "redisUrl",
  "config.databaseUrl",
  "config.redisUrl",
  "config.adminPassword",
  "config.apiKeys",
];

/** The pino logger every process uses: JSON lines, secrets redacted. */
export function createLogger(options: { level: string; name: string; pretty?: boolean }): Logger {
  const base: LoggerOptions = {
    name: options.name,
    level: options.level,
    redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (options.pretty) {
    return pino({ ...base, transport: { target: "pino-pretty", options: { translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" } } });
  }
  // Buffered, asynchronous writes: one system call per 4 KiB of log lines rather than per line
  // (each costs as much as a database round trip on a busy machine). Flushed every 200 ms and at exit.
  const destination = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  const flush = setInterval(() => destination.flush(), 200);
  flush.unref();
  process.once("exit", () => {
    try {
      destination.flushSync();
    } catch {
      // nothing more can be done at exit
    }
  });
  return pino(base, destination);
}
