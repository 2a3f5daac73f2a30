import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { countingRunner } from "../../test/helpers/workers.js";
import type { ComponentContext, WorkerRunner } from "../components/types.js";
import { ComponentError } from "../errors.js";
import { createWorkerPool } from "../execute/worker-pool.js";
import { validateContent } from "../schemas/registry.js";
import { BLOCKING_LISTING_BYTES, filesystemConnector } from "./filesystem.js";

const STANDARD_INPUT = { name: "standard_input", version: "1.0.0" };

const workers = createWorkerPool(2);
afterAll(() => workers.close());

let base: string;
let warnings: string[];
let context: ComponentContext;

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), "wct-fs-"));
  warnings = [];
  context = {
    signal: new AbortController().signal,
    workers,
    baseDir: base,
    writtenProperties: {},
    warn: (message) => warnings.push(message),
  };
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

function write(relativePath: string, content: string | Uint8Array): void {
  const file = join(base, relativePath);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content);
}

/** A small project: sources, config, a Python cache, a dot folder and a PNG. */
function writeProject(): void {
  write("project/README.md", "# Shop\nNothing personal here.\n");
  write("project/src/app.py", "EMAIL = 'support@example.com'\n");
  write("project/src/__pycache__/app.cpython-312.pyc", "\u0000\u0001compiled");
  write("project/src/util.pyc", "stale bytecode text");
  write("project/config/settings.yaml", "database_url: postgres://app@db.example.com/shop\n");
  write("project/.env", "ADMIN_EMAIL=ops@example.com\n");
  write(
    "project/assets/logo.png",
    Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
  );
}

type Content = {
  name: string;
  source: string;
  metadata: Record<string, unknown>;
  data: {
    content: string;
    metadata: { source: string; file_path: string; connector_type: string };
  }[];
};

async function extract(properties: Record<string, unknown>): Promise<Content> {
  const output = await filesystemConnector.extract(properties, STANDARD_INPUT, context);
  expect(output.schema).toEqual(STANDARD_INPUT);
  expect(validateContent(STANDARD_INPUT, output.content)).toEqual([]);
  return output.content as unknown as Content;
}

const sources = (content: Content) => content.data.map((d) => d.metadata.source);

