import { parseArgs, type ParseArgsConfig } from "node:util";

export type CommandOptions = NonNullable<ParseArgsConfig["options"]>;

export interface CommandLine {
  /** Flag values by long name (`--help` is handled here and is not among them). */
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** Exit code of a command given flags or arguments it does not take (the shells' convention for misuse). */
export const USAGE_EXIT_CODE = 2;

/**
 * Parses a command's arguments (process.argv.slice(2)) with util.parseArgs, strictly. `--help` or
 * `-h` prints `usage` to stdout and exits 0; an unknown flag, a missing value or an unexpected
 * argument prints the error, which names it, and the usage to stderr and exits 2. Both exit before
 * the command does anything, so asking a command how to run it never runs it.
 */
export function parseCommandLine(argv: string[], command: { name: string; usage: string; options?: CommandOptions; allowPositionals?: boolean }): CommandLine {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...command.options, help: { type: "boolean", short: "h" } },
      allowPositionals: command.allowPositionals ?? false,
      strict: true,
    });
  } catch (error) {
    process.stderr.write(`${command.name}: ${error instanceof Error ? error.message : String(error)}\n\n${command.usage.trimEnd()}\n`);
    process.exit(USAGE_EXIT_CODE);
  }
  const { help, ...values } = parsed.values as Record<string, string | boolean | undefined>;
  if (help) {
    process.stdout.write(`${command.usage.trimEnd()}\n`);
    process.exit(0);
  }
  return { values, positionals: parsed.positionals };
}
