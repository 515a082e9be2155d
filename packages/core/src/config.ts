import { z } from "zod";

const urlWithProtocol = (protocols: string[], example: string) =>
  z.string().refine((value) => {
    try {
      return protocols.includes(new URL(value).protocol);
    } catch {
      return false;
    }
  }, `must be a URL such as ${example}`);

/** Environment variables shared by the API and the worker (docs/API.md "Configuration"). */
export const sharedEnv = {
  DATABASE_URL: urlWithProtocol(["postgres:", "postgresql:"], "postgres://user@host:5432/settle").default("postgres://postgres@127.0.0.1:5432/settle"),
  REDIS_URL: urlWithProtocol(["redis:", "rediss:"], "redis://127.0.0.1:6379").default("redis://127.0.0.1:6379"),
  // host:port,host:port,… of a Redis Cluster: when set, every process connects to it instead of REDIS_URL.
  REDIS_CLUSTER_NODES: z
    .string()
    .regex(/^[^\s,:]+:\d{1,5}(,[^\s,:]+:\d{1,5})*$/, "must be host:port,host:port,… (the cluster's seed nodes)")
    .transform((v) => v.split(",").map((node) => ({ host: node.slice(0, node.lastIndexOf(":")), port: Number(node.slice(node.lastIndexOf(":") + 1)) })))
    .optional(),
  PARTITIONS: z.coerce.number().int().min(1).max(1024).default(32),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, "must be 1-64 letters, digits, _ or -")
    .default("settle"),
  DB_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  // Workers hold a woken partition this long; API processes skip wake-ups it already covers.
  // Both sides must agree: set it once for the deployment (docs/ARCHITECTURE.md "Wake-ups").
  SETTLE_LINGER_MS: z.coerce.number().int().min(0).max(60_000).default(5000),
  // Webhook URLs may use plain http and private, loopback or link-local addresses only when this
  // is "true": for tests and local development (docs/API.md "Webhooks").
  WEBHOOK_ALLOW_INSECURE: z.enum(["true", "false"]).default("false"),
};

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Parses an environment with a zod schema; a malformed variable throws a ConfigError naming it. */
export function parseEnv<S extends z.ZodType>(schema: S, env: Record<string, string | undefined>): z.infer<S> {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => `  ${issue.path.join(".") || "(environment)"}: ${issue.message}`);
  throw new ConfigError(`invalid configuration:\n${lines.join("\n")}`);
}
