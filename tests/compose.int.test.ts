// docker-compose.yml and the Dockerfiles, checked by structure: there is no Docker engine here.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { loadConfig as loadApiConfig } from "../apps/api/src/config";
import { ApiMetrics } from "../apps/api/src/ops/metrics";
import { loadConfig as loadWorkerConfig } from "../apps/worker/src/config";
import { WorkerMetrics } from "../apps/worker/src/ops/worker-metrics";

const root = path.resolve(__dirname, "..");
const read = (file: string) => readFileSync(path.join(root, file), "utf8");
const compose = parse(read("docker-compose.yml"), { merge: true });
const services = compose.services as Record<string, any>;

/** Compose's interpolation with nothing set in the environment: `${X:-default}` → default, `${X}` → "". */
const interpolate = (value: unknown): string => String(value).replace(/\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}/g, (_m, _name, fallback) => fallback ?? "");
const environment = (service: string): Record<string, string> =>
  Object.fromEntries(Object.entries(services[service].environment ?? {}).map(([k, v]) => [k, interpolate(v)]));

it("has postgres, redis, a one-shot migrate, api and worker", () => {
  expect(Object.keys(services)).toEqual(expect.arrayContaining(["postgres", "redis", "migrate", "api", "worker"]));
  for (const name of ["postgres", "redis", "migrate", "api", "worker"]) expect(services[name].profiles).toBeUndefined();
  expect(services.migrate.restart).toBe("no");
});

it("gives every long-running service a healthcheck, and postgres a volume", () => {
  for (const name of ["postgres", "redis", "api", "worker"]) {
    const hc = services[name].healthcheck;
    expect({ name, test: hc?.test?.[0] }).toEqual({ name, test: expect.stringMatching(/^CMD(-SHELL)?$/) });
    expect(hc.interval).toBeDefined();
  }
  expect(services.postgres.healthcheck.test.join(" ")).toContain("pg_isready");
  expect(services.redis.healthcheck.test).toContain("ping");
  const [volume, mount] = services.postgres.volumes.find((v: string) => v.endsWith(":/var/lib/postgresql/data")).split(":");
  expect(compose.volumes).toHaveProperty(volume);
  expect(mount).toBe("/var/lib/postgresql/data");
});

it("starts things in order: migrations after a healthy postgres, the apps after migrations", () => {
  expect(services.migrate.depends_on).toEqual({ postgres: { condition: "service_healthy" } });
  for (const name of ["api", "worker"]) {
    expect(services[name].depends_on).toEqual({
      migrate: { condition: "service_completed_successfully" },
      postgres: { condition: "service_healthy" },
      redis: { condition: "service_healthy" },
    });
  }
});

