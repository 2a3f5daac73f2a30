/**
 * Shared helpers of the benchmarks in bench/: a seeded PRNG, a generator of realistic mixed text
 * files with personal data sprinkled in, running the built CLI with wall-clock timing, and
 * printing tables and the `RESULT` line. Benchmarks are not tests: they print ratios against a
 * baseline measured in the same run.
 */
import { spawn } from "node:child_process";
import { existsSync, promises as fs, readdirSync, statSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** The repository checkout. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
/** The built CLI entry point; benchmarks run it, never the sources. */
export const WCT_BIN = path.join(REPO_ROOT, "bin", "wct.js");
/** Git-ignored scratch space for generated corpora and stores. */
export const CORPUS_ROOT = path.join(REPO_ROOT, "bench", ".corpus");

/**
 * Exits with a hint when dist/ is missing, and warns when a source file is newer than the build
 * (the numbers would then describe old code). Prints the machine's cores and load, since other
 * processes on a small machine move the numbers.
 */
export function requireBuild(): void {
  const load = loadavg().map((l) => l.toFixed(2));
  console.log(`machine: ${availableParallelism()} cores, load average ${load.join(" ")}`);
  const main = path.join(REPO_ROOT, "dist", "bundle", "wct.cjs");
  if (!existsSync(main)) {
    console.error("dist/ is missing: run `npm run build` first (or `npm run bench`).");
    process.exit(1);
  }
  if (AMBIENT_CA_CERTS) {
    console.log(
      "NODE_EXTRA_CA_CERTS is set here; the processes a benchmark starts run without it (see CHILD_ENV)",
    );
  }
  const built = statSync(main).mtimeMs;
  const newer = newestMtime(path.join(REPO_ROOT, "src"));
  if (newer > built + 1000) {
    console.error("warning: src/ has changes newer than dist/; run `npm run build` first.");
  }
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(full));
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts"))
      newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

/** Imports a module of the build, e.g. `importBuilt("stores/keys.js")` for dist/stores/keys.js. */
export function importBuilt(module: string): Promise<unknown> {
  return import(pathToFileURL(path.join(REPO_ROOT, "dist", module)).href);
}

/** A fresh scratch folder under bench/.corpus/; remove it with `removeDir`. */
export async function scratchDir(name: string): Promise<string> {
  const dir = path.join(CORPUS_ROOT, `${name}-${process.pid}`);
  await fs.rm(dir, { recursive: true, force: true });
  await fs.mkdir(dir, { recursive: true });
  return dir;
}

export async function removeDir(dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true });
}

/** A deterministic PRNG (mulberry32): the same seed yields the same corpus on every machine. */
export class Random {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  digits(n: number): string {
    let s = "";
    for (let i = 0; i < n; i++) s += Math.floor(this.next() * 10);
    return s;
  }
  hex(n: number): string {
    let s = "";
    for (let i = 0; i < n; i++) s += "0123456789abcdef"[Math.floor(this.next() * 16)];
    return s;
  }
}

const FIRST_NAMES = [
  "Olivia",
  "Liam",
  "Amelia",
  "Noah",
  "Isla",
  "Oliver",
  "Ava",
  "George",
  "Mia",
  "Arjun",
  "Chloe",
  "Mohammed",
  "Sofia",
  "Jakub",
  "Hannah",
  "Luca",
];
const LAST_NAMES = [
  "Smith",
  "Jones",
  "Taylor",
  "Brown",
  "Williams",
  "Wilson",
  "Patel",
  "Nowak",
  "Rossi",
  "Müller",
  "Evans",
  "Khan",
  "Garcia",
  "O'Brien",
];
const CITIES = ["London", "Leeds", "Bristol", "Manchester", "Glasgow", "Cardiff", "York", "Bath"];
const STREETS = ["High Street", "Station Road", "Church Lane", "Mill Road", "Park Avenue"];
const PROSE_WORDS =
  "the a of and to in is that for on with as by this be are from or at an it not which have were can their has more also other will all one about been when who into only some these may such after most two between new first used any many where then them than because each both those over through during under team release quarterly review budget plan customer service support migration database performance report meeting agreed action owner deadline risk scope infrastructure latency incident rollout feature".split(
    " ",
  );
