// `pnpm start`: migrations, then one API and one worker in the foreground; Ctrl-C stops them all.
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";

const root = path.resolve(__dirname, "..");
// Local development credentials, so the dashboard works out of the box; printed below. Real
// deployments set their own (or none: then there is no dashboard).
const DEV_ADMIN = { user: "admin", password: "settle-dev-only" };
const env = {
  ...process.env,
  LOG_PRETTY: process.env.LOG_PRETTY ?? "true",
  ADMIN_USER: process.env.ADMIN_USER ?? DEV_ADMIN.user,
  ADMIN_PASSWORD: process.env.ADMIN_PASSWORD ?? DEV_ADMIN.password,
  WORKER_METRICS_PORT: process.env.WORKER_METRICS_PORT ?? "9464",
};
const children: ChildProcess[] = [];
let stopping = false;

function run(name: string, cwd: string, args: string[]): ChildProcess {
  const child = spawn(process.execPath, [require.resolve("tsx/cli"), "--conditions=source", ...args], { cwd, env, stdio: "inherit" });
  child.on("exit", (code, signal) => {
    if (!stopping) {
      process.stderr.write(`start: ${name} exited (${signal ?? code}); stopping the others\n`);
      stop(code ?? 1);
    }
  });
  children.push(child);
  return child;
}

function stop(code: number): void {
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
  Promise.all(children.map((c) => (c.exitCode !== null ? Promise.resolve() : new Promise((r) => c.once("exit", r))))).then(() => process.exit(code));
}

process.on("SIGINT", () => stop(0));
process.on("SIGTERM", () => stop(0));

const migrate = spawn(process.execPath, [require.resolve("tsx/cli"), "--conditions=source", "scripts/migrate.ts"], { cwd: root, env, stdio: "inherit" });
migrate.on("exit", (code) => {
  if (code !== 0) process.exit(code ?? 1);
  const api = `http://127.0.0.1:${env.PORT ?? "3000"}`;
  // Only the development password is ever printed; one from the environment stays a secret.
  const password = process.env.ADMIN_PASSWORD === undefined ? DEV_ADMIN.password : "(from ADMIN_PASSWORD)";
  process.stdout.write(
    `\nstart: API ${api}   docs ${api}/docs   metrics ${api}/metrics\n` +
      `start: Bull Board ${api}/admin/queues   user ${env.ADMIN_USER}   password ${password}\n` +
      `start: worker health and metrics http://127.0.0.1:${env.WORKER_METRICS_PORT}/metrics\n\n`,
  );
  run("api", path.join(root, "apps/api"), ["src/main.ts"]);
  run("worker", path.join(root, "apps/worker"), ["src/main.ts"]);
});
