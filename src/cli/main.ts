/**
 * @module The `wct` command line: commander wiring and the one top-level catch that maps errors
 * to exit codes (ARCHITECTURE §5): 0 success, 1 run failed/interrupted or store failure, 2 invalid
 * input, 130 SIGINT, 143 SIGTERM. User errors print one message, never a stack trace.
 */
import { Command, CommanderError, Option } from "commander";
import {
  ConflictError,
  CorruptDataError,
  errorMessage,
  formatIssue,
  InputError,
  NotFoundError,
  RunbookError,
  WctError,
} from "../errors.js";
import { closestMatch } from "../suggest.js";
import type { CliIo } from "./io.js";
import { commandWith, toolVersion } from "./io.js";
import { plural, printable } from "./table.js";

/** Exit code for an error that reached the top. */
export function exitCodeOf(error: unknown): number {
  // A run taken over by another process mid-way is an unfinished run, not bad input.
  if (error instanceof ConflictError && error.code === "lease_lost") return 1;
  if (
    error instanceof InputError ||
    error instanceof NotFoundError ||
    error instanceof ConflictError
  )
    return 2;
  return 1;
}

/** The message shown for an error; a stack only for unexpected errors under WCT_DEBUG=1. */
export function describeError(error: unknown, debug: boolean): string {
  if (error instanceof RunbookError) {
    const lines = error.issues.map(formatIssue);
    return `invalid runbook (${plural(lines.length, "problem")}):\n${lines.map((l) => `  ${l}`).join("\n")}`;
  }
  if (error instanceof CorruptDataError) return `corrupt data: ${error.message}`;
  if (error instanceof WctError) return error.message;
  if (debug && error instanceof Error && error.stack) return `internal error: ${error.stack}`;
  return `internal error: ${errorMessage(error)} (set WCT_DEBUG=1 for details)`;
}

const STORE_HELP =
  "Runs are persisted in a store: --store-path DIR or WAIVERN_STORE_PATH (default ./.waivern); " +
  "--store-type or WAIVERN_STORE_TYPE=filesystem|memory selects the backend.";

function storeOptions(command: Command): Command {
  return command
    .option("--store-path <dir>", "store folder (env WAIVERN_STORE_PATH, default ./.waivern)")
    .addOption(
      new Option("--store-type <type>", "store backend (env WAIVERN_STORE_TYPE)").choices([
        "filesystem",
        "memory",
      ]),
    );
}

/**
 * `wct runs --store-path S prune`: with positional options the flag lands on `runs`; a
 * subcommand takes the store flags of its parent unless it has its own.
 */
function inheritStoreFlags(
  options: Record<string, unknown>,
  command: Command,
): Record<string, unknown> {
  refuseListingFlags(command);
  const parent = command.parent?.opts() ?? {};
  return {
    ...(parent.storePath !== undefined ? { storePath: parent.storePath } : {}),
    ...(parent.storeType !== undefined ? { storeType: parent.storeType } : {}),
    ...options,
  };
}

/** `wct runs verfy ID`: arguments to a command that takes none but its subcommands' names. */
function refuseUnknownSubcommand(command: Command): void {
  const [word] = command.args;
  if (word === undefined) return;
  const names = command.commands.map((c) => c.name());
  const closest = closestMatch(word, names);
  throw new InputError(
    `unknown subcommand '${printable(word)}' of 'wct ${command.name()}'${closest ? ` (did you mean ${closest}?)` : ""}; its subcommands: ${names.join(", ")}`,
  );
}

/**
 * `wct runs --status failed prune --older-than 30d`: the listing's own options (all but the
 * store's) land on `runs`, not on the subcommand, which would ignore them and prune every run.
 * Refused, saying where the option goes.
 */
