/**
 * Cost of resuming a run whose artifacts completed but 10% of them, against running the same
 * runbook from scratch. The runbook has 20 `filesystem` sources over folders of a few MB and a
 * `personal_data` artifact on each; two sources read `${MISSING_DIR}/...`, which does not exist on
 * the first run, so they fail and their two scans are skipped (4 of 40 artifacts). The folders
 * are then created and `wct run RB --resume ID` finishes the run.
 *   npm run build && node --import tsx bench/resume.ts [megabytes-per-source=5]
 * Target: at most 0.2x, for the whole command and for the executor alone (`duration_seconds`).
 * The wct processes run without NODE_EXTRA_CA_CERTS (`CHILD_ENV` in lib.ts); where it is set, the
 * ratio it would give is printed too.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import {
  type CliRun,
  expectExit,
  extraCaCertsCost,
  median,
  ms,
  printResult,
  printTable,
  removeDir,
  requireBuild,
  runWct,
  scratchDir,
  timeRepeated,
  writeCorpus,
} from "./lib.js";

const MB_PER_SOURCE = Number(process.argv[2] ?? 5);
const SOURCES = 20;
const LATE = [18, 19];
/** Rounds of (failing run, resume, run from scratch); 7 so that one slow minute of the VM moves the medians less. */
const ROUNDS = 7;

const sourceId = (i: number) => `source_${String(i).padStart(2, "0")}`;

function runbookText(): string {
  const lines = [
    "name: Resume benchmark",
    "description: 20 folders and a personal data scan of each",
    "artifacts:",
  ];
  for (let i = 0; i < SOURCES; i++) {
    const folder = LATE.includes(i) ? `\${MISSING_DIR}/${sourceId(i)}` : `data/${sourceId(i)}`;
    lines.push(
      `  ${sourceId(i)}:`,
      "    source:",
      "      type: filesystem",
      `      properties: { path: "${folder}" }`,
      `  scan_${String(i).padStart(2, "0")}:`,
      `    inputs: ${sourceId(i)}`,
      "    process:",
      "      type: personal_data",
      "    output: true",
    );
  }
  return `${lines.join("\n")}\n`;
}

interface RunJson {
  run_id: string;
  status: string;
  duration_seconds: number;
  kept: string[];
  counts: Record<string, number>;
}

const parseRun = (run: CliRun): RunJson => JSON.parse(run.stdout) as RunJson;

interface StoredEvent {
  type: string;
  at: string;
  attempt?: number;
  artifact_id?: string;
  duration_seconds?: number;
}

/** Where the last resume's time went, from its event log. */
async function printResumeBreakdown(
  store: string,
  resumed: RunJson,
  wallMs: number,
  startup: number,
): Promise<void> {
  const run = expectExit(
    await runWct(["inspect", resumed.run_id, "--events", "--json", "--store-path", store]),
    "wct inspect --events",
  );
  const events = JSON.parse(run.stdout) as StoredEvent[];
  const from = events.findLastIndex((e) => e.type === "run_started");
  const attempt = events.slice(from);
  const time = (e: StoredEvent | undefined) => (e ? Date.parse(e.at) : Number.NaN);
  const finished = time(attempt.findLast((e) => e.type === "run_finished"));
  const executorStart = finished - resumed.duration_seconds * 1000;
  const started = time(attempt[0]);
  const lastDone = Math.max(...attempt.filter((e) => e.type === "artifact_completed").map(time));
  const rows: (string | number)[][] = [["part of the last resume", "time"]];
  rows.push(["node start-up (wct --version)", ms(startup)]);
  rows.push([
    "planning, run record and exit (outside the executor, minus start-up)",
    ms(wallMs - resumed.duration_seconds * 1000 - startup),
  ]);
  rows.push([
    "resume preparation: lease, plan check, re-hash of kept artifacts",
    ms(started - executorStart),
  ]);
  rows.push(["re-run artifacts, first start to last completion", ms(lastDone - started)]);
  for (const e of attempt) {
    if (e.type === "artifact_completed") {
      rows.push([`  ${e.artifact_id}: component`, ms((e.duration_seconds ?? 0) * 1000)]);
    }
  }
  rows.push(["closing the run", ms(finished - lastDone)]);
  printTable(rows);
}

