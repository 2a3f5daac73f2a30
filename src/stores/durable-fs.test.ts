import { execFileSync } from "node:child_process";
import { closeSync, constants, promises as fs, openSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import {
  createFileExclusiveDurable,
  fsyncDir,
  GroupCommitAppender,
  isTempFileName,
  makeDirs,
  writeFileDurable,
} from "./durable-fs.js";

const scratch = await fs.mkdtemp(path.join(tmpdir(), "wct-durable-"));
afterAll(() => fs.rm(scratch, { recursive: true, force: true }));

/**
 * Occupies every thread of libuv's pool with opens of FIFOs that no writer has opened, until
 * `release`: an asynchronous fs call made meanwhile waits, as one of a process frozen by SIGSTOP
 * does until it wakes.
 */
function stallThreadPool(dir: string): { release(): Promise<void> } {
  const threads = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  const fifos = Array.from({ length: threads }, (_, i) => path.join(dir, `.fifo-${i}`));
  for (const fifo of fifos) execFileSync("mkfifo", [fifo]);
  const readers = fifos.map((fifo) => fs.open(fifo, "r"));
  return {
    async release() {
      // Blocks until the FIFO's reader (a pool thread) has it open, in the order they were queued.
      const writers = fifos.map((fifo) => openSync(fifo, constants.O_WRONLY));
      for (const handle of await Promise.all(readers)) await handle.close();
      for (const fd of writers) closeSync(fd);
      for (const fifo of fifos) await fs.rm(fifo);
    },
  };
}

describe("writeFileDurable", () => {
  it("creates missing folders and replaces the file, leaving no temp file", async () => {
    const file = path.join(scratch, "a", "b", "c.json");
    await writeFileDurable(file, "one");
    await writeFileDurable(file, Buffer.from("two"));
    expect(await fs.readFile(file, "utf8")).toBe("two");
    expect(await fs.readdir(path.dirname(file))).toEqual(["c.json"]);
  });

  it("makes folders only inside `within`, and makes no missing `within` again", async () => {
    const run = path.join(scratch, "runs", "r1");
    await fs.mkdir(run, { recursive: true });
    await writeFileDurable(path.join(run, "artifacts", "x", "a.json"), "a", undefined, run);
    expect(await fs.readFile(path.join(run, "artifacts", "x", "a.json"), "utf8")).toBe("a");
    await fs.rm(run, { recursive: true });
    // A run deleted meanwhile: neither write brings its folder back.
    const lease = path.join(run, "_system", "lease.json");
    await expect(writeFileDurable(lease, "{}", undefined, run)).rejects.toThrow(/ENOENT/);
    await expect(createFileExclusiveDurable(lease, "{}", run)).rejects.toThrow(/ENOENT/);
    expect(await fs.readdir(path.join(scratch, "runs"))).toEqual([]);
    // A writer whose guard fails (it lost the run) makes no folder either.
    const refused = async () => {
      throw new Error("lease lost");
    };
    const artifact = path.join(run, "artifacts", "b.json");
    await expect(writeFileDurable(artifact, "b", refused)).rejects.toThrow("lease lost");
    expect(await fs.readdir(path.join(scratch, "runs"))).toEqual([]);
  });

  it("runs its guard once the new bytes are durable aside, and replaces nothing if it throws", async () => {
    const dir = path.join(scratch, "guarded");
    const file = path.join(dir, "artifact.json");
    await writeFileDurable(file, "old");
    const seen: { target: string; temp: string }[] = [];
    const guard = async () => {
      const names = await fs.readdir(dir);
      const temp = names.find(isTempFileName)!;
      seen.push({
        target: await fs.readFile(file, "utf8"),
        temp: await fs.readFile(path.join(dir, temp), "utf8"),
      });
      throw new Error("lease lost");
    };
    await expect(writeFileDurable(file, "new", guard)).rejects.toThrow("lease lost");
    expect(seen).toEqual([{ target: "old", temp: "new" }]);
    expect(await fs.readFile(file, "utf8")).toBe("old");
    expect(await fs.readdir(dir)).toEqual(["artifact.json"]);
  });

  it("renames right after its guard: a write stalled there cannot replace a newer owner's file", async () => {
    const dir = path.join(scratch, "stalled-rename");
    const file = path.join(dir, "artifact.json");
    await writeFileDurable(file, "old");
    let releasing: Promise<void> | undefined;
    // The guard passes; right after it, this process stalls (its fs calls wait) while another
    // takes the run over and writes the file.
    const guard = async () => {
      const stall = stallThreadPool(dir);
      setImmediate(() => {
        writeFileSync(file, "the new owner's");
        releasing = stall.release();
      });
    };
    await writeFileDurable(file, "stale", guard);
    await releasing;
    expect(await fs.readFile(file, "utf8")).toBe("the new owner's");
  });

  it("removes its temp file when the rename fails", async () => {
    const dir = path.join(scratch, "rename-fails");
    await fs.mkdir(path.join(dir, "target"), { recursive: true });
    await fs.writeFile(path.join(dir, "target", "inside"), "x");
    // A non-empty folder cannot be replaced by a file.
    await expect(writeFileDurable(path.join(dir, "target"), "data")).rejects.toThrow();
    expect(await fs.readdir(dir)).toEqual(["target"]);
  });

  it("names temp files so listings can skip them", () => {
    expect(isTempFileName(".c.json.123.abcdef.tmp")).toBe(true);
    expect(isTempFileName("c.json")).toBe(false);
    expect(isTempFileName("x.tmp")).toBe(false);
  });
});

describe("createFileExclusiveDurable", () => {
  it("creates a file once and then reports that it exists", async () => {
    const file = path.join(scratch, "exclusive", "lease.json");
    expect(await createFileExclusiveDurable(file, "first")).toBe(true);
    expect(await createFileExclusiveDurable(file, "second")).toBe(false);
    expect(await fs.readFile(file, "utf8")).toBe("first");
    expect(await fs.readdir(path.dirname(file))).toEqual(["lease.json"]);
  });

  it("lets exactly one of many concurrent creators win", async () => {
    const file = path.join(scratch, "exclusive-race", "lease.json");
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => createFileExclusiveDurable(file, `writer ${i}`)),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await fs.readFile(file, "utf8")).toBe(`writer ${results.indexOf(true)}`);
  });
});

