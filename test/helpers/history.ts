/**
 * A temporary store for the CLI history suites: `wct` runs in its folder with
 * `WAIVERN_STORE_PATH` set to it, and a runbook scanning the example files.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import { ROOT, runWct } from "./cli.js";

export const EXAMPLE_FILES = join(ROOT, "examples/data/files");

/** A `filesystem` source over the example files and a `personal_data` scan, plus `extra` lines. */
export function scanRunbook(name: string, description: string, extra = ""): string {
  return (
    `name: ${name}\ndescription: ${description}\nartifacts:\n` +
    `  files: {source: {type: filesystem, properties: {path: '${EXAMPLE_FILES}'}}}\n` +
    `  findings: {inputs: files, process: {type: personal_data}, output: true}\n${extra}`
  );
}

export class StoreSandbox {
  dir = "";
  store = "";

  async open(prefix: string): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), prefix));
    this.store = join(this.dir, "store");
  }

  close(): Promise<void> {
    return rm(this.dir, { recursive: true, force: true });
  }

  wct = (args: string[], env: Record<string, string> = {}) =>
    runWct(args, { cwd: this.dir, env: { WAIVERN_STORE_PATH: this.store, ...env } });

  /** Writes a file into the folder; returns its path. */
  write = async (name: string, text: string): Promise<string> => {
    const file = join(this.dir, name);
    await writeFile(file, text);
    return file;
  };

  /** `wct run FILE --json` (completed or failed, not refused); returns the run ID. */
  run = async (file: string, env: Record<string, string> = {}): Promise<string> => {
    const result = await this.wct(["run", file, "--json"], env);
    expect(result.code, result.stderr).toBeLessThan(2);
    return JSON.parse(result.stdout).run_id;
  };
}
