/**
 * @module Makes the V8 code cache of the CLI bundle (see `launch.ts`). The bundle is loaded the
 * way `wct` loads it and trained on what users run: the example runbook is validated, run into a
 * scratch store and inspected. What V8 compiled for that is saved, stamped with the bundle's
 * sha256. A training command that fails fails the build: the bundle is broken.
 */
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { CliIo } from "../cli/io.js";
import { BUNDLE_FILE, type CliMain, CODE_CACHE_FILE, loadCli, stampCodeCache } from "../launch.js";
import { PACKAGE_ROOT, packageFile } from "../paths.js";

const EXAMPLE = packageFile("examples", "personal-data-scan.yaml");

/** A stream that keeps what is written to it. */
function collector(): Writable & { text(): string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return Object.assign(stream, { text: () => chunks.join("") });
}

/** Runs one training command; its output, or an error naming the command and what it printed. */
async function train(main: CliMain, argv: string[], io: Partial<CliIo>): Promise<string> {
  const stdout = collector();
  const stderr = collector();
  const code = await main(argv, { ...io, stdout, stderr, argv });
  if (code !== 0) {
    throw new Error(`code cache: 'wct ${argv.join(" ")}' exited ${code}:\n${stderr.text()}`);
  }
  return stdout.text();
}

/** Writes `CODE_CACHE_FILE` for the bundle, trained on the example runbook. */
export async function writeCodeCache(): Promise<void> {
  const cli = loadCli({ cacheFile: null, debug: false });
  const store = mkdtempSync(join(tmpdir(), "wct-code-cache-"));
  const io: Partial<CliIo> = {
    cwd: PACKAGE_ROOT,
    env: { ...process.env, WAIVERN_STORE_PATH: store, WAIVERN_STORE_TYPE: "filesystem" },
    signal: new AbortController().signal,
  };
  try {
    await train(cli.main, ["validate-runbook", EXAMPLE], io);
    const runId = (await train(cli.main, ["run", EXAMPLE], io)).trim();
    await train(cli.main, ["runs"], io);
    await train(cli.main, ["inspect", runId], io);
  } finally {
    rmSync(store, { recursive: true, force: true });
  }
  const data = cli.script!.createCachedData();
  const temp = `${CODE_CACHE_FILE}.${process.pid}.tmp`;
  writeFileSync(temp, stampCodeCache(readFileSync(BUNDLE_FILE), data));
  renameSync(temp, CODE_CACHE_FILE);
}