it("runs redis with noeviction and the append-only file", () => {
  const conf = services.redis.volumes.find((v: string) => v.includes("redis.conf")).split(":");
  expect(services.redis.command).toEqual(["redis-server", conf[1]]);
  const settings = Object.fromEntries(
    read(conf[0]!.replace(/^\.\//, ""))
      .split("\n")
      .filter((l) => l.trim() && !l.startsWith("#"))
      .map((l) => l.trim().split(/\s+/, 2)),
  );
  expect(settings["maxmemory-policy"]).toBe("noeviction");
  expect(settings.appendonly).toBe("yes");
  expect(services.redis.volumes.some((v: string) => v.endsWith(":/data"))).toBe(true);
});

it("lets `--scale worker=N` work: no container name, no host port on the worker", () => {
  expect(services.worker.container_name).toBeUndefined();
  expect(services.worker.ports).toBeUndefined();
  for (const service of Object.values(services)) expect(service.container_name).toBeUndefined();
  expect(services.api.ports).toEqual(["${PORT:-3000}:3000"]);
});

it("sets every variable the apps need, with values their own config schemas accept", () => {
  const api = loadApiConfig(environment("api"));
  const worker = loadWorkerConfig(environment("worker"));
  const migrateUrl = environment("migrate").DATABASE_URL;
  for (const config of [api, worker]) {
    expect(new URL(config.databaseUrl).hostname).toBe("postgres");
    expect(new URL(config.redisUrl).hostname).toBe("redis");
    expect(config.databaseUrl).toBe(migrateUrl);
  }
  // One deployment: the same partitions and queue prefix on both sides.
  expect([api.partitions, api.queuePrefix]).toEqual([worker.partitions, worker.queuePrefix]);
  expect(services.api.environment.PARTITIONS).toBe(services.worker.environment.PARTITIONS);
  // The database URL names postgres's own user, password and database.
  const url = new URL(migrateUrl!);
  const pg = environment("postgres");
  expect([decodeURIComponent(url.username), decodeURIComponent(url.password), url.pathname.slice(1)]).toEqual([
    pg.POSTGRES_USER,
    pg.POSTGRES_PASSWORD,
    pg.POSTGRES_DB,
  ]);
  // The healthchecks probe the ports the apps listen on.
  expect(services.api.healthcheck.test.join(" ")).toContain(`127.0.0.1:${api.port}/healthz`);
  expect(worker.metricsPort).toBe(9464);
  expect(services.worker.healthcheck.test.join(" ")).toContain(`127.0.0.1:${worker.metricsPort}/healthz`);
  expect(services.worker.expose).toEqual([String(worker.metricsPort)]);
  // The dashboard is off unless both credentials come from the environment.
  expect(api.admin).toBeUndefined();
  expect(loadApiConfig({ ...environment("api"), ADMIN_USER: "ops", ADMIN_PASSWORD: "long-enough" }).admin).toMatchObject({ user: "ops", readOnly: true });
});

it("builds the images from Dockerfiles that exist and run what the build produces", () => {
  for (const [name, app] of [
    ["migrate", "api"],
    ["api", "api"],
    ["worker", "worker"],
  ] as const) {
    expect(services[name].build).toEqual({ context: ".", dockerfile: `infra/docker/${app}.Dockerfile` });
  }
  expect(services.migrate.command).toEqual(["node", "apps/api/dist/ops/migrate-cli.js"]);
  expect(existsSync(path.join(root, "apps/api/src/ops/migrate-cli.ts"))).toBe(true);
});

describe.each(["api", "worker"])("infra/docker/%s.Dockerfile", (app) => {
  const text = read(`infra/docker/${app}.Dockerfile`);
  const lines = text.split("\n").filter((l) => l.trim() && !l.trim().startsWith("#"));
  const instructions = lines.map((l) => l.trim().split(/\s+/)[0]!.toUpperCase());

  it("is multi-stage and installs production dependencies only into the final image", () => {
    expect(lines.filter((l) => /^FROM /i.test(l)).length).toBeGreaterThanOrEqual(3);
    expect(text).toMatch(/pnpm install --frozen-lockfile --prod --filter "@settle\/\w+\.\.\."/);
    const runtime = text.slice(text.lastIndexOf("\nFROM "));
    // The last stage copies built output and production node_modules; it installs nothing itself.
    expect(runtime).not.toMatch(/\bRUN\b/);
    expect(runtime).toMatch(/COPY --from=prod-deps \/app\/node_modules/);
    expect(runtime).not.toMatch(/COPY --from=build \/app\/node_modules/);
  });

  it("runs as a non-root user with a HEALTHCHECK, and starts the compiled entry point", () => {
    const user = lines.filter((l) => /^USER /i.test(l)).pop();
    expect(user).toBeDefined();
    expect(user).not.toMatch(/\broot\b|\b0\b/);
    expect(instructions.lastIndexOf("USER")).toBeLessThan(instructions.lastIndexOf("CMD"));
    expect(instructions).toContain("HEALTHCHECK");
    expect(text).toMatch(/HEALTHCHECK[\s\S]*\/healthz/);
    expect(text).toContain(`CMD ["node", "apps/${app}/dist/main.js"]`);
    expect(existsSync(path.join(root, `apps/${app}/src/main.ts`))).toBe(true);
  });

  it("ships the migrations where @settle/core looks for them (each app checks them at start)", () => {
    // packages/core/dist/db/migrate.js resolves ../../../../infra/migrations: /app/infra/migrations.
    expect(text).toContain("COPY infra/migrations infra/migrations");
    expect(text).toMatch(/WORKDIR \/app\n[\s\S]*COPY --from=build \/app\/packages\/core\/dist packages\/core\/dist/);
  });

  it("copies only paths that exist in the build context and are not ignored", () => {
    const ignored = read(".dockerignore")
      .split("\n")
      .filter((l) => l.trim() && !l.startsWith("#"));
    expect(ignored).toEqual(expect.arrayContaining(["**/node_modules", "**/dist", ".git"]));
    for (const line of lines.filter((l) => /^COPY /i.test(l) && !/--from=/.test(l))) {
      const sources = line
        .split(/\s+/)
        .slice(1, -1)
        .filter((s) => !s.startsWith("--"));
      for (const source of sources) expect({ source, exists: existsSync(path.join(root, source)) }).toEqual({ source, exists: true });
    }
  });
});

it("ships a Grafana dashboard whose queries use only metrics the apps export", () => {
  const dashboard = JSON.parse(read("infra/grafana/dashboards/settle.json"));
  const exported = new Set<string>();
  const deps = { pool: {}, queues: { queues: [] }, logger: {} } as never;
  for (const registry of [new ApiMetrics(deps).registry, new WorkerMetrics({ pool: {} as never, ownedPartitions: () => 0 }).registry]) {
    for (const metric of registry.getMetricsAsArray()) {
      exported.add(metric.name);
      for (const suffix of ["_bucket", "_count", "_sum"]) exported.add(metric.name + suffix);
    }
  }
  const exprs: string[] = dashboard.panels.flatMap((p: any) => (p.targets ?? []).map((t: any) => t.expr));
  expect(exprs.length).toBeGreaterThan(10);
  const used = new Set(exprs.flatMap((e) => e.match(/\bsettle_[a-z_]+/g) ?? []));
  expect([...used].filter((m) => !exported.has(m))).toEqual([]);
  // Each metric the issue asks for is on the dashboard.
  for (const metric of [
    "settle_payments_accepted_total",
    "settle_payments_completed_total",
    "settle_payments_failed_total",
    "settle_payment_accept_duration_seconds_bucket",
    "settle_payment_accept_to_settle_seconds_bucket",
    "settle_round_duration_seconds_bucket",
    "settle_queue_jobs",
    "settle_sweeper_reenqueues_total",
    "settle_worker_partitions_owned",
    "settle_db_pool_connections",
    "settle_db_transient_retries_total",
  ]) {
    expect(used).toContain(metric);
  }
  const provisioning = parse(read("infra/grafana/provisioning/dashboards/settle.yml"));
  expect(services.grafana.volumes).toContain(`./infra/grafana/dashboards:${provisioning.providers[0].options.path}:ro`);
});
