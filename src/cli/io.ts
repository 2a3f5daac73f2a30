/**
 * @module What a CLI command gets from the outside world, injected so commands are plain async
 * functions that tests can call directly.
 */
import { constants, readdirSync, readFileSync, statSync } from "node:fs";
import { access, realpath, stat, writeFile } from "node:fs/promises";
import { hostname, userInfo } from "node:os";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import type { Writable } from "node:stream";
import type { WorkerRunner } from "../components/types.js";
import { InputError, StoreError } from "../errors.js";
import { packageFile } from "../paths.js";
import type { PreparedRunbook } from "../plan/prepare.js";
import { resolveStores } from "../stores/config.js";
import { hasErrorCode, writeFileDurable } from "../stores/durable-fs.js";
import { oneLine } from "./table.js";

export interface CliIo {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
  cwd: string;
  env: Record<string, string | undefined>;
  /** The command line as typed, for the run record (redacted before it is stored). */
  argv: string[];
  /** Aborted on SIGINT. */
  signal?: AbortSignal;
  /** Told the run ID once `wct run` has one: a second Ctrl-C, which exits at once, prints it. */
  announceRun?: (runId: string) => void;
  /** Told once `wct run` has printed its result: a second Ctrl-C then prints the run ID no more. */
  reportedRun?: () => void;
  /**
   * Set by `wct run` while its progress is on stderr: what else is said there then (Ctrl-C's
   * `stopping:`) goes through it, above the live task list instead of into it.
   */
  progress?: { live: boolean; notice(text: string): void; close(): void };
  /**
   * Set by a command that stops at its next step on the first Ctrl-C (`signal`), as `wct run`
   * does: what it says it is doing then (`stopping: …`).
   */
  stopping?: string;
}

/** Store selection flags shared by every command that reads or writes runs. */
export interface StoreFlags {
  storePath?: string;
  storeType?: string;
}

/** Opens the stores the flags and environment select (flags win). */
export function openStores(flags: StoreFlags, io: CliIo, workers?: WorkerRunner) {
  if (flags.storePath === "") throw new InputError("--store-path is empty: give the store folder");
  // An empty variable counts as unset, as in most tools.
  const path = flags.storePath ?? (io.env.WAIVERN_STORE_PATH || undefined);
  const source =
    path === undefined
      ? "the default"
      : flags.storePath !== undefined
        ? "--store-path"
        : "WAIVERN_STORE_PATH";
  const named = `store path '${path ?? ".waivern"}' (${source})`;
  const root = resolve(io.cwd, path ?? ".waivern");
  const found = path === undefined ? undefined : statSync(root, { throwIfNoEntry: false });
  if (found && !found.isDirectory()) {
    throw new InputError(
      `${named} is ${found.isFile() ? "a file" : "not a folder"}; name a folder`,
    );
  }
  const outer = enclosingStore(root, Boolean(found));
  if (outer) {
    const store = relative(io.cwd, outer.store) || ".";
    const shown = store.startsWith(`..${sep}..`) ? outer.store : store;
    const fix =
      path === undefined
        ? "run wct outside it, or name a store with --store-path"
        : "name that store's folder";
    throw new InputError(`${named} is ${outer.within} of the store at '${shown}': ${fix}`);
  }
  return resolveStores(
    {
      ...(flags.storeType ? { type: flags.storeType } : {}),
      ...(workers ? { workers } : {}),
      path: root,
    },
    io.env,
  );
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const isRunFolder = (dir: string) =>
  statSync(join(dir, "_system"), { throwIfNoEntry: false })?.isDirectory() === true;

/**
 * The store a folder lies in, when it is a store's `runs/` folder or inside one of its runs
 * (`.waivern/runs`, `.waivern/runs/<run_id>/artifacts`): a store opened there would write runs
 * into another store's run, or beside its runs.
 */
function enclosingStore(dir: string, exists: boolean): { store: string; within: string } | null {
  const parts = dir.split(sep);
  for (let i = parts.length - 1; i >= 2; i--) {
    const runDir = parts.slice(0, i + 1).join(sep);
    if (parts[i - 1] === "runs" && UUID.test(parts[i]!) && isRunFolder(runDir)) {
      return { store: parts.slice(0, i - 1).join(sep) || sep, within: `inside run ${parts[i]}` };
    }
  }
  if (!exists || basename(dir) !== "runs") return null;
  const entries = readdirSync(dir, { withFileTypes: true });
  const hasRun = entries.some(
    (e) => e.isDirectory() && UUID.test(e.name) && isRunFolder(join(dir, e.name)),
  );
  return hasRun ? { store: dirname(dir), within: "the runs folder" } : null;
}

let version: string | undefined;
/** This tool's version, from package.json. */
export function toolVersion(): string {
  version ??= (
    JSON.parse(readFileSync(packageFile("package.json"), "utf8")) as {
      version: string;
    }
  ).version;
  return version;
}

/** The OS user, or `unknown` where the platform cannot say. */
export function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "unknown";
  }
}

