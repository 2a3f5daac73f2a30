/**
 * Shared by the crash suites: a generated data set slow enough to be interrupted at many points,
 * real `wct` processes that can be killed or frozen, and readers of the store as it is on disk.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { BIN, type CliResult, ROOT } from "../helpers/cli.js";

const PEOPLE = [
  ["Jane", "Doe"],
  ["John", "Smith"],
  ["Maria", "Garcia"],
  ["Li", "Wei"],
  ["Aisha", "Khan"],
  ["Oskar", "Nilsson"],
] as const;

/** One text file of `lines` customer notes, each with a name, an email, a phone and an address. */
function customerNotes(source: number, file: number, lines: number): string {
  let text = `Support export ${source}/${file}\n`;
  for (let line = 0; line < lines; line++) {
    const [first, last] = PEOPLE[(file + line) % PEOPLE.length]!;
    const phone = String(1000 + ((file * 7 + line * 13) % 9000)).padStart(4, "0");
    text +=
      `Customer ${first} ${last} (ref ${source}-${file}-${line}) wrote from ` +
      `${first.toLowerCase()}.${last.toLowerCase()}${file}@example.com, call back on ` +
      `+44 20 7946 ${phone}; lives at ${line + 1} High Street, London. Order shipped.\n`;
  }
  return text;
}

export interface Dataset {
  /** The runbook file. */
  runbook: string;
  /** Its artifact IDs, in plan order. */
  artifactIds: string[];
}

/**
 * Writes `sources` folders of `filesPerSource` small text files with personal data under `dir`,
 * and a runbook scanning each folder through `filesystem` -> `personal_data` ->
 * `gdpr_personal_data_classifier` with `max_concurrency: 4` (three artifacts per folder).
 */
export async function generateDataset(
  dir: string,
  options: { name: string; sources?: number; filesPerSource?: number; linesPerFile?: number },
): Promise<Dataset> {
  const { name, sources = 4, filesPerSource = 500, linesPerFile = 8 } = options;
  const artifactIds: string[] = [];
  let runbook =
    `name: ${name}\ndescription: generated data set for crash tests\n` +
    "config: {max_concurrency: 4}\nartifacts:\n";
  for (let source = 0; source < sources; source++) {
    const folder = join(dir, "data", `source${source}`);
    if (!existsSync(folder)) {
      await mkdir(folder, { recursive: true });
      await Promise.all(
        Array.from({ length: filesPerSource }, (_, file) =>
          writeFile(join(folder, `notes-${file}.txt`), customerNotes(source, file, linesPerFile)),
        ),
      );
    }
    runbook +=
      `  files${source}: {source: {type: filesystem, properties: {path: data/source${source}}}}\n` +
      `  findings${source}: {inputs: files${source}, process: {type: personal_data}}\n` +
      `  gdpr${source}: {inputs: findings${source}, process: {type: gdpr_personal_data_classifier}, output: true}\n`;
    artifactIds.push(`files${source}`, `findings${source}`, `gdpr${source}`);
  }
  const file = join(dir, `${name}.yaml`);
  await writeFile(file, runbook);
  return { runbook: file, artifactIds };
}

/** A `wct` process that is still under the test's control. */
export interface WctProcess {
  child: ChildProcess;
  pid: number;
  /** Settles when the process has exited (and so its pid is dead). */
  done: Promise<CliResult>;
}

const live = new Set<ChildProcess>();

/** Starts `node bin/wct.js ARGS` without waiting for it; see `killLeftovers`. */
export function startWct(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): WctProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, NO_COLOR: "1", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => {
    stdout += d;
  });
  child.stderr!.on("data", (d) => {
    stderr += d;
  });
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      live.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
  if (child.pid === undefined) throw new Error("could not start wct");
  return { child, pid: child.pid, done };
}

/** Runs `wct ARGS` to the end. */
/** Runs `wct ARGS` to the end; one that hangs is killed and fails, naming its command. */
export async function wct(
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<CliResult> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const proc = startWct(args, options);
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    proc.child.kill("SIGKILL");
  }, timeoutMs);
  const result = await proc.done;
  clearTimeout(timer);
  if (hung) {
    throw new Error(
      `wct ${args.join(" ")} did not finish in ${timeoutMs} ms; stderr: ${result.stderr}`,
    );
  }
  return result;
}

/** SIGKILLs every `wct` process a test started and that is still alive (also a stopped one). */
export async function killLeftovers(): Promise<void> {
  const waiting = [...live].map(
    (child) =>
      new Promise<void>((resolve) => {
        child.once("close", () => resolve());
        child.kill("SIGKILL");
      }),
  );
  await Promise.all(waiting);
}

/** The parsed stdout of a `--json` command that must exit 0. */
export async function wctJson<T = unknown>(args: string[]): Promise<T> {
  const result = await wct([...args, "--json"]);
  if (result.code !== 0) {
    throw new Error(`wct ${args.join(" ")} exited ${result.code}: ${result.stderr}`);
  }
  return JSON.parse(result.stdout) as T;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 5 ms until it returns a value, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | null | undefined | Promise<T | null | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== null && value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

export interface ArtifactSummary {
  id: string;
  status: string;
  sha256: string | null;
}

export interface RunSummary {
  run_id: string;
  status: string;
  attempt: number;
  artifacts: ArtifactSummary[];
}

/** Run folder names under the store (what a kill may have left, listed or not). */
export async function runFolders(store: string): Promise<string[]> {
  try {
    return (await readdir(join(store, "runs"))).filter((name) => !name.startsWith("."));
  } catch {
    return [];
  }
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Every file under a run's `artifacts/` folder, by name, with its bytes. */
export async function artifactFiles(store: string, runId: string): Promise<Map<string, Buffer>> {
  const dir = join(store, "runs", runId, "artifacts");
  const files = new Map<string, Buffer>();
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return files;
  }
  for (const name of names) files.set(name, await readFile(join(dir, name)));
  return files;
}

export interface StoredEvent {
  seq: number;
  type: string;
  artifact_id?: string;
  attempt?: number;
  pid?: number;
  status?: string;
}

/** A run's event log as stored, complete lines only (a kill may tear the last one). */
export async function storedEvents(store: string, runId: string): Promise<StoredEvent[]> {
  const text = await readFile(join(store, "runs", runId, "_system", "events.jsonl"), "utf8");
  return text
    .slice(0, text.lastIndexOf("\n") + 1)
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as StoredEvent);
}

/** The lease file of a run, or null when no process holds it. */
export function leaseFile(store: string, runId: string): string {
  return join(store, "runs", runId, "_system", "lease.json");
}