function refuseListingFlags(command: Command): void {
  const parent = command.parent;
  if (!parent) return;
  for (const option of parent.options) {
    const key = option.attributeName();
    if (key === "storePath" || key === "storeType") continue;
    if (parent.getOptionValueSource(key) !== "cli") continue;
    const flag = option.long ?? option.flags;
    const own = command.options.some((o) => o.long === option.long);
    throw new InputError(
      own
        ? `${flag} before '${command.name()}' is an option of 'wct runs' (the listing): put it after '${command.name()}'`
        : `${flag} is an option of 'wct runs' (the listing); 'wct runs ${command.name()}' takes no ${flag}`,
    );
  }
}

function buildProgram(io: CliIo, setExit: (code: number) => void): Command {
  const program = new Command("wct")
    .description("Waivern Compliance Tool: scan systems for personal data; every run is persisted.")
    .version(toolVersion(), "-V, --version")
    .showSuggestionAfterError(true)
    .enablePositionalOptions()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .addHelpText(
      "after",
      `\n${STORE_HELP}\nExit codes: 0 ok, 1 run failed or interrupted, or a store or integrity failure, 2 invalid input, 130 stopped by Ctrl-C, 143 stopped by SIGTERM (the run is recorded interrupted and can be resumed).`,
    )
    .exitOverride();

  const lazy =
    <A extends unknown[]>(load: () => Promise<(...args: A) => number | Promise<number>>) =>
    async (...args: A) => {
      const command = await load();
      setExit(await command(...args));
    };

  storeOptions(
    program
      .command("run")
      .description("plan, execute and persist a runbook; prints the run ID")
      .argument("<runbook>", "runbook YAML file")
      .option(
        "--resume <run-id>",
        "continue a failed or interrupted run, or repair a completed one whose artifacts were damaged (a unique prefix is enough)",
      )
      .option("--json", "print the run record as JSON on stdout instead of the run ID")
      .option("-o, --output <file>", "also write the export of the run to FILE")
      .option("--exporter <name>", "export format for --output", "json")
      .addHelpText(
        "after",
        [
          "",
          "Examples:",
          "  wct run examples/personal-data-scan.yaml",
          '  id=$(wct run scan.yaml) || wct run scan.yaml --resume "$id"',
          "  wct run scan.yaml --json -o report.json --store-path /srv/wct",
          "",
          "Exit codes: 0 completed; 1 failed, timed out (interrupted) or a store failure; 2 invalid",
          "input (runbook, arguments, a changed runbook on resume); 130 Ctrl-C, 143 SIGTERM (the run",
          "is recorded interrupted and can be resumed).",
        ].join("\n"),
      ),
  ).action(
    lazy(async () => {
      const { runCommand } = await import("./commands/run.js");
      return (runbook: string, options: Record<string, unknown>) =>
        runCommand(runbook, options, io);
    }),
  );

  storeOptions(
    program
      .command("validate-runbook")
      .description("check a runbook without running it: structure, references, components, schemas")
      .argument("<runbook>", "runbook YAML file")
      .option("--json", "print the plan summary as JSON")
      .addHelpText(
        "after",
        "\nThe store options name the store in which `reuse.from_run` runs are looked up.\nExit codes: 0 valid, 2 invalid (with --json, {valid: false, problems} on stdout).",
      ),
  ).action(
    lazy(async () => {
      const { validateRunbookCommand } = await import("./commands/catalog.js");
      return (runbook: string, options: Record<string, unknown>) =>
        validateRunbookCommand(runbook, options, io);
    }),
  );

  program
    .command("generate-schema")
    .description("write the runbook JSON Schema for editors (stdout, or -o FILE)")
    .option("-o, --output <file>", "write to FILE")
    .action(
      lazy(async () => {
        const { generateSchemaCommand } = await import("./commands/catalog.js");
        return (options: { output?: string }) => generateSchemaCommand(options, io);
      }),
    );

  for (const [name, description] of [
    ["connectors", "list the installed connectors"],
    ["processors", "list the installed processors"],
    ["exporters", "list the export formats"],
    ["rulesets", "list the installed rulesets"],
  ] as const) {
    program
      .command(name)
      .description(description)
      .option("--json", "print as JSON")
      .action(
        lazy(async () => {
          const catalog = await import("./commands/catalog.js");
          const commands = {
            connectors: catalog.connectorsCommand,
            processors: catalog.processorsCommand,
            exporters: catalog.exportersCommand,
            rulesets: catalog.rulesetsCommand,
          };
          return (options: { json?: boolean }) => commands[name](options, io);
        }),
      );
  }

  const runs = storeOptions(
    program
      .command("runs")
      .description("run history, newest first (subcommands: verify, delete, prune)")
      // Options after a subcommand belong to it: `runs prune --json` is prune's --json.
      .enablePositionalOptions()
      .option(
        "--status <status>",
        "only runs with this status: running, completed, failed, interrupted",
      )
      .option("--runbook <name>", "only runs of the runbook with this name")
      .option(
        "--since <when>",
        "only runs started since an age (7d, 12h) or an ISO date or date-time (UTC unless it names a zone)",
      )
      .option("--limit <n>", "at most N runs, up to 10000", "100")
      .option("--cursor <run-id>", "continue after this run (printed when more runs exist)")
      .option("--json", "print a JSON array of run records")
      .addHelpText(
        "after",
        "\nExit codes: 0 listed (a run whose record cannot be read is listed as unreadable); 1 a store\nfailure; 2 bad arguments (status, limit, date, cursor, store).",
      ),
  )
    // A misspelt subcommand (`wct runs verfy ID`) reaches the listing as arguments: said so.
    .allowExcessArguments(true)
    .action(
      lazy(async () => {
        const { runsCommand } = await import("./commands/history.js");
        return (options: Record<string, unknown>, command: Command) => {
          refuseUnknownSubcommand(command);
          return runsCommand(options, io);
        };
      }),
    );
  storeOptions(
    runs
      .command("verify")
      .description(
        "re-hash every stored artifact of a run against its recorded sha256 (exit 1 on mismatch)",
      )
      .argument("<run-id>", "run ID or unique prefix")
      .option("--json", "print the result as JSON")
      .addHelpText(
        "after",
        "\nExit codes: 0 every artifact intact; 1 a missing or changed artifact, or a damaged run\n(event log, record, plan); 2 unknown or malformed run ID.",
      ),
  ).action(
    lazy(async () => {
      const { verifyCommand } = await import("./commands/history.js");
      return (runId: string, options: Record<string, unknown>, command: Command) =>
        verifyCommand(runId, inheritStoreFlags(options, command), io);
    }),
  );
  storeOptions(
    runs
      .command("delete")
      .description("delete a run and its artifacts (refused while it runs)")
      .argument("<run-id>", "run ID or unique prefix")
      .addHelpText(
        "after",
        "\nExit codes: 0 deleted; 1 a store failure; 2 unknown or malformed run ID, or a run that is\nexecuting in another process.",
      ),
  ).action(
    lazy(async () => {
      const { deleteCommand } = await import("./commands/history.js");
      return (runId: string, options: Record<string, unknown>, command: Command) =>
        deleteCommand(runId, inheritStoreFlags(options, command), io);
    }),
  );
  storeOptions(
    runs
      .command("prune")
      .description(
        "delete old runs (a run that is executing is never touched), and what crashed runs left half-made",
      )
      .option("--older-than <age>", "only runs started more than AGE ago (30d, 12h, 2w)")
      .option(
        "--keep-last <n>",
        "keep the newest N finished runs (of --status, if given); executing ones are always kept",
      )
      .option(
        "--status <status>",
        "only runs with this status: running, completed, failed, interrupted",
      )
      .option("--dry-run", "show what would be deleted, delete nothing")
      .option("--json", "print the result as JSON")
      .addHelpText(
        "after",
        [
          "",
          "A run is deleted when it matches every criterion given. A run that is executing, or whose",
          "record cannot be read, is kept and listed with the reason ('wct runs delete' removes the latter).",
          "",
          "Examples:",
          "  wct runs prune --older-than 30d --dry-run",
          "  wct runs prune --keep-last 20 --status completed",
          "",
          "Exit codes: 0 done; 1 a store failure; 2 bad arguments.",
        ].join("\n"),
      ),
  ).action(
    lazy(async () => {
      const { pruneCommand } = await import("./commands/history.js");
      return (options: Record<string, unknown>, command: Command) =>
        pruneCommand(inheritStoreFlags(options, command), io);
    }),
  );

  storeOptions(
    program
      .command("export")
      .description("export a past run from the stores (nothing is re-executed)")
      .argument("<run-id>", "run ID or unique prefix")
      .option("--format <name>", "export format (see wct exporters)", "json")
      .option("-o, --output <file>", "write to FILE instead of stdout")
      .addHelpText(
        "after",
        "\nExit codes: 0 exported; 1 a damaged run or artifact (named), a store failure, or an export\ntoo long for -o; 2 unknown or malformed run ID, unknown format, an empty -o or one in the store.",
      ),
  ).action(
    lazy(async () => {
      const { exportCommand } = await import("./commands/export.js");
      return (runId: string, options: Record<string, unknown>) => exportCommand(runId, options, io);
    }),
  );

  storeOptions(
    program
      .command("inspect")
      .description("show a past run (statuses, timings, errors, hashes) or one stored artifact")
      .argument("<run-id>", "run ID or unique prefix")
      .argument("[artifact-id]", "print this artifact's content")
      .option("--json", "machine-readable output (the whole Message for an artifact)")
      .option("--events", "print the run's audit trail (event log)")
      .addHelpText(
        "after",
        [
          "",
          "Examples:",
          "  wct inspect 0192f4c1-7e3a            a unique prefix of a run ID is enough",
          "  wct inspect RUN_ID files --json      the stored Message, checked against its sha256",
          "  wct inspect RUN_ID --events --json   every event of the run, in order",
          "",
          "Exit codes: 0 ok; 1 damaged run or artifact (named), or an incomplete audit trail; 2 unknown",
          "or malformed run or artifact ID, or an artifact that was not stored (failed, skipped).",
        ].join("\n"),
      ),
  ).action(
    lazy(async () => {
      const { inspectCommand } = await import("./commands/history.js");
      return (runId: string, artifactId: string | undefined, options: Record<string, unknown>) =>
        inspectCommand(runId, artifactId, options, io);
    }),
  );

  return program;
}