export function currentHost(): string {
  return hostname();
}

const SECRET_FLAG = /(pass(word)?|secret|token|key|credential)/i;

/** The command line with values of secret-looking flags (`--api-key X`, `--token=X`) hidden. */
export function redactArgv(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 0 && SECRET_FLAG.test(arg.slice(0, eq))) {
      out.push(`${arg.slice(0, eq)}=***`);
    } else if (arg.startsWith("--") && SECRET_FLAG.test(arg) && i + 1 < argv.length) {
      out.push(arg, "***");
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/**
 * Parses a positive integer flag written in decimal digits (not `0x10`, `1e3` or ` 5`, which
 * `Number` would take), or throws an InputError naming the flag.
 */
export function positiveInt(
  flag: string,
  value: string | undefined,
  allowZero = false,
): number | undefined {
  if (value === undefined) return undefined;
  // Past 2^53 a number is no longer exact, but still larger than any count it is compared with.
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n < (allowZero ? 0 : 1)) {
    throw new InputError(
      `${flag} must be a ${allowZero ? "non-negative" : "positive"} whole number, got '${value}'`,
    );
  }
  return n;
}

/**
 * The command the user typed (`io.argv`) with `flag value` in place of any `flag` it had, quoted
 * for a POSIX shell: a hint to copy (`resume with: ...`, `more runs: ...`) keeps the store path
 * and filters it was typed with, and names a store that WAIVERN_STORE_PATH chose, since the
 * command may be copied to a shell without it.
 */
export function commandWith(
  io: Pick<CliIo, "argv" | "env" | "cwd">,
  flag: string,
  value: string,
): string {
  const { argv } = io;
  const end = argv.includes("--") ? argv.indexOf("--") : argv.length;
  const kept: string[] = [];
  for (let i = 0; i < end; i++) {
    const arg = argv[i]!;
    if (arg === flag) i++;
    else if (!arg.startsWith(`${flag}=`)) kept.push(arg);
  }
  const fromEnv = io.env.WAIVERN_STORE_PATH;
  if (fromEnv && !kept.some((arg) => arg === "--store-path" || arg.startsWith("--store-path="))) {
    kept.push("--store-path", resolve(io.cwd, fromEnv));
  }
  // Before a `--`, after which everything is an argument.
  return ["wct", ...kept, flag, value, ...argv.slice(end)].map(shellQuote).join(" ");
}

