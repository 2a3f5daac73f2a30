/**
 * Ctrl-C and SIGTERM (`docker stop`, `timeout`, a CI job cancelled): a real `wct run` process
 * gets the signal mid-run, exits 130 or 143, prints its run ID and the resume command, records
 * the run interrupted, and `--resume` finishes it.
 */
import { existsSync, readdirSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { runWct, startWct } from "../helpers/cli.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "wct-sigint-"));
  // Enough text that scanning it takes well over a second on this machine.
  const line =
    "Customer Jane Roe, email jane.roe@example.com, phone +44 20 7946 0123, notes about the order.\n";
  for (const folder of ["a", "b", "c", "d"]) {
    await mkdir(join(dir, "data", folder), { recursive: true });
    for (let i = 0; i < 40; i++)
      await writeFile(join(dir, "data", folder, `f${i}.txt`), line.repeat(4000));
  }
  const chains = ["a", "b", "c", "d"]
    .map(
      (f) =>
        `  src_${f}: {source: {type: filesystem, properties: {path: data/${f}}}}\n` +
        `  pd_${f}: {inputs: src_${f}, process: {type: personal_data}}\n`,
    )
    .join("");
  await writeFile(
    join(dir, "slow.yaml"),
    `name: slow\ndescription: slow scan\nconfig: {max_concurrency: 1}\nartifacts:\n${chains}`,
  );
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/**
 * `wct run slow.yaml` in this process, with stderr (given `terminal`'s properties) collected;
 * SIGINT is raised once stderr has shown `shown`.
 */
async function runInterrupted(
  store: string,
  shown: string,
  terminal: Record<string, unknown>,
  env: Record<string, string> = {},
): Promise<{ code: number; text: string }> {
  let text = "";
  let signalled = false;
  const stderr = Object.assign(
    new Writable({
      write(chunk, _encoding, done) {
        text += String(chunk);
        if (!signalled && text.includes(shown)) {
          signalled = true;
          setImmediate(() => process.emit("SIGINT", "SIGINT"));
        }
        done();
      },
    }),
    terminal,
  );
  const stdout = new Writable({ write: (_chunk, _encoding, done) => done() });
  const code = await main(["run", join(dir, "slow.yaml"), "--store-path", join(dir, store)], {
    stdout,
    stderr,
    env: { ...process.env, NO_COLOR: "1", ...env },
  });
  return { code, text };
}

describe("stop signals", () => {
  it.each([
    ["SIGINT", 130, "stopped by Ctrl-C"],
    ["SIGTERM", 143, "stopped by SIGTERM"],
  ] as const)(
    "%s: exits %i, records the run interrupted, and the run can be resumed",
    async (signal, exitCode, reason) => {
      const store = join(dir, `store-${signal}`);
      const { child, result } = startWct(["run", join(dir, "slow.yaml"), "--store-path", store]);
      // Interrupt once the run has started executing artifacts.
      const deadline = Date.now() + 20_000;
      const runsDir = join(store, "runs");
      while (Date.now() < deadline) {
        const runs = existsSync(runsDir) ? readdirSync(runsDir) : [];
        if (runs[0] && existsSync(join(runsDir, runs[0], "artifacts", "src_a.json"))) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      // Exported while it runs: what it has so far, in upstream's vocabulary, and said so.
      const live = readdirSync(runsDir)[0]!;
      const during = await runWct(["export", live, "--store-path", store]);
      expect(JSON.parse(during.stdout).run.status).toBe("interrupted");
      expect(during.stderr).toContain(`warning: run ${live} is still running`);
      child.kill(signal);
      const { code, stdout, stderr } = await result;
      expect(code).toBe(exitCode);
      const runId = stdout.trim();
      expect(stderr).toContain(`resume with: `);
      expect(stderr).toContain(`--resume ${runId}`);
      const inspect = JSON.parse(
        (await runWct(["inspect", runId, "--json", "--store-path", store])).stdout,
      );
      expect(inspect.status).toBe("interrupted");
      const events = JSON.parse(
        (await runWct(["inspect", runId, "--events", "--json", "--store-path", store])).stdout,
      ) as { type: string; reason?: string }[];
      expect(events.find((e) => e.type === "run_finished")?.reason).toBe(reason);
      // The export lists what did not finish as pending, and counts every artifact.
      const exported = JSON.parse((await runWct(["export", runId, "--store-path", store])).stdout);
      expect(exported.run.status).toBe("interrupted");
      expect(exported.summary.total).toBe(8);
      expect(exported.summary.pending).toBe(8 - exported.summary.succeeded);
      expect(exported.pending).toContain("pd_d");
      expect(exported.skipped).toEqual([]);
      expect(inspect.counts.completed).toBeLessThan(8);

      const resumed = await runWct([
        "run",
        join(dir, "slow.yaml"),
        "--resume",
        runId,
        "--store-path",
        store,
        "--json",
      ]);
      expect(resumed.code).toBe(0);
      const record = JSON.parse(resumed.stdout);
      expect(record).toMatchObject({ run_id: runId, status: "completed", attempt: 2 });
      expect(record.kept).toContain("src_a");
    },
  );

  it("quits at once on a second Ctrl-C, still printing the run ID and how to resume it", async () => {
    const store = join(dir, "store-twice");
    const { child, result } = startWct(["run", join(dir, "slow.yaml"), "--store-path", store]);
    const runsDir = join(store, "runs");
    const deadline = Date.now() + 20_000;
    let runId: string | undefined;
    while (Date.now() < deadline && !runId) {
      const runs = existsSync(runsDir) ? readdirSync(runsDir) : [];
      if (runs[0] && existsSync(join(runsDir, runs[0], "artifacts", "src_a.json"))) runId = runs[0];
      else await new Promise((r) => setTimeout(r, 10));
    }
    // The second signal once the first is being handled (two at once may arrive as one).
    const stopping = new Promise<void>((resolve) => {
      let seen = "";
      child.stderr!.on("data", (chunk: Buffer) => {
        seen += chunk.toString();
        if (seen.includes("stopping:")) resolve();
      });
    });
    child.kill("SIGINT");
    await stopping;
    child.kill("SIGINT");
    const { code, stdout, stderr } = await result;
    expect(code).toBe(130);
    expect(stdout.trim()).toBe(runId);
    expect(stderr).toContain(`run ID: ${runId} (stopped at once`);
    expect(stderr).toContain(`--resume ${runId}`);
  });

  it("on a terminal, says it is stopping above the live task list, not into it", async () => {
    // stderr a terminal: the live list is drawn there; Ctrl-C once it is on screen.
    const { code, text } = await runInterrupted("store-tty", "\x1b[2K", {
      isTTY: true,
      columns: 80,
      rows: 24,
    });
    expect(code).toBe(130);
    // Back over the list (8 rows) and cleared, the message, then the list again below it.
    expect(text).toContain(
      `\r\x1b[8A${"\x1b[2K\n".repeat(8)}\x1b[2K\x1b[8Astopping: finishing the run record`,
    );
    expect(text).not.toContain("\nstopping:");
    const after = text.slice(text.indexOf("stopping:"));
    expect(after).toContain("run record (Ctrl-C again to quit at once)\n\r\x1b[2K");
    expect(after).toContain(" src_a");
  });
});

describe("stop signals, stderr not a terminal", () => {
  it("says it is stopping on a line of its own, past the echoed ^C", async () => {
    // Ctrl-C once the first artifact is reported.
    const { code, text } = await runInterrupted("store-pipe", "src_a", {});
    expect(code).toBe(130);
    // Past the `^C` a terminal showing this stream echoed (`2>&1 | tee log`).
    expect(text).toContain("\n\nstopping: finishing the run record");
  });

  it("on a TERM=dumb terminal, which gets plain lines too, says it past the echoed ^C", async () => {
    const { code, text } = await runInterrupted(
      "store-dumb",
      "src_a",
      { isTTY: true, columns: 80, rows: 24 },
      { TERM: "dumb" },
    );
    expect(code).toBe(130);
    expect(text).toContain("\n\nstopping: finishing the run record");
    expect(text).not.toContain("\x1b");
  });
});
