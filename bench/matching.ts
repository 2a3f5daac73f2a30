/**
 * Throughput of the personal-data matcher: `npx tsx bench/matching.ts [megabytes]`.
 * Generates mixed text in memory (prose with personal data, source code, logs, JSON, now and then
 * one long line of minified JSON), then prints MB/s of a plain indexOf('@') scan (the baseline),
 * the matcher on one thread, and the matcher through the worker pool.
 */
import { availableParallelism } from "node:os";
import { createWorkerPool } from "../src/execute/worker-pool.js";
import { moduleUrl as packageModuleUrl } from "../src/paths.js";
import { compileMatcher, type EvidenceOptions } from "../src/processors/matching.js";
import type { ScanTask } from "../src/processors/personal-data-worker.js";
import { loadDetectionRuleset } from "../src/rulesets/loader.js";

const RULESET = "local/personal_data_indicator/1.0.0";
const OPTIONS: EvidenceOptions = {
  contextSize: "medium",
  maximumEvidenceCount: 3,
  proximityThreshold: 200,
};
const megabytes = Number(process.argv[2] ?? 50);

let seed = 42;
function random(): number {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
}
function pick<T>(items: T[]): T {
  return items[Math.floor(random() * items.length)]!;
}
function digits(n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += Math.floor(random() * 10);
  return s;
}
function hex(n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += "0123456789abcdef"[Math.floor(random() * 16)];
  return s;
}

const words =
  "the a of and to in is that for on with as by this be are from or at an it not which have were can their has more also other will all one about been when who into only some these may such after most two between new first used any many where then them than because each both those over through during under".split(
    " ",
  );
function sentence(): string {
  const n = 8 + Math.floor(random() * 12);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(pick(words));
  return `${parts.join(" ")}.`;
}

const generators: (() => string)[] = [
  () => `${sentence()} ${sentence()} ${sentence()}\n`,
  () => `Contact: jane.doe${digits(3)}@example.org, phone +44 20 7946 ${digits(4)}.\n`,
  () =>
    `${new Date(1.7e12 + random() * 1e10).toISOString()} INFO request_id=${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)} status=200 duration_ms=${digits(3)} bytes=${digits(5)}\n`,
  () =>
    `2024-01-${10 + Math.floor(random() * 18)} 10:${digits(2)}:${digits(2)},${digits(3)} DEBUG worker-${digits(1)} loaded module v${digits(1)}.${digits(1)}.${digits(2)} from 10.0.${digits(2)}.${digits(2)}\n`,
  () =>
    `export function handle${hex(4)}(request: Request): Response {\n  const user_email = request.body.email;\n  if (!user_email) return error(400);\n  return ok({ id: ${digits(6)}, hash: "${hex(40)}" });\n}\n`,
  () =>
    `{"id": ${digits(8)}, "first_name": "Ann", "last_name": "Lee", "iban": "GB82 WEST 1234 5698 7654 32", "created_at": "2024-03-${10 + Math.floor(random() * 18)}T12:00:00Z"}\n`,
  () => `| ${pick(words)} | ${digits(4)} | ${pick(words)} | ${digits(2)}.${digits(2)} |\n`,
];

function generate(totalBytes: number): string[] {
  const texts: string[] = [];
  let size = 0;
  while (size < totalBytes) {
    let file = "";
    const target = 2_000 + Math.floor(random() * 60_000);
    if (texts.length % 25 === 24) {
      // Now and then a minified API dump: one long line, an address every few dozen bytes.
      const records: string[] = [];
      for (let length = 0; length < target; length += records.at(-1)!.length + 1) {
        records.push(
          `{"id":${digits(6)},"email":"user${digits(4)}@example.com","plan":"${pick(words)}"}`,
        );
      }
      file = `[${records.join(",")}]`;
    }
    while (file.length < target) file += pick(generators)();
    // Flat strings, like file contents read from disk (concatenation builds slow rope strings).
    texts.push(Buffer.from(file).toString());
    size += file.length;
  }
  return texts;
}

function rate(bytes: number, ms: number): string {
  return `${(bytes / 1e6 / (ms / 1000)).toFixed(1)} MB/s`;
}

const texts = generate(megabytes * 1e6);
const total = texts.reduce((sum, t) => sum + t.length, 0);
console.log(
  `corpus: ${texts.length} texts, ${(total / 1e6).toFixed(1)} MB, ${availableParallelism()} cores`,
);

const t = performance.now();
let ats = 0;
for (const text of texts) {
  for (let i = text.indexOf("@"); i !== -1; i = text.indexOf("@", i + 1)) ats++;
}
const baselineMs = performance.now() - t;
console.log(`baseline indexOf('@'): ${rate(total, baselineMs)} (${ats} hits)`);

/** Best of `rounds` runs, so JIT warm-up and other processes do not decide the result. */
async function bestMs(rounds: number, run: () => unknown): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < rounds; round++) {
    const start = performance.now();
    await run();
    best = Math.min(best, performance.now() - start);
  }
  return best;
}

const matcher = compileMatcher(loadDetectionRuleset(RULESET));
let findings = 0;
const singleMs = await bestMs(3, () => {
  findings = 0;
  for (const text of texts) findings += matcher.scan(text, OPTIONS).length;
});
console.log(
  `matcher, 1 thread: ${rate(total, singleMs)} (${findings} findings; ${(baselineMs / singleMs).toFixed(3)}x baseline)`,
);

const pool = createWorkerPool();
const chunks: string[][] = [];
let chunk: string[] = [];
let chunkSize = 0;
for (const text of texts) {
  chunk.push(text);
  chunkSize += text.length;
  if (chunkSize >= 2e6) {
    chunks.push(chunk);
    chunk = [];
    chunkSize = 0;
  }
}
if (chunk.length > 0) chunks.push(chunk);
const moduleUrl = packageModuleUrl("processors/personal-data-worker");
const scanAll = () =>
  Promise.all(
    chunks.map((texts) =>
      pool.run<unknown[][]>(moduleUrl, "scanTexts", {
        ruleset: RULESET,
        texts,
        options: OPTIONS,
      } satisfies ScanTask),
    ),
  );
let pooledFindings = 0;
const poolMs = await bestMs(3, async () => {
  const results = await scanAll();
  pooledFindings = results.reduce((sum, r) => sum + r.reduce((s, x) => s + x.length, 0), 0);
});
console.log(
  `matcher, pool of ${pool.size}: ${rate(total, poolMs)} (${pooledFindings} findings; ${(baselineMs / poolMs).toFixed(3)}x baseline)`,
);
await pool.close();