/** How each stop signal ends a run: its exit code (128 + its number) and the recorded reason. */
const STOP_SIGNALS = {
  SIGINT: { code: 130, reason: "stopped by Ctrl-C", again: "Ctrl-C again" },
  SIGTERM: { code: 143, reason: "stopped by SIGTERM", again: "a second SIGTERM" },
} as const;

/** Runs the CLI; resolves with the process exit code. */
export async function main(argv: string[], partial: Partial<CliIo> = {}): Promise<number> {
  const controller = new AbortController();
  const io: CliIo = {
    stdout: process.stdout,
    stderr: process.stderr,
    cwd: process.cwd(),
    env: process.env,
    argv,
    signal: controller.signal,
    ...partial,
  };
  // Only `run` has a run record to finish; every other command stops at once.
  const graceful = argv.find((arg) => !arg.startsWith("-")) === "run";
  // The first SIGINT or SIGTERM stops a run gracefully (recorded interrupted, resumable); a
  // second one, or one during any other command, exits at once.
  let stoppedWith: number | undefined;
  let runId: string | undefined;
  let reported = false;
  io.announceRun ??= (id) => {
    runId = id;
  };
  io.reportedRun ??= () => {
    reported = true;
  };
  const onStop = (signal: NodeJS.Signals) => {
    const stop = STOP_SIGNALS[signal as keyof typeof STOP_SIGNALS];
    if (stoppedWith !== undefined || !(graceful || io.stopping)) {
      // Quit at once: the run ID still reaches the user (and `id=$(wct run ...)`), unless the
      // run's own result already told it.
      if (runId && !reported) {
        // The live list is left whole, the cursor below it.
        io.progress?.close();
        io.stderr.write(
          `run ID: ${runId} (stopped at once; it shows as interrupted)\nresume with: ${commandWith(io, "--resume", runId)}\n`,
        );
        if (!argv.includes("--json")) io.stdout.write(`${runId}\n`);
      }
      process.exit(stop.code);
    }
    stoppedWith = stop.code;
    const stopping = `stopping: ${io.stopping ?? "finishing the run record"} (${stop.again} to quit at once)\n`;
    // Past the `^C` the terminal echoed; the live list clears it itself.
    if (io.progress?.live) io.progress.notice(stopping);
    else io.stderr.write(`\n${stopping}`);
    controller.abort(stop.reason);
  };
  if (!partial.signal) for (const signal of Object.keys(STOP_SIGNALS)) process.on(signal, onStop);
  watchOutput(io.stdout);
  watchOutput(io.stderr);
  let code = 0;
  try {
    await buildProgram(io, (c) => {
      code = c;
    }).parseAsync(argv, { from: "user" });
    // `run` answers 130 for a stopped run; SIGTERM's own code is 143.
    code = code === STOP_SIGNALS.SIGINT.code && stoppedWith !== undefined ? stoppedWith : code;
  } catch (error) {
    if (error instanceof CommanderError) {
      code =
        error.code === "commander.helpDisplayed" ||
        error.code === "commander.version" ||
        error.exitCode === 0
          ? 0
          : 2;
    } else {
      // Messages quote what the user gave (ids, names, paths): shown escaped, never as terminal commands.
      io.stderr.write(`wct: ${printable(describeError(error, Boolean(io.env.WCT_DEBUG)))}\n`);
      code = exitCodeOf(error);
    }
  } finally {
    for (const signal of Object.keys(STOP_SIGNALS)) process.off(signal, onStop);
  }
  return reportLostOutput(io, code, runId);
}