const LOG_COMPONENTS = ["api", "auth", "billing", "scheduler", "worker", "gateway", "search"];
const PRODUCTS = ["widget", "gadget", "sprocket", "bracket", "flange", "gear", "valve", "hinge"];

/** Valid-looking personal data values (some with valid checksums, like real data). */
class People {
  constructor(private readonly r: Random) {}
  name(): string {
    return `${this.r.pick(FIRST_NAMES)} ${this.r.pick(LAST_NAMES)}`;
  }
  email(): string {
    const first = this.r.pick(FIRST_NAMES).toLowerCase();
    const last = this.r
      .pick(LAST_NAMES)
      .toLowerCase()
      .replace(/[^a-z]/g, "");
    return `${first}.${last}${this.r.int(1, 99)}@${this.r.pick(["example.com", "example.org", "mail.example.net"])}`;
  }
  phone(): string {
    return this.r.chance(0.5) ? `+44 20 7946 ${this.r.digits(4)}` : `07700 900${this.r.digits(3)}`;
  }
  iban(): string {
    return this.r.pick(["GB82 WEST 1234 5698 7654 32", "DE89 3704 0044 0532 0130 00"]);
  }
  card(): string {
    return this.r.pick(["4111 1111 1111 1111", "5500 0000 0000 0004", "3400 0000 0000 009"]);
  }
  ip(): string {
    return `${this.r.int(11, 223)}.${this.r.int(0, 255)}.${this.r.int(0, 255)}.${this.r.int(1, 254)}`;
  }
  birthDate(): string {
    return `${this.r.int(1950, 2004)}-0${this.r.int(1, 9)}-${this.r.int(10, 28)}`;
  }
  address(): string {
    return `${this.r.int(1, 240)} ${this.r.pick(STREETS)}, ${this.r.pick(CITIES)}`;
  }
}

type FileKind = "log" | "csv" | "json" | "ts" | "py" | "md" | "txt";
const KINDS: FileKind[] = ["log", "log", "csv", "json", "ts", "py", "md", "txt"];

/** Builds the text of one file of a kind, about `size` characters long. */
class TextFactory {
  readonly #people: People;
  constructor(private readonly r: Random) {
    this.#people = new People(r);
  }

  /** `personal` is the chance that a record or paragraph carries personal data. */
  file(kind: FileKind, size: number, personal: number): string {
    const lines: string[] = [];
    let length = 0;
    const push = (line: string) => {
      lines.push(line);
      length += line.length + 1;
    };
    const header = this.#header(kind, personal);
    if (header) push(header);
    while (length < size) push(this.#line(kind, personal));
    return `${lines.join("\n")}\n`;
  }

  #header(kind: FileKind, personal: number): string | null {
    if (kind === "csv") {
      return this.r.chance(personal * 2)
        ? "customer_id,first_name,last_name,email,phone,city,date_of_birth,signup_date"
        : "sku,product,warehouse,quantity,unit_price,updated_at";
    }
    if (kind === "ts")
      return `import { db } from "./db.js";\nimport type { Request } from "./http.js";\n`;
    if (kind === "py")
      return "import logging\nfrom datetime import datetime\n\nlog = logging.getLogger(__name__)\n";
    if (kind === "md") return `# ${this.#words(4)}\n`;
    return null;
  }