async function main(): Promise<void> {
  requireBuild();
  const dir = await scratchDir("resume");
  try {
    let bytes = 0;
    for (let i = 0; i < SOURCES; i++) {
      if (LATE.includes(i)) continue;
      const stats = await writeCorpus(path.join(dir, "data", sourceId(i)), {
        bytes: MB_PER_SOURCE * 1024 * 1024,
        files: 40,
        seed: 1000 + i,
      });
      bytes += stats.bytes;
    }
    const runbook = path.join(dir, "resume.yaml");
    await fs.writeFile(runbook, runbookText());
    const store = path.join(dir, "store");
    const startup = median(await timeRepeated(3, () => runWct(["--version"])));

    const resumeWall: number[] = [];
    const resumeExec: number[] = [];
    const scratchWall: number[] = [];
    const scratchExec: number[] = [];
    let firstCounts: Record<string, number> = {};
    let lastResume: RunJson | null = null;
    let lastResumeWall = 0;
    let kept = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const late = path.join(dir, `late-${round}`);
      const env = { MISSING_DIR: late };
      const first = parseRun(
        expectExit(
          await runWct(["run", runbook, "--json", "--store-path", store], env),
          "first run",
          [1],
        ),
      );
      firstCounts = first.counts;
      for (const i of LATE) {
        const stats = await writeCorpus(path.join(late, sourceId(i)), {
          bytes: MB_PER_SOURCE * 1024 * 1024,
          files: 40,
          seed: 1000 + i,
        });
        if (round === 0) bytes += stats.bytes;
      }
      const resumeRun = expectExit(
        await runWct(
          ["run", runbook, "--resume", first.run_id, "--json", "--store-path", store],
          env,
        ),
        "resume",
      );
      const resumed = parseRun(resumeRun);
      if (resumed.status !== "completed") throw new Error(`resume ended ${resumed.status}`);
      kept = resumed.kept.length;
      lastResume = resumed;
      lastResumeWall = resumeRun.ms;
      resumeWall.push(resumeRun.ms);
      resumeExec.push(resumed.duration_seconds * 1000);

      const scratchRun = expectExit(
        await runWct(["run", runbook, "--json", "--store-path", store], env),
        "from-scratch run",
      );
      scratchWall.push(scratchRun.ms);
      scratchExec.push(parseRun(scratchRun).duration_seconds * 1000);
    }

    console.log(
      `${SOURCES * 2} artifacts over ${(bytes / 1e6).toFixed(0)} MB; first run: ${firstCounts.completed} completed, ${firstCounts.failed} failed, ${firstCounts.skipped} skipped; resume kept ${kept}`,
    );
    const joined = (values: number[]) => values.map((v) => v.toFixed(0)).join(", ");
    const wallRatio = median(resumeWall) / median(scratchWall);
    const execRatio = median(resumeExec) / median(scratchExec);
    printTable([
      ["measurement", "from scratch (ms)", "resume (ms)", "median ratio"],
      [
        "whole command (wall clock)",
        joined(scratchWall),
        joined(resumeWall),
        `${wallRatio.toFixed(3)}x`,
      ],
      [
        "executor only (duration_seconds)",
        joined(scratchExec),
        joined(resumeExec),
        `${execRatio.toFixed(3)}x`,
      ],
    ]);
    // Each round's resume and run from scratch follow each other: their ratio sees the VM's drift
    // less than the medians over the whole benchmark do (shown for that; the result is the latter).
    const paired = resumeWall.map((wall, i) => wall / scratchWall[i]!);
    console.log(
      `per-round ratios (whole command): ${paired.map((r) => r.toFixed(3)).join(", ")}; median ${median(paired).toFixed(3)}x`,
    );
    console.log(
      `node start-up alone (wct --version): ${ms(startup)}; resume outside the executor: ${ms(median(resumeWall) - median(resumeExec))}`,
    );
    console.log(`executor-only ratio: ${execRatio.toFixed(3)}x`);
    if (lastResume) await printResumeBreakdown(store, lastResume, lastResumeWall, startup);
    const caCost = await extraCaCertsCost();
    if (caCost !== null) {
      // A constant added to each command: both medians move by it.
      const ambient = (median(resumeWall) + caCost) / (median(scratchWall) + caCost);
      console.log(
        `with this machine's NODE_EXTRA_CA_CERTS, each wct process would start ${ms(caCost)} later: whole command ${ambient.toFixed(3)}x`,
      );
    }
    printResult("resume", wallRatio, "<= 0.2x");
  } finally {
    await removeDir(dir);
  }
}

await main();
