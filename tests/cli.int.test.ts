// Every command of the README's table (and each app's own start) answers --help with its usage
// and exit code 0, and refuses an unknown flag with exit code 2 and a message naming it; neither
// may run the command. Each runs through pnpm, as a user types it.
import { execFile } from "node:child_process";
import path from "node:path";

const ROOT = path.resolve(__dirname, "..");

// Run as a user types them: `pnpm <script>` at the root, `pnpm -C <app> start` for each app.
const COMMANDS: Record<string, string[]> = {
  "pnpm start": ["start"],
  "pnpm migrate": ["migrate"],
  "pnpm verify": ["verify"],
  "pnpm bench": ["bench"],
  "pnpm bench:render": ["bench:render"],
  "pnpm -C apps/api start": ["-C", "apps/api", "start"],
  "pnpm -C apps/worker start": ["-C", "apps/worker", "start"],
};

// Should a command ignore its flags and run after all, it finds no service here (nothing
// listens on port 1) and no port of anyone's, instead of the machine's shared ones.
const ENV = {
  PATH: process.env.PATH ?? "",
  HOME: process.env.HOME ?? "",
  DATABASE_URL: "postgres://postgres@127.0.0.1:1/settle_cli_test",
  REDIS_URL: "redis://127.0.0.1:1",
  BENCH_DATABASE_URL: "postgres://postgres@127.0.0.1:1/postgres",
  BENCH_REDIS_URL: "redis://127.0.0.1:1",
  BENCH_OUT: "/nonexistent/settle-cli-test",
  PORT: "1",
  WORKER_METRICS_PORT: "1",
  QUEUE_PREFIX: "t-cli-never-used",
};

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile("pnpm", ["--silent", ...args], { cwd: ROOT, env: ENV, timeout: 90_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const outcomes = new Map<string, Outcome>();

beforeAll(async () => {
  const runs = Object.entries(COMMANDS).flatMap<[string, string[]]>(([name, args]) => [
    [`${name} --help`, [...args, "--help"]],
    [`${name} --bogus`, [...args, "--bogus"]],
  ]);
  // A few at a time: each is a node process loading TypeScript, and the machine is shared.
  const queue = [...runs];
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let next = queue.shift(); next; next = queue.shift()) outcomes.set(next[0], await run(next[1]));
    }),
  );
}, 240_000);

it.each(Object.keys(COMMANDS))("%s --help prints its usage and exits 0", (name) => {
  const outcome = outcomes.get(`${name} --help`)!;
  expect({ code: outcome.code, stderr: outcome.stderr }).toEqual({ code: 0, stderr: "" });
  expect(outcome.stdout).toMatch(/^Usage: /);
});

it.each(Object.keys(COMMANDS))("%s --bogus is refused with exit code 2, naming the flag", (name) => {
  const outcome = outcomes.get(`${name} --bogus`)!;
  expect(outcome.code).toBe(2);
  expect(outcome.stderr).toMatch(/--bogus/);
  expect(outcome.stderr).toMatch(/Usage: /);
  expect(outcome.stdout).toBe("");
});