  #words(n: number): string {
    const parts: string[] = [];
    for (let i = 0; i < n; i++) parts.push(this.r.pick(PROSE_WORDS));
    return parts.join(" ");
  }

  #sentence(): string {
    const text = this.#words(this.r.int(8, 20));
    return `${text[0]!.toUpperCase()}${text.slice(1)}.`;
  }

  #timestamp(): string {
    return new Date(1.7e12 + this.r.next() * 3e10).toISOString();
  }

  #line(kind: FileKind, personal: number): string {
    const r = this.r;
    const p = this.#people;
    const withPersonal = r.chance(personal);
    switch (kind) {
      case "log": {
        const base = `${this.#timestamp()} ${r.pick(["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"])} [${r.pick(LOG_COMPONENTS)}] request_id=${r.hex(8)}-${r.hex(4)}-${r.hex(4)} status=${r.pick([200, 200, 201, 204, 302, 404, 500])} duration_ms=${r.int(1, 900)}`;
        if (!withPersonal)
          return `${base} bytes=${r.int(100, 90000)} path=/v1/${r.pick(PRODUCTS)}s/${r.int(1, 9999)}`;
        return r.pick([
          `${base} login ok user=${p.email()} client_ip=${p.ip()}`,
          `${base} password reset requested for ${p.email()}`,
          `${base} session cookie refreshed remote_addr=${p.ip()} user_agent="Mozilla/5.0 (X11; Linux x86_64)"`,
        ]);
      }
      case "csv":
        if (withPersonal) {
          const [first, last] = p.name().split(" ");
          return `${r.digits(7)},${first},${last},${p.email()},${p.phone()},${r.pick(CITIES)},${p.birthDate()},${this.#timestamp().slice(0, 10)}`;
        }
        return `${r.hex(6).toUpperCase()},${r.pick(PRODUCTS)},WH-${r.int(1, 12)},${r.int(0, 5000)},${r.int(1, 999)}.${r.digits(2)},${this.#timestamp()}`;
      case "json":
        if (withPersonal) {
          const [first, last] = p.name().split(" ");
          return `{"id": ${r.digits(8)}, "first_name": "${first}", "last_name": "${last}", "email": "${p.email()}", "phone": "${p.phone()}", "iban": "${p.iban()}", "address": "${p.address()}", "created_at": "${this.#timestamp()}"}`;
        }
        return `{"sku": "${r.hex(8)}", "product": "${r.pick(PRODUCTS)}", "stock": ${r.int(0, 900)}, "price": ${r.int(1, 500)}.${r.digits(2)}, "tags": ["${r.pick(PRODUCTS)}", "${r.pick(PRODUCTS)}"], "updated": "${this.#timestamp()}"}`;
      case "ts":
        if (withPersonal) {
          return `export async function find${r.hex(4)}(req: Request) {\n  const user_email = req.body.email;\n  const row = await db.query("SELECT first_name, last_name, phone FROM customers WHERE email = $1", [user_email]);\n  return row ?? null;\n}`;
        }
        return `export function compute${r.hex(4)}(values: number[]): number {\n  let total = ${r.int(0, 99)};\n  for (const v of values) total += v * ${r.int(2, 9)};\n  return Math.round(total / ${r.int(2, 64)}); // ${this.#words(5)}\n}`;
      case "py":
        if (withPersonal) {
          return `def notify_${r.hex(4)}(customer):\n    log.info("sending invoice to %s", customer.email)\n    return send_mail(customer.email, "Your invoice", billing_address=customer.address)\n`;
        }
        return `def transform_${r.hex(4)}(rows):\n    out = []\n    for row in rows:\n        out.append(row["${r.pick(PRODUCTS)}"] * ${r.int(2, 9)})  # ${this.#words(4)}\n    return out\n`;
      case "md":
      case "txt":
        if (withPersonal) {
          return r.pick([
            `Attendees: ${p.name()}, ${p.name()}. Contact ${p.name()} on ${p.phone()} or ${p.email()} about the ${this.#words(3)}.`,
            `${this.#sentence()} Refund the card ending ${p.card().slice(-4)} to IBAN ${p.iban()} for ${p.name()}, born ${p.birthDate()}, living at ${p.address()}.`,
          ]);
        }
        return `${this.#sentence()} ${this.#sentence()} ${this.#sentence()}`;
    }
  }
}

/** What `writeCorpus` wrote. */
export interface CorpusStats {
  files: number;
  bytes: number;
}

/**
 * Writes mixed text files (logs, CSV, JSON, TypeScript, Python, Markdown, text) of about
 * `bytes` bytes in total, in nested folders of `perFolder` files, with personal data in about
 * `personal` of the records. Sizes vary exponentially around `bytes / files`.
 */
