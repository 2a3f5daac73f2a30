/**
 * The `filesystem` connector over a folder of many small files (a source tree, a log folder),
 * against the least any reader does: one thread walking the folder and reading and decoding every
 * file with blocking calls, measured in the same run, in turns with ours.
 *   npm run build && node --import tsx bench/read-files.ts [files=20000]
 * No target is set: the ratio shows what the connector's walk on the main thread, its reads on
 * the worker threads and the copy of their texts back cost over that floor.
 */
import { closeSync, constants, openSync, readdirSync, readSync } from "node:fs";
import path from "node:path";
import type { Connector } from "../src/components/types.js";
import type { WorkerPool } from "../src/execute/worker-pool.js";
import {
  importBuilt,
  median,
  ms,
  printResult,
  printTable,
  removeDir,
  requireBuild,
  scratchDir,
  writeCorpus,
} from "./lib.js";

const FILES = Number(process.argv[2] ?? 20000);
const BYTES_PER_FILE = 5 * 1024;
const ROUNDS = 5;

requireBuild();
const { filesystemConnector } = (await importBuilt("connectors/filesystem.js")) as {
  filesystemConnector: Connector;
};
const { createWorkerPool } = (await importBuilt("execute/worker-pool.js")) as {
  createWorkerPool: () => WorkerPool;
};

/** The baseline: a name-sorted walk, then each file opened, read whole, decoded, closed. */
function readOnOneThread(root: string): number {
  const files: string[] = [];
  const walk = (folder: string) => {
    const entries = readdirSync(folder, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) files.push(full);
    }
  };
  walk(root);
  const buffer = Buffer.allocUnsafe(1024 * 1024);
  const decoder = new TextDecoder();
  let characters = 0;
  for (const file of files) {
    const fd = openSync(file, constants.O_RDONLY);
    try {
      const read = readSync(fd, buffer, 0, buffer.length, 0);
      characters += decoder.decode(buffer.subarray(0, read)).length;
    } finally {
      closeSync(fd);
    }
  }
  return characters;
}

async function main(): Promise<void> {
  const dir = await scratchDir("read-files");
  const workers = createWorkerPool();
  workers.prestart();
  try {
    const root = path.join(dir, "corpus");
    const corpus = await writeCorpus(root, {
      bytes: FILES * BYTES_PER_FILE,
      files: FILES,
      seed: 11,
    });
    const context = {
      signal: new AbortController().signal,
      workers,
      baseDir: dir,
      writtenProperties: {},
      warn: () => {},
    };
    const schema = { name: "standard_input", version: "1.0.0" };
    const ours: number[] = [];
    const baseline: number[] = [];
    let items = 0;
    // A warm-up of each: the page cache holds the files, and both have compiled their code.
    for (let round = -1; round < ROUNDS; round++) {
      let started = performance.now();
      const output = await filesystemConnector.extract(
        { path: "corpus", max_files: FILES },
        schema,
        context,
      );
      if (round >= 0) ours.push(performance.now() - started);
      items = (output.content.data as unknown[]).length;
      started = performance.now();
      readOnOneThread(root);
      if (round >= 0) baseline.push(performance.now() - started);
    }
    if (items !== corpus.files) throw new Error(`read ${items} of ${corpus.files} files`);

    const list = (values: number[]) => values.map((v) => v.toFixed(0)).join(", ");
    const rate = (valueMs: number) => `${((corpus.files / valueMs) * 1000).toFixed(0)} files/s`;
    console.log(
      `${corpus.files} files, ${(corpus.bytes / 1e6).toFixed(1)} MB, ${workers.size} worker threads`,
    );
    printTable([
      ["measurement", "runs (ms)", "median", "rate", "vs baseline"],
      [
        "baseline: one thread, blocking walk + read + decode",
        list(baseline),
        ms(median(baseline)),
        rate(median(baseline)),
        "1.00x",
      ],
      [
        "ours: filesystem connector extract",
        list(ours),
        ms(median(ours)),
        rate(median(ours)),
        `${(median(ours) / median(baseline)).toFixed(2)}x`,
      ],
    ]);
    printResult("read-files", median(ours) / median(baseline), "none set, lower is better");
  } finally {
    await workers.close();
    await removeDir(dir);
  }
}

await main();
