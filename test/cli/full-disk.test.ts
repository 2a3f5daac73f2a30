/**
 * A store on a disk that is full, as a user meets it: the commands that free space still work,
 * the others fail with a store error (never "internal error"), and an output file that could not
 * be rewritten keeps what it held. The disk is a real 2 MiB tmpfs, which needs root (`mount`);
 * where it cannot be mounted the suite says so and does not run.
 */
import { spawnSync } from "node:child_process";
import { closeSync, openSync, writeSync } from "node:fs";
import { mkdir, readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasStackTrace } from "../helpers/cli.js";
import { StoreSandbox, scanRunbook } from "../helpers/history.js";

const sandbox = new StoreSandbox();
let disk = "";
let mounted = false;

/** Fills the disk with one file, up to ENOSPC. */
function fill(name: string): void {
  const fd = openSync(join(disk, name), "w");
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
    // The last blocks, smaller than a chunk.
    try {
      for (;;) writeSync(fd, chunk, 0, 512);
    } catch {}
  } finally {
    closeSync(fd);
  }
}

beforeAll(async () => {
  await sandbox.open("wct-full-disk-");
  disk = join(sandbox.dir, "disk");
  await mkdir(disk);
  mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", disk]).status === 0;
  sandbox.store = join(disk, "store");
});
afterAll(async () => {
  if (mounted) spawnSync("umount", ["-l", disk]);
  await sandbox.close();
});

describe("a store on a full disk", () => {
  it("deletes and prunes runs, refuses a resume with a store error, and keeps an old -o file", async (context) => {
    if (!mounted) {
      context.skip("mounting a tmpfs needs root; this machine refused it");
    }
    const { wct, write, run } = sandbox;
    const good = await write("good.yaml", scanRunbook("good", "full disk"));
    const broken = await write(
      "broken.yaml",
      "name: broken\ndescription: a source that is missing\nartifacts:\n" +
        `  files: {source: {type: filesystem, properties: {path: '${join(sandbox.dir, "missing")}'}}}\n`,
    );
    const first = await run(good);
    const second = await run(good);
    const failed = await run(broken);
    const report = join(disk, "report.json");
    expect((await wct(["export", first, "-o", report])).code).toBe(0);
    const before = await readFile(report, "utf8");
    // Exports hold personal data: owner-only, like the store's files.
    expect((await stat(report)).mode & 0o777).toBe(0o600);

    fill("fill-1");
    const resumed = await wct(["run", broken, "--resume", failed]);
    expect(resumed.code).toBe(1);
    expect(resumed.stderr).toMatch(/Cannot take the lease of run .*ENOSPC/);
    expect(resumed.stderr).not.toContain("internal error");

    const exported = await wct(["export", second, "-o", report]);
    expect(exported.code).toBe(1);
    expect(exported.stderr).toContain(`cannot write '${report}'`);
    expect(hasStackTrace(exported.stderr)).toBe(false);
    expect(await readFile(report, "utf8")).toBe(before);
    expect((await readdir(disk)).filter((name) => name.endsWith(".tmp"))).toEqual([]);

    const deleted = await wct(["runs", "delete", first]);
    expect(deleted.stderr).not.toContain("internal error");
    expect(deleted.code).toBe(0);

    fill("fill-2");
    const pruned = await wct(["runs", "prune", "--keep-last", "1", "--json"]);
    expect(pruned.stderr).not.toContain("internal error");
    expect(pruned.code).toBe(0);
    const left = JSON.parse((await wct(["runs", "--json"])).stdout) as { run_id: string }[];
    expect(left.map((r) => r.run_id)).toEqual([failed]);
  });
});