export async function writeCorpus(
  dir: string,
  options: { bytes: number; files: number; seed: number; personal?: number; perFolder?: number },
): Promise<CorpusStats> {
  const r = new Random(options.seed);
  const factory = new TextFactory(r);
  const mean = options.bytes / options.files;
  const perFolder = options.perFolder ?? 100;
  const pending: Promise<void>[] = [];
  const madeDirs = new Set<string>();
  let bytes = 0;
  let files = 0;
  while (bytes < options.bytes) {
    const kind = r.pick(KINDS);
    const size = Math.min(40 * mean, Math.max(200, Math.round(-Math.log(1 - r.next()) * mean)));
    // About a third of the files hold any personal data, the rest only rarely.
    const personal = r.chance(0.35) ? (options.personal ?? 0.15) : 0.005;
    const text = factory.file(kind, size, personal);
    const folder = Math.floor(files / perFolder);
    const sub = path.join(dir, `dept-${Math.floor(folder / 10)}`, `batch-${folder % 10}`);
    if (!madeDirs.has(sub)) {
      await fs.mkdir(sub, { recursive: true });
      madeDirs.add(sub);
    }
    const data = Buffer.from(text);
    bytes += data.length;
    pending.push(fs.writeFile(path.join(sub, `${kind}-${files}.${kind}`), data));
    files++;
    if (pending.length >= 64) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  return { files, bytes };
}

/** What one CLI invocation did. */
export interface CliRun {
  ms: number;
  code: number;
  stdout: string;
  stderr: string;
}

const AMBIENT_CA_CERTS = Boolean(process.env.NODE_EXTRA_CA_CERTS);

/**
 * The environment of the processes a benchmark starts: this one's without NODE_EXTRA_CA_CERTS.
 * Node 20 reads that certificate bundle at every start, before V8 runs (40-50 ms on this project's
 * VM, whose sandbox sets it for the npm registry); no benchmark makes a TLS connection, so the
 * cost belongs to the machine's set-up, not to wct. `extraCaCertsCost` measures what it adds.
 */
const CHILD_ENV: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" };
delete CHILD_ENV.NODE_EXTRA_CA_CERTS;

/**
 * What this machine's NODE_EXTRA_CA_CERTS adds to every Node start (median `node -e 0` with it
 * minus without, in ms), or null when it is not set.
 */
export async function extraCaCertsCost(times = 7): Promise<number | null> {
  if (!AMBIENT_CA_CERTS) return null;
  const start = (env: NodeJS.ProcessEnv) => () => runCommand(process.execPath, ["-e", "0"], env);
  const withCerts = { NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS };
  const timed: [number[], number[]] = [[], []];
  for (let i = 0; i < times; i++) {
    timed[0].push(...(await timeRepeated(1, start(withCerts))));
    timed[1].push(...(await timeRepeated(1, start({}))));
  }
  return median(timed[0]) - median(timed[1]);
}

/** Runs `node bin/wct.js ...args` and times it (wall clock, node start-up included). */
export function runWct(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return runCommand(process.execPath, [WCT_BIN, ...args], env);
}

/** Runs a command to completion and times it. */
export function runCommand(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, {
      cwd: REPO_ROOT,
      env: { ...CHILD_ENV, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.on("error", reject);
    child.on("close", (code) =>
      resolve({
        ms: performance.now() - started,
        code: code ?? -1,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      }),
    );
  });
}

/** Throws with the command's stderr when it did not exit with one of `codes`. */
export function expectExit(run: CliRun, what: string, codes: number[] = [0]): CliRun {
  if (!codes.includes(run.code)) {
    throw new Error(`${what} exited with ${run.code}:\n${run.stderr.slice(-2000)}`);
  }
  return run;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Runs `task` `times` times in sequence and returns each duration in ms. */
export async function timeRepeated(times: number, task: () => Promise<unknown>): Promise<number[]> {
  const durations: number[] = [];
  for (let i = 0; i < times; i++) {
    const started = performance.now();
    await task();
    durations.push(performance.now() - started);
  }
  return durations;
}

/** Prints rows as an aligned table; the first row is the header. */
export function printTable(rows: (string | number)[][]): void {
  const cells = rows.map((row) => row.map(String));
  const widths = cells[0]!.map((_, column) =>
    Math.max(...cells.map((row) => (row[column] ?? "").length)),
  );
  const format = (row: string[]) =>
    row
      .map((cell, column) =>
        column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!),
      )
      .join("  ");
  console.log(format(cells[0]!));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const row of cells.slice(1)) console.log(format(row));
}

/** The one machine-readable line every benchmark ends with. */
export function printResult(name: string, ratio: number, target: string): void {
  console.log(`RESULT ${name}: ${ratio.toFixed(3)}x (target ${target})`);
}

export const ms = (value: number): string => `${value.toFixed(0)} ms`;
export const seconds = (valueMs: number): string => `${(valueMs / 1000).toFixed(2)} s`;
export const mbPerSecond = (bytes: number, valueMs: number): string =>
  `${(bytes / 1e6 / (valueMs / 1000)).toFixed(1)} MB/s`;
