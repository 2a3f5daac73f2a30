/**
 * Runs every benchmark in bench/ in sequence (each in its own process, so that one's memory and
 * JIT state do not skew the next) and ends with a summary of their `RESULT` lines.
 *   npm run bench            (builds first)
 *   node --import tsx bench/run-all.ts [name ...]   (only the named ones, e.g. resume)
 * Exits 1 if a benchmark crashed; a missed target is reported, not an error.
 */
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import path from "node:path";
import { printTable, REPO_ROOT, requireBuild } from "./lib.js";

const BENCH_DIR = path.join(REPO_ROOT, "bench");
/** Files in bench/ that are not benchmarks. */
const NOT_BENCHMARKS = new Set(["lib.ts", "run-all.ts"]);
/** Quick ones first; anything else found in bench/ runs after these, by name. */
const PREFERRED_ORDER = ["runs-list", "store-writes", "resume", "scan-throughput"];

function benchmarks(): string[] {
  const found = readdirSync(BENCH_DIR)
    .filter((name) => name.endsWith(".ts") && !name.endsWith(".test.ts"))
    .filter((name) => !NOT_BENCHMARKS.has(name))
    .map((name) => name.slice(0, -3));
  const rank = (name: string) => {
    const index = PREFERRED_ORDER.indexOf(name);
    return index === -1 ? PREFERRED_ORDER.length : index;
  };
  return found.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : 1));
}

interface Outcome {
  name: string;
  code: number;
  seconds: number;
  results: string[];
}

/** Runs one benchmark with its output passed through, collecting its RESULT lines. */
function runBenchmark(name: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ["--import", "tsx", path.join(BENCH_DIR, `${name}.ts`)], {
      cwd: REPO_ROOT,
      stdio: ["ignore", "pipe", "inherit"],
    });
    const results: string[] = [];
    let pending = "";
    child.stdout.on("data", (chunk: Buffer) => {
      process.stdout.write(chunk);
      pending += chunk.toString();
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const line of lines) if (line.startsWith("RESULT ")) results.push(line);
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (pending.startsWith("RESULT ")) results.push(pending);
      resolve({ name, code: code ?? -1, seconds: (performance.now() - started) / 1000, results });
    });
  });
}

async function main(): Promise<void> {
  requireBuild();
  const wanted = process.argv.slice(2);
  const names = benchmarks().filter((name) => wanted.length === 0 || wanted.includes(name));
  const unknown = wanted.filter((name) => !names.includes(name));
  if (unknown.length > 0) {
    console.error(
      `unknown benchmark(s): ${unknown.join(", ")}; available: ${benchmarks().join(", ")}`,
    );
    process.exit(2);
  }
  const outcomes: Outcome[] = [];
  for (const name of names) {
    console.log(`\n=== ${name} ===`);
    outcomes.push(await runBenchmark(name));
  }
  console.log("\n=== summary ===");
  printTable([
    ["benchmark", "time", "result"],
    ...outcomes.map((o) => [
      o.name,
      `${o.seconds.toFixed(0)} s`,
      o.code !== 0
        ? `FAILED (exit ${o.code})`
        : o.results.length > 0
          ? o.results.map((line) => line.replace(/^RESULT [^:]+: /, "")).join("; ")
          : "(no RESULT line)",
    ]),
  ]);
  if (outcomes.some((o) => o.code !== 0)) process.exit(1);
}

await main();