/**
 * A reader that goes away early (`wct inspect RUN | head`) closes the pipe we print to: what is
 * left to print goes nowhere, and the command finishes (a run is still recorded) with its own
 * exit code instead of dying of an unhandled EPIPE. Any other failure to write (`> /dev/full`,
 * EIO) is kept for `main` to report once the command is done; on stderr, which is only progress
 * and messages, it is ignored: a run never stops for it. The error may come after the command
 * is done, so the listener stays; it is added once per stream.
 */
function watchOutput(stream: CliIo["stdout"]): void {
  if (watchedOutputs.has(stream)) return;
  watchedOutputs.add(stream);
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE" || error.code === "ERR_STREAM_DESTROYED") return;
    if (!outputFailures.has(stream)) outputFailures.set(stream, error);
  });
}
const watchedOutputs = new WeakSet<CliIo["stdout"]>();
const outputFailures = new WeakMap<CliIo["stdout"], NodeJS.ErrnoException>();

/** The exit code once what stdout lost is said on stderr (1 if the command had succeeded). */
async function reportLostOutput(
  io: CliIo,
  code: number,
  runId: string | undefined,
): Promise<number> {
  // A failed write's error is emitted a tick later.
  await new Promise((resolve) => setImmediate(resolve));
  const lost = outputFailures.get(io.stdout);
  if (!lost) return code;
  outputFailures.delete(io.stdout);
  const stored = runId ? `; run ${runId} is stored: wct inspect ${runId}` : "";
  // `ENOSPC: no space left on device, write`: the call's name says nothing more.
  const why = lost.message.replace(/, write$/, "");
  io.stderr.write(`wct: could not write to stdout (${why})${stored}\n`);
  return code === 0 ? 1 : code;
}