describe("filesystem connector", () => {
  it("reads every text file, sorted, with paths relative to the root, and skips binaries", async () => {
    writeProject();
    const content = await extract({ path: "project" });
    expect(sources(content)).toEqual([
      ".env",
      "README.md",
      "config/settings.yaml",
      "src/app.py",
      "src/util.pyc",
    ]);
    expect(content.name).toBe("standard_input_from_project");
    expect(content.source).toBe("project");
    expect(content.data[3]).toEqual({
      content: "EMAIL = 'support@example.com'\n",
      metadata: {
        source: "src/app.py",
        connector_type: "filesystem_connector",
        file_path: "src/app.py",
      },
    });
    expect(content.metadata).toMatchObject({
      file_count: 5,
      skipped_binary: 2,
      skipped_too_large: 0,
      unreadable: 0,
      max_files_reached: false,
      source_type: "filesystem",
    });
    const expectedBytes = content.data.reduce((sum, d) => sum + Buffer.byteLength(d.content), 0);
    expect(content.metadata.total_size_bytes).toBe(expectedBytes);
    expect(warnings).toEqual(["filesystem: skipped files in 'project': 2 binary"]);
  });

  it("applies gitignore-like include then exclude patterns", async () => {
    writeProject();
    write("project/src/nested/deep/model.py", "name = 'x'\n");
    const excluded = await extract({
      path: "project",
      exclude_patterns: ["*.pyc", "__pycache__", "/config/"],
    });
    expect(sources(excluded)).toEqual([
      ".env",
      "README.md",
      "src/app.py",
      "src/nested/deep/model.py",
    ]);
    expect(excluded.metadata.exclude_patterns).toEqual(["*.pyc", "__pycache__", "/config/"]);

    const included = await extract({
      path: "project",
      include_patterns: ["*.py", "config"],
      exclude_patterns: ["**/nested"],
    });
    expect(sources(included)).toEqual(["config/settings.yaml", "src/app.py"]);
  });

  it("matches names holding a line break with ** and negated patterns too", async () => {
    write("odd/a.txt", "a");
    write("odd/new\nline.txt", "email: x@example.com");
    write("odd/sub/other\nname.md", "b");
    const all = ["a.txt", "new\nline.txt", "sub/other\nname.md"];
    expect(sources(await extract({ path: "odd", include_patterns: ["**"] }))).toEqual(all);
    expect(sources(await extract({ path: "odd", include_patterns: ["!zzz"] }))).toEqual(all);
    expect(sources(await extract({ path: "odd", include_patterns: ["sub/**"] }))).toEqual([
      "sub/other\nname.md",
    ]);
    expect(sources(await extract({ path: "odd", exclude_patterns: ["*line*"] }))).toEqual([
      "a.txt",
      "sub/other\nname.md",
    ]);
  });

  it("takes a pattern that is a name with glob characters as that name too", async () => {
    write("dl/file (1).txt", "a");
    write("dl/docs/report {draft}.md", "b");
    write("dl/keep.txt", "c");
    const excluded = await extract({
      path: "dl",
      exclude_patterns: ["file (1).txt", "docs/report {draft}.md"],
    });
    expect(sources(excluded)).toEqual(["keep.txt"]);
  });

  it("anchors patterns with a slash to the root", async () => {
    write("tree/docs/a.md", "a");
    write("tree/src/docs/b.md", "b");
    expect(sources(await extract({ path: "tree", include_patterns: ["docs/*.md"] }))).toEqual([
      "docs/a.md",
    ]);
    expect(sources(await extract({ path: "tree", include_patterns: ["**/docs/*.md"] }))).toEqual([
      "docs/a.md",
      "src/docs/b.md",
    ]);
  });

  it("stops at max_files and says so", async () => {
    for (let i = 0; i < 12; i++) write(`many/file-${String(i).padStart(2, "0")}.txt`, `line ${i}`);
    const content = await extract({ path: "many", max_files: 5 });
    expect(sources(content)).toEqual([
      "file-00.txt",
      "file-01.txt",
      "file-02.txt",
      "file-03.txt",
      "file-04.txt",
    ]);
    expect(content.metadata.max_files_reached).toBe(true);
    expect(warnings).toContain("filesystem: stopped at max_files (5) in 'many'");

    const exact = await extract({ path: "many", max_files: 12 });
    expect(exact.metadata.max_files_reached).toBe(false);
  });

  it("skips and counts files over max_file_size", async () => {
    write("sizes/small.txt", "x".repeat(100));
    write("sizes/big.log", "y".repeat(101));
    const content = await extract({ path: "sizes", max_file_size: 100 });
    expect(sources(content)).toEqual(["small.txt"]);
    expect(content.metadata.skipped_too_large).toBe(1);
  });

  it("decodes latin1 and utf-16le, and treats invalid utf-8 per `errors`", async () => {
    write("enc/latin1.txt", Buffer.from("Renée Müller, café", "latin1"));
    const latin1 = await extract({ path: "enc", encoding: "latin1" });
    expect(latin1.data[0]?.content).toBe("Renée Müller, café");

    const replaced = await extract({ path: "enc" });
    expect(replaced.data[0]?.content).toBe("Ren\uFFFDe M\uFFFDller, caf\uFFFD");
    const ignored = await extract({ path: "enc", errors: "ignore" });
    expect(ignored.data[0]?.content).toBe("Rene Mller, caf");

    write("enc/ok.txt", "plain");
    const strict = await extract({ path: "enc", errors: "strict" });
    expect(sources(strict)).toEqual(["ok.txt"]);
    expect(strict.metadata.skipped_binary).toBe(1);

    write("utf16/notes.txt", Buffer.from("\uFEFFJosé García", "utf16le"));
    const utf16 = await extract({ path: "utf16", encoding: "utf-16le" });
    expect(utf16.data[0]?.content).toBe("José García");
  });

  it("does not follow a symlink that leads outside the path; reads symlinked files inside it", async () => {
    write("outside/secret.txt", "password=hunter2");
    write("root/real.txt", "inside");
    symlinkSync(join(base, "outside/secret.txt"), join(base, "root/escape.txt"));
    symlinkSync(join(base, "outside"), join(base, "root/escape-dir"));
    symlinkSync("real.txt", join(base, "root/alias.txt"));
    mkdirSync(join(base, "root/sub"));
    symlinkSync("..", join(base, "root/sub/loop"));
    const content = await extract({ path: "root" });
    expect(sources(content)).toEqual(["alias.txt", "real.txt"]);
    expect(content.data.map((d) => d.content)).toEqual(["inside", "inside"]);
    expect(content.metadata.skipped_symlinks_outside_path).toBe(2);
    expect(JSON.stringify(content)).not.toContain("hunter2");
    expect(warnings).toContain(
      "filesystem: not following symlink 'escape.txt': it points outside the path",
    );
  });

  it("counts broken symlinks and FIFOs as unreadable without failing", async () => {
    write("odd/good.txt", "fine");
    symlinkSync(join(base, "odd/vanished.txt"), join(base, "odd/broken.txt"));
    execFileSync("mkfifo", [join(base, "odd/pipe")]);
    const content = await extract({ path: "odd" });
    expect(sources(content)).toEqual(["good.txt"]);
    expect(content.metadata.unreadable).toBe(2);
    expect(warnings).toEqual([
      "filesystem: cannot follow symlink 'broken.txt': ENOENT",
      "filesystem: skipping 'pipe': not a regular file",
    ]);
  });

  it("reports a folder it cannot list and walks on past it", async () => {
    // A folder nested deeper than PATH_MAX (4096 bytes) cannot be listed by its absolute path:
    // made with relative mkdirs, as the system's own tools do it.
    const name = "d".repeat(250);
    execFileSync(
      "bash",
      [
        "-c",
        `mkdir -p deep/a && cd deep/a && for i in $(seq 17); do mkdir ${name} && cd ${name}; done`,
      ],
      { cwd: base },
    );
    write("deep/a/before.txt", "a");
    write("deep/z/after.txt", "z");
    const content = await extract({ path: "deep" });
    expect(sources(content)).toEqual(["a/before.txt", "z/after.txt"]);
    expect(content.metadata.unreadable).toBe(1);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^filesystem: cannot list 'a\/d+(\/d+)*': ENAMETOOLONG$/);
    // Node's own rm goes by absolute paths too.
    execFileSync("rm", ["-rf", join(base, "deep")]);
  });

  it("reads a single file given as path", async () => {
    write("notes/hr.txt", "Employee: Jane Example");
    const content = await extract({ path: join(base, "notes/hr.txt") });
    expect(content.name).toBe("standard_input_from_hr.txt");
    expect(sources(content)).toEqual(["hr.txt"]);
  });

  it("fails clearly when the path is missing or nothing is readable", async () => {
    await expect(extract({ path: "nope" })).rejects.toThrow(
      new ComponentError(
        `filesystem: path 'nope' does not exist (looked for ${join(base, "nope")})`,
      ),
    );
    write("bin/a.png", Uint8Array.from([0x89, 0, 1]));
    const failure = extract({ path: "bin" });
    await expect(failure).rejects.toBeInstanceOf(ComponentError);
    await expect(failure).rejects.toThrow(/no readable text files under 'bin'.*1 binary/);
    mkdirSync(join(base, "empty"));
    await expect(extract({ path: "empty" })).rejects.toThrow(/no files matched/);
    execFileSync("mkfifo", [join(base, "fifo")]);
    await expect(extract({ path: "fifo" })).rejects.toThrow(
      new ComponentError(
        `filesystem: path 'fifo' (${join(base, "fifo")}) is neither a file nor a folder`,
      ),
    );
    write("plain.txt", "x");
    await expect(extract({ path: "plain.txt/below" })).rejects.toThrow(
      /filesystem: cannot read path 'plain.txt\/below' .*ENOTDIR/,
    );
  });

  it("stops when the signal is aborted", async () => {
    write("a/x.txt", "x");
    const controller = new AbortController();
    controller.abort(new Error("timed out"));
    await expect(
      filesystemConnector.extract({ path: "a" }, STANDARD_INPUT, {
        ...context,
        signal: controller.signal,
      }),
    ).rejects.toThrow("timed out");
  });

  it("reads the first small files itself and the rest on the worker threads", async () => {
    const names = Array.from({ length: 100 }, (_, i) => `f${String(i).padStart(3, "0")}.txt`);
    for (const name of names) write(`many/${name}`, `this is ${name}\n`);
    write("few/a.txt", "a");
    const read = async (path: string, runner: WorkerRunner) => {
      const output = await filesystemConnector.extract({ path }, STANDARD_INPUT, {
        ...context,
        workers: runner,
      });
      return (output.content as unknown as Content).data;
    };

    const free = countingRunner(workers);
    const many = await read("many", free);
    expect(free.tasks).toBe(2);
    expect(many.map((item) => [item.metadata.source, item.content])).toEqual(
      names.map((name) => [name, `this is ${name}\n`]),
    );
    // A few small files are read on this thread; a larger one, even alone, on a worker thread.
    const few = countingRunner(workers);
    expect((await read("few", few)).map((item) => item.content)).toEqual(["a"]);
    expect(few.tasks).toBe(0);
    const large = "x".repeat(1536 * 1024);
    write("mixed/a.txt", "a");
    write("mixed/b.txt", large);
    const mixed = countingRunner(workers);
    expect((await read("mixed", mixed)).map((item) => item.content)).toEqual(["a", large]);
    expect(mixed.tasks).toBe(1);
  });

  it("lists a root folder too large on disk to list blocking, asynchronously and whole", async () => {
    const names = Array.from({ length: 900 }, (_, i) => `a-rather-long-file-name-${899 - i}`);
    for (const name of names) write(`wide/${name}.txt`, name);
    write("wide/sub/inner.txt", "inner");
    expect(statSync(join(base, "wide")).size).toBeGreaterThan(BLOCKING_LISTING_BYTES);
    const content = await extract({ path: "wide" });
    expect(sources(content)).toEqual([...names.map((n) => `${n}.txt`).sort(), "sub/inner.txt"]);
    expect(content.data[0]!.content).toBe("a-rather-long-file-name-0");
  });

  it("fails, returning nothing half read, when its reading threads stop or cannot run", async () => {
    for (let i = 0; i < 40; i++) write(`a/f${i}.txt`, "x");
    const controller = new AbortController();
    const abortOnStart = countingRunner(workers, {
      onRun: () => controller.abort(new Error("timed out while reading")),
    });
    await expect(
      filesystemConnector.extract({ path: "a" }, STANDARD_INPUT, {
        ...context,
        signal: controller.signal,
        workers: abortOnStart,
      }),
    ).rejects.toThrow("timed out while reading");
    const closed = createWorkerPool(1);
    await closed.close();
    await expect(
      filesystemConnector.extract({ path: "a" }, STANDARD_INPUT, { ...context, workers: closed }),
    ).rejects.toThrow("The worker pool is closed.");
  });

  it("validates properties with paths and suggestions", () => {
    expect(filesystemConnector.validateProperties({ path: "data" })).toEqual([]);
    const issues = filesystemConnector.validateProperties({
      max_files: 0,
      max_file_size: "big",
      encoding: "klingon",
      errors: "loud",
      exclude_patterns: ["*.pyc", " "],
      exclude_pattern: ["x"],
    });
    expect(issues.map((i) => i.path)).toEqual([
      "exclude_pattern",
      "path",
      "max_file_size",
      "errors",
      "max_files",
      "encoding",
      "exclude_patterns.1",
    ]);
    expect(issues[0]?.message).toMatch(/did you mean 'exclude_patterns'/);
  });

  it("rejects invalid properties at extract time too", async () => {
    await expect(extract({ path: "x", max_files: -1 })).rejects.toThrow(
      "Invalid properties for 'filesystem':\nproperties.max_files: must be greater than 0, got -1",
    );
  });
});
