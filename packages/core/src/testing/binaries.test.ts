import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { findOnPath, findPostgresPrograms } from "./binaries";

// Fake programs in a temporary tree: PATH is set to its directories only, so nothing of the
// machine's own PostgreSQL is seen.
let root: string;
const savedPath = process.env.PATH;

function program(dir: string, name: string, script = "exit 0"): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${script}\n`);
  chmodSync(file, 0o755);
  return file;
}

beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), "settle-binaries-"));
});
afterEach(() => {
  process.env.PATH = savedPath;
  rmSync(root, { recursive: true, force: true });
});

const dir = (...parts: string[]) => path.join(root, ...parts);
const noVersions = () => ({ versionsDir: dir("no-such-dir") });

it("finds a program in the first directory of PATH that has it, and only an executable file", () => {
  mkdirSync(dir("a"));
  writeFileSync(path.join(dir("a"), "redis-server"), "not executable");
  const b = program(dir("b"), "redis-server");
  program(dir("c"), "redis-server");
  process.env.PATH = [dir("a"), dir("b"), dir("c")].join(path.delimiter);
  expect(findOnPath("redis-server")).toBe(b);
  expect(findOnPath("redis-cli")).toBeUndefined();
});

it("prefers the directory pg_config --bindir names, then PATH, then /usr/lib/postgresql/<newest>/bin", () => {
  const server = dir("server-bin");
  program(server, "initdb");
  program(server, "pg_ctl");
  program(dir("path-bin"), "initdb");
  program(dir("path-bin"), "pg_ctl");
  program(dir("tools"), "pg_config", `echo ${server}`);
  process.env.PATH = [dir("tools"), dir("path-bin")].join(path.delimiter);
  expect(findPostgresPrograms(["initdb", "pg_ctl"], noVersions())).toEqual({ initdb: path.join(server, "initdb"), pg_ctl: path.join(server, "pg_ctl") });

  // pg_config of a client-only install names a directory without the server's programs.
  rmSync(server, { recursive: true });
  expect(findPostgresPrograms(["initdb", "pg_ctl"], noVersions())?.initdb).toBe(path.join(dir("path-bin"), "initdb"));

  process.env.PATH = dir("tools");
  for (const version of ["9.6", "15", "16"]) {
    program(dir("versions", version, "bin"), "initdb");
    program(dir("versions", version, "bin"), "pg_ctl");
  }
  expect(findPostgresPrograms(["initdb", "pg_ctl"], { versionsDir: dir("versions") })?.pg_ctl).toBe(dir("versions", "16", "bin", "pg_ctl"));
});

it("takes all the programs from one directory, or finds none", () => {
  program(dir("a"), "initdb");
  program(dir("b"), "pg_ctl");
  process.env.PATH = [dir("a"), dir("b")].join(path.delimiter);
  expect(findPostgresPrograms(["initdb", "pg_ctl"], noVersions())).toBeUndefined();
  expect(findPostgresPrograms(["pg_ctl"], noVersions())).toEqual({ pg_ctl: path.join(dir("b"), "pg_ctl") });
});
