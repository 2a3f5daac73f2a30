/**
 * Scan throughput of `filesystem` + `personal_data` (`wct run`, wall clock of the whole command,
 * persisting included) over a generated corpus of mixed text files, against ripgrep matching the
 * ruleset's keywords and an email regex over the same folder.
 *   npm run build && node --import tsx bench/scan-throughput.ts [megabytes=100]
 * Target: at least 0.1x ripgrep's throughput (stretch 0.25x): ripgrep only matches, we also
 * parse, validate and persist.
 */
import { existsSync, promises as fs } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import {
  expectExit,
  mbPerSecond,
  median,
  printResult,
  printTable,
  REPO_ROOT,
  removeDir,
  requireBuild,
  runCommand,
  runWct,
  scratchDir,
  seconds,
  timeRepeated,
  writeCorpus,
} from "./lib.js";

const RG = "/usr/bin/rg";
const RULESET_FILE = path.join(
  REPO_ROOT,
  "rulesets/personal_data_indicator/1.0.0/personal_data_indicator.yaml",
);
const MEGABYTES = Number(process.argv[2] ?? 100);
const FILES = Math.round(MEGABYTES * 200);
const RUNS = 3;

interface ArtifactTiming {
  id: string;
  started_at: string;
  finished_at: string;
  duration_seconds: number;
  bytes: number;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * One ripgrep pattern per keyword, with our word boundary (a keyword is not glued to an ASCII
 * letter or digit, so `_`, `-` and `.` separate words, unlike `\b`), plus an email regex.
 */
async function ripgrepPatterns(): Promise<string[]> {
  const ruleset = parse(await fs.readFile(RULESET_FILE, "utf8")) as {
    rules: { patterns?: string[] }[];
  };
  const keywords = new Set<string>();
  for (const rule of ruleset.rules) {
    for (const keyword of rule.patterns ?? []) keywords.add(keyword.toLowerCase());
  }
  return [
    ...[...keywords].map((k) => `(?:^|[^a-z0-9])${escapeRegExp(k)}(?:[^a-z0-9]|$)`),
    "[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}",
  ];
}

function runbookFor(corpus: string): string {
  return `name: Scan throughput benchmark
description: filesystem + personal_data over a generated corpus
artifacts:
  files:
    source:
      type: filesystem
      properties:
        path: ${JSON.stringify(corpus)}
        max_files: 1000000
  personal_data:
    inputs: files
    process:
      type: personal_data
    output: true
`;
}

async function main(): Promise<void> {
  if (!existsSync(RG)) {
    console.error(`ripgrep is missing (${RG}): install it with \`apt-get install ripgrep\`.`);
    process.exit(1);
  }
  requireBuild();
  const dir = await scratchDir("scan-throughput");
  try {
    const corpus = path.join(dir, "corpus");
    const generated = await writeCorpus(corpus, {
      bytes: MEGABYTES * 1024 * 1024,
      files: FILES,
      seed: 20240601,
    });
    const patternsFile = path.join(dir, "patterns.txt");
    const patterns = await ripgrepPatterns();
    await fs.writeFile(patternsFile, `${patterns.join("\n")}\n`);
    const runbook = path.join(dir, "scan.yaml");
    await fs.writeFile(runbook, runbookFor(corpus));
    console.log(
      `corpus: ${generated.files} files, ${(generated.bytes / 1e6).toFixed(1)} MB; ripgrep patterns: ${patterns.length}`,
    );

    const rgArgs = ["-j2", "-i", "--count-matches", "-f", patternsFile, corpus];
    // Untimed: warms the page cache for both sides.
    const warm = expectExit(await runCommand(RG, rgArgs), "rg", [0, 1]);
    const rgMatches = warm.stdout
      .split("\n")
      .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(":") + 1) || 0), 0);
    const startup = median(await timeRepeated(3, () => runWct(["--version"])));
    // Interleaved, so that load from other processes on this small machine hits both sides alike.
    const rgTimes: number[] = [];
    const wctTimes: number[] = [];
    let executorSeconds = 0;
    let lastRunId = "";
    let lastStore = "";
    for (let i = 0; i < RUNS; i++) {
      rgTimes.push(expectExit(await runCommand(RG, rgArgs), "rg", [0, 1]).ms);
      const store = path.join(dir, `store-${i}`);
      const run = expectExit(
        await runWct(["run", runbook, "--store-path", store, "--json"]),
        "wct run",
      );
      wctTimes.push(run.ms);
      const record = JSON.parse(run.stdout) as { run_id: string; duration_seconds: number };
      executorSeconds = record.duration_seconds;
      lastRunId = record.run_id;
      if (lastStore) await removeDir(lastStore);
      lastStore = store;
    }

    const rgMs = median(rgTimes);
    const wctMs = median(wctTimes);
    printTable([
      ["tool", "runs (ms)", "median", "throughput"],
      [
        "ripgrep -j2 (keywords + email)",
        rgTimes.map((t) => t.toFixed(0)).join(", "),
        seconds(rgMs),
        mbPerSecond(generated.bytes, rgMs),
      ],
      [
        "wct run (filesystem + personal_data)",
        wctTimes.map((t) => t.toFixed(0)).join(", "),
        seconds(wctMs),
        mbPerSecond(generated.bytes, wctMs),
      ],
    ]);
    console.log(`ripgrep found ${rgMatches} matches`);

    const inspect = expectExit(
      await runWct(["inspect", lastRunId, "--json", "--store-path", lastStore]),
      "wct inspect",
    );
    const artifacts = (JSON.parse(inspect.stdout) as { artifacts: ArtifactTiming[] }).artifacts;
    console.log("\nwhere the time of the last wct run goes:");
    const rows: (string | number)[][] = [["part", "time", "note"]];
    rows.push(["node start-up (wct --version)", seconds(startup), "median of 3"]);
    for (const a of artifacts) {
      const wall = Date.parse(a.finished_at) - Date.parse(a.started_at);
      rows.push([
        `${a.id}: component`,
        seconds(a.duration_seconds * 1000),
        `output ${(a.bytes / 1e6).toFixed(1)} MB`,
      ]);
      rows.push([
        `${a.id}: validate + persist`,
        seconds(wall - a.duration_seconds * 1000),
        "schema check, serialize, sha256, durable write",
      ]);
    }
    rows.push(["executor total (duration_seconds)", seconds(executorSeconds * 1000), ""]);
    rows.push([
      "rest of the command",
      seconds(wctTimes[wctTimes.length - 1]! - executorSeconds * 1000),
      "start-up, planning, run record, exit",
    ]);
    printTable(rows);
    console.log(
      `ratio of the fastest runs: ${(Math.min(...rgTimes) / Math.min(...wctTimes)).toFixed(3)}x`,
    );
    printResult("scan-throughput", rgMs / wctMs, ">= 0.1x of ripgrep, stretch 0.25x");
  } finally {
    await removeDir(dir);
  }
}

await main();