function shellQuote(arg: string): string {
  return /^[\w./,:=@%+-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}

/** A runbook without artifacts is valid (upstream's schema allows it), but likely a mistake. */
const NO_ARTIFACTS_WARNING = "warning: the runbook has no artifacts: nothing is scanned\n";

/** Warns, on stderr, of a runbook that scans nothing and of what its runbooks ask for in vain. */
export function printPlanWarnings(io: CliIo, prepared: PreparedRunbook): void {
  if (prepared.plan.artifacts.size === 0) io.stderr.write(NO_ARTIFACTS_WARNING);
  for (const warning of prepared.warnings) io.stderr.write(`warning: ${oneLine(warning)}\n`);
}

/** Writes one JSON document to stdout. */
export function printJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Fails early, before any work, when an output file could not be written: no such folder, or
 * the name is a folder; or must not be: a file in one of `storeFolders` or in any other store's
 * runs, which only wct writes in (an export written over a run's record or artifact would
 * destroy it), or one of `inputs` (`wct run rb.yaml -o rb.yaml`), also by way of a symlink.
 */
export async function checkOutputTarget(
  io: CliIo,
  output: string,
  storeFolders: readonly string[] = [],
  inputs: readonly string[] = [],
): Promise<void> {
  const target = resolve(io.cwd, output);
  const folder = dirname(target);
  const info = await stat(folder).catch(() => null);
  if (!info?.isDirectory())
    throw new InputError(`cannot write '${output}': folder '${folder}' does not exist`);
  const existing = await stat(target).catch(() => null);
  if (existing?.isDirectory())
    throw new InputError(`cannot write '${output}': it is a folder; name a file`);
  // A read-only file system or file, found now rather than after the whole run: the file is
  // written in place if it exists, else created in the folder.
  try {
    await access(existing ? target : folder, constants.W_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === "EROFS"
        ? "the file system is read-only"
        : `${existing ? "it" : `folder '${folder}'`} is not writable (${code})`;
    throw new InputError(`cannot write '${output}': ${why}`);
  }
  // Where the file would land: a symlink is followed when it is written.
  const written = await realpath(target).catch(async () =>
    resolve(await realpath(folder), basename(target)),
  );
  for (const own of storeFolders) {
    const real = await realpath(own).catch(() => own);
    if (written.startsWith(real + sep)) {
      throw new InputError(
        `cannot write '${output}': it is inside the store's folder ${own}, which only wct writes in; name a file elsewhere`,
      );
    }
  }
  const outer = enclosingStore(dirname(written), true);
  if (outer) {
    throw new InputError(
      `cannot write '${output}': it is ${outer.within} of the store at '${outer.store}', which only wct writes in; name a file elsewhere`,
    );
  }
  for (const input of inputs) {
    if (written === (await realpath(resolve(io.cwd, input)).catch(() => null))) {
      throw new InputError(
        `cannot write '${output}': it is the runbook ${input}; name another file`,
      );
    }
  }
}

/**
 * Writes a user-named output file as the store writes its own: a temp file beside it (mode 0600:
 * exports hold personal data), fsync, rename. A failure leaves the file that was there untouched
 * and no fragment. A symlink is followed, not replaced. Written in place instead: anything under
 * `/dev` or `/proc` (`-o /dev/stdout`, even redirected to a file), a device or FIFO, a file with
 * other hard links (they would be split off), and a file in a folder we may not create files in.
 * A failure names the file (and the run, which is stored anyway); a pipe whose reader went away
 * is not a failure.
 */
export async function writeOutputFile(
  io: CliIo,
  output: string,
  text: string,
  runId?: string,
): Promise<void> {
  const target = resolve(io.cwd, output);
  try {
    const info = await stat(target).catch(() => null);
    const inPlace =
      /^\/(?:dev|proc)\//.test(target) || (info !== null && (!info.isFile() || info.nlink > 1));
    if (inPlace) await writeFile(target, text);
    else {
      await writeFileDurable(info ? await realpath(target) : target, text).catch(async (error) => {
        // A writable file in a folder we may not add to: it can still be rewritten in place.
        if (!info || !hasErrorCode(error, "EACCES", "EPERM")) throw error;
        await writeFile(target, text);
      });
    }
  } catch (error) {
    // A pipe whose reader went away (`-o /dev/stdout | head`): it took what it wanted, as a
    // closed stdout does (see main.ts), and the command ends quietly with its own exit code.
    if (hasErrorCode(error, "EPIPE")) return;
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    const stored = runId
      ? `; the run is stored as ${runId}: 'wct export ${runId} -o FILE' writes it later`
      : "";
    throw new StoreError(`cannot write '${output}': ${reason}${stored}`, { cause: error });
  }
  io.stderr.write(`written to ${output}\n`);
}
