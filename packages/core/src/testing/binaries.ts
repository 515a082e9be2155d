// Finding the machine's programs that fault tests and the benchmark run (initdb, pg_ctl, pgbench,
// redis-server), wherever the distribution put them, or saying plainly which one is missing.
import { execFileSync } from "node:child_process";
import { accessSync, constants, readdirSync, statSync } from "node:fs";
import path from "node:path";

const POSTGRES_VERSIONS_DIR = "/usr/lib/postgresql";

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

const pathDirs = (): string[] => (process.env.PATH ?? "").split(path.delimiter).filter(Boolean);

/** The full path of `name` in the first directory of PATH that has it, or undefined. */
export function findOnPath(name: string): string | undefined {
  for (const dir of pathDirs()) {
    const file = path.join(dir, name);
    if (isExecutable(file)) return file;
  }
  return undefined;
}

function pgConfigBinDir(): string | undefined {
  const pgConfig = findOnPath("pg_config");
  if (!pgConfig) return undefined;
  try {
    return execFileSync(pgConfig, ["--bindir"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 10_000 }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Debian and Ubuntu keep each major version's programs off PATH, in /usr/lib/postgresql/<version>/bin: newest first. */
function versionedBinDirs(versionsDir: string): string[] {
  try {
    return readdirSync(versionsDir)
      .filter((v) => /^\d+(\.\d+)?$/.test(v))
      .sort((a, b) => Number(b) - Number(a))
      .map((v) => path.join(versionsDir, v, "bin"));
  } catch {
    return [];
  }
}

/**
 * Full paths of PostgreSQL programs (e.g. `["initdb", "pg_ctl"]`), all from one directory so that
 * their versions match: the one `pg_config --bindir` names, then each directory of PATH, then
 * /usr/lib/postgresql/<version>/bin, newest first. Undefined when no directory has them all
 * (`pg_config` alone may come from the client library's package, without the server).
 */
export function findPostgresPrograms<N extends string>(names: readonly N[], options: { versionsDir?: string } = {}): Record<N, string> | undefined {
  const candidates = [pgConfigBinDir(), ...pathDirs(), ...versionedBinDirs(options.versionsDir ?? POSTGRES_VERSIONS_DIR)].filter(
    (dir): dir is string => dir !== undefined,
  );
  for (const dir of new Set(candidates)) {
    if (names.every((name) => isExecutable(path.join(dir, name)))) {
      return Object.fromEntries(names.map((name) => [name, path.join(dir, name)])) as Record<N, string>;
    }
  }
  return undefined;
}

/** Where findPostgresPrograms looks, for error messages. */
export const POSTGRES_SEARCH = `pg_config --bindir, PATH, ${POSTGRES_VERSIONS_DIR}/*/bin`;