describe("appending", () => {
  it("appends newline-terminated lines, creating the file and its folders", async () => {
    const file = path.join(scratch, "log", "deep", "events.jsonl");
    const appender = new GroupCommitAppender();
    await appender.append(file, ["a", "b"]);
    await appender.append(file, ["c"]);
    expect(await fs.readFile(file, "utf8")).toBe("a\nb\nc\n");
  });

  it("batches concurrent appends into few writes, keeping call order", async () => {
    const file = path.join(scratch, "group", "events.jsonl");
    const appender = new GroupCommitAppender();
    const open = vi.spyOn(fs, "open");
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => appender.append(file, [`line ${i}`, `more ${i}`])),
    );
    const opensOfLog = open.mock.calls.filter(([target]) => target === file).length;
    const expected = Array.from({ length: 50 }, (_, i) => `line ${i}\nmore ${i}\n`).join("");
    expect(await fs.readFile(file, "utf8")).toBe(expected);
    // The first call creates the file (an open that finds none, then the create) and writes
    // alone; the 49 queued behind it share the next write or two.
    expect(opensOfLog).toBeLessThanOrEqual(5);
  });

  it("rejects every caller of a batch that fails, and keeps working afterwards", async () => {
    const dir = path.join(scratch, "group-fails");
    await fs.mkdir(path.join(dir, "events.jsonl"), { recursive: true });
    const appender = new GroupCommitAppender();
    const results = await Promise.allSettled([
      appender.append(path.join(dir, "events.jsonl"), ["x"]),
      appender.append(path.join(dir, "events.jsonl"), ["y"]),
    ]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    await appender.append(path.join(dir, "ok.jsonl"), ["z"]);
    expect(await fs.readFile(path.join(dir, "ok.jsonl"), "utf8")).toBe("z\n");
  });

  it("writes a batch right after its guard: one stalled there cannot land after the lease is lost", async () => {
    const dir = path.join(scratch, "stalled-append");
    const file = path.join(dir, "events.jsonl");
    await fs.mkdir(dir);
    await fs.writeFile(file, "");
    let lost = false;
    const writtenWhileLost: string[] = [];
    const appender = new GroupCommitAppender((fd, text) => {
      if (lost) writtenWhileLost.push(text);
      writeSync(fd, text);
    });
    let releasing: Promise<void> | undefined;
    // The guard passes; right after it, this process stalls while another takes its lease.
    const guard = async () => {
      const stall = stallThreadPool(dir);
      setImmediate(() => {
        lost = true;
        releasing = stall.release();
      });
    };
    await appender.append(file, ["checked"], guard);
    await releasing;
    expect(writtenWhileLost).toEqual([]);
    expect(await fs.readFile(file, "utf8")).toBe("checked\n");
  });

  it("creates a missing log only once its guard passes", async () => {
    const run = path.join(scratch, "deleted-run");
    const file = path.join(run, "_system", "events.jsonl");
    const appender = new GroupCommitAppender();
    const refused = async () => {
      throw new Error("lease lost");
    };
    await expect(appender.append(file, ["late"], refused)).rejects.toThrow("lease lost");
    await expect(fs.stat(run)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("cuts a failed batch back out of the file and refuses appends until reopened", async () => {
    const file = path.join(scratch, "torn", "events.jsonl");
    let failNext = false;
    // Writes half the batch, then fails as a full disk would.
    const appender = new GroupCommitAppender((fd, text) => {
      if (!failNext) return void writeSync(fd, text);
      writeSync(fd, text.slice(0, Math.ceil(text.length / 2)));
      throw Object.assign(new Error("no space left on device"), { code: "ENOSPC" });
    });
    await appender.append(file, ["kept"]);
    failNext = true;
    const results = await Promise.allSettled([
      appender.append(file, ["lost one", "lost two"]),
      appender.append(file, ["queued behind it"]),
    ]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(await fs.readFile(file, "utf8")).toBe("kept\n");
    failNext = false;
    await expect(appender.append(file, ["too early"])).rejects.toThrow(/earlier append failed/);
    appender.reopen(file);
    await appender.append(file, ["after"]);
    expect(await fs.readFile(file, "utf8")).toBe("kept\nafter\n");
  });
});

describe("GroupCommitAppender with its file moved away", () => {
  it("appends the next batch at the path, not into the file that was moved away", async () => {
    const dir = path.join(scratch, "moving");
    const moved = path.join(scratch, "moved-away");
    const file = path.join(dir, "events.jsonl");
    const appender = new GroupCommitAppender();
    // Queued while the first batch is in flight: the same drain writes it, right after the guard
    // has renamed the folder away.
    const first = appender.append(file, ["one"]);
    const second = appender.append(file, ["two"], () => fs.rename(dir, moved));
    await Promise.all([first, second]);
    expect(await fs.readFile(path.join(moved, "events.jsonl"), "utf8")).toBe("one\n");
    expect(await fs.readFile(file, "utf8")).toBe("two\n");
  });
});

describe("makeDirs", () => {
  it("creates the missing folders and names the first one it created", async () => {
    const root = await fs.mkdtemp(path.join(tmpdir(), "wct-mkdirs-"));
    expect(await makeDirs(path.join(root, "a", "b", "c"))).toBe(path.join(root, "a"));
    expect((await fs.stat(path.join(root, "a", "b", "c"))).mode & 0o777).toBe(0o700);
    expect(await makeDirs(path.join(root, "a", "b"))).toBeUndefined();
    await fs.writeFile(path.join(root, "file"), "");
    await expect(makeDirs(path.join(root, "file", "x"))).rejects.toMatchObject({ code: "ENOTDIR" });
    await expect(makeDirs(path.join(root, "file"))).rejects.toMatchObject({ code: "ENOTDIR" });
    await fs.rm(root, { recursive: true });
  });

  it.runIf(process.platform === "linux")(
    "fails where the kernel refuses a folder, instead of looping like fs.mkdir (/proc)",
    async () => {
      await expect(makeDirs("/proc/wct-no-such/x")).rejects.toMatchObject({ code: "ENOENT" });
    },
  );
});

describe("fsyncDir", () => {
  it("shares fsyncs between concurrent callers of one folder", async () => {
    // The first call starts an fsync; every call made while it runs shares the one queued after it.
    const calls = Array.from({ length: 30 }, () => fsyncDir(scratch));
    await Promise.all(calls);
    expect(new Set(calls).size).toBe(2);
    expect(calls[0]).not.toBe(calls[1]);
    expect(new Set(calls.slice(1)).size).toBe(1);
  });

  it("reports a folder that does not exist", async () => {
    await expect(fsyncDir(path.join(scratch, "no-such-folder"))).rejects.toThrow(/ENOENT/);
  });
});
