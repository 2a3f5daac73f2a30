import { constants } from "node:buffer";
import { execFileSync } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { countingRunner } from "../../test/helpers/workers.js";
import { main } from "../cli/main.js";
import type { ComponentContext, WorkerRunner } from "../components/types.js";
import { ComponentError } from "../errors.js";
import { createWorkerPool } from "../execute/worker-pool.js";
import { validateContent } from "../schemas/registry.js";
import { readSmallFiles } from "./file-reader.js";
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
const texts = (content: Content) => content.data.map((d) => d.content);

/** UTF-16BE bytes of `text` (Node has no `utf16be` encoding). */
const utf16be = (text: string) => Buffer.from(text, "utf16le").swap16();

/** A stream that keeps what is written to it. */
function output(): Writable & { text: string } {
  const stream = Object.assign(
    new Writable({
      write(chunk, _encoding, done) {
        stream.text += String(chunk);
        done();
      },
    }),
    { text: "" },
  );
  return stream;
}

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
    // Upstream's name for a folder's text, which only a file's lacks the suffix of.
    expect(content.name).toBe("standard_input_from_project_directory");
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
      include_patterns: ["*.py", "config/"],
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
    // `docs/**/`: the folders under `docs`, not `docs` itself, as in git.
    write("tree/docs/deep/c.md", "c");
    expect(sources(await extract({ path: "tree", include_patterns: ["docs/**/"] }))).toEqual([
      "docs/deep/c.md",
    ]);
    expect(sources(await extract({ path: "tree", exclude_patterns: ["docs/**/"] }))).toEqual([
      "docs/a.md",
      "src/docs/b.md",
    ]);
    rmSync(join(base, "tree/docs/deep"), { recursive: true });
    // `./docs` is the top-level `docs`, as `/docs` is.
    for (const pattern of ["./docs", "/docs"]) {
      expect(sources(await extract({ path: "tree", include_patterns: [pattern] }))).toEqual([
        "docs/a.md",
      ]);
      expect(sources(await extract({ path: "tree", exclude_patterns: [pattern] }))).toEqual([
        "src/docs/b.md",
      ]);
    }
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

  it("reads no file through a symlink that the walk leaves out: excluded, or in wct's store", async () => {
    write("proj/public.txt", "public");
    write("proj/secrets/key.txt", "password=hunter2");
    write("proj/private.key", "api_key=abc123");
    write("proj/.waivern/runs/r1/artifacts/files.json", '{"content": "jane@example.com"}');
    write("proj/notes/kept.txt", "kept");
    symlinkSync("secrets/key.txt", join(base, "proj/notes.txt"));
    symlinkSync("../private.key", join(base, "proj/notes/key.txt"));
    symlinkSync(".waivern/runs/r1/artifacts/files.json", join(base, "proj/old-run.json"));
    symlinkSync("notes/kept.txt", join(base, "proj/alias.txt"));
    context.ignoreDirs = [join(base, "proj/.waivern/runs")];
    const content = await extract({ path: "proj", exclude_patterns: ["secrets/", "*.key"] });
    expect(sources(content)).toEqual(["alias.txt", "notes/kept.txt", "public.txt"]);
    expect(JSON.stringify(content)).not.toMatch(/hunter2|abc123|jane@example.com/);
    expect(warnings).toEqual([
      "filesystem: not following symlink 'notes/key.txt': its target is left out",
      "filesystem: not following symlink 'notes.txt': its target is left out",
      "filesystem: not following symlink 'old-run.json': its target is left out",
    ]);
  });

  it("follows symlinks inside the path when the path is '/'", async () => {
    write("in/real.txt", "jane@example.com");
    symlinkSync("real.txt", join(base, "in/alias.txt"));
    // Everything but the test's folder is excluded, so that the walk of '/' stays in it.
    const parts = base.split("/").filter(Boolean);
    const exclude_patterns = parts.flatMap((part, index) => {
      const above = parts.slice(0, index).join("/");
      return [`/${above ? `${above}/` : ""}*`, `!/${above ? `${above}/` : ""}${part}/`];
    });
    const content = await extract({ path: "/", exclude_patterns });
    expect(sources(content)).toEqual([
      `${parts.join("/")}/in/alias.txt`,
      `${parts.join("/")}/in/real.txt`,
    ]);
    expect(texts(content)).toEqual(["jane@example.com", "jane@example.com"]);
    expect(content.metadata.skipped_symlinks_outside_path).toBe(0);
    expect(warnings).toEqual([]);
  });

  it("reads files and folders whose names are not UTF-8", async () => {
    const raw = (...names: (string | number[])[]) =>
      Buffer.concat(names.map((name) => Buffer.from(typeof name === "string" ? name : name)));
    mkdirSync(join(base, "raw"));
    try {
      writeFileSync(raw(base, "/raw/caf", [0xe9], ".txt"), "jane@example.com");
      mkdirSync(raw(base, "/raw/dir", [0xff]));
      writeFileSync(raw(base, "/raw/dir", [0xff], "/in.txt"), "inside");
      writeFileSync(raw(base, "/raw/dir", [0xff], "/x", [0xfe]), "deeper");
      symlinkSync(raw("caf", [0xe9], ".txt"), raw(base, "/raw/link", [0xe8]));
      write("raw/plain.txt", "plain");
      const content = await extract({ path: "raw" });
      // Named with U+FFFD for the bytes that are not UTF-8, as Node reads them.
      expect(sources(content)).toEqual([
        "caf\uFFFD.txt",
        "dir\uFFFD/in.txt",
        "dir\uFFFD/x\uFFFD",
        "link\uFFFD",
        "plain.txt",
      ]);
      expect(texts(content)).toEqual([
        "jane@example.com",
        "inside",
        "deeper",
        "jane@example.com",
        "plain",
      ]);
      expect(content.metadata.unreadable).toBe(0);
      expect(warnings).toEqual([]);
    } finally {
      // Node's rm reads names as UTF-8 too.
      execFileSync("rm", ["-rf", join(base, "raw")]);
    }
  });

  it("opens no symlink when it reads: one put in a file's place after the walk is not followed", () => {
    write("outside/secret.txt", "password=hunter2");
    write("root/file.txt", "text");
    symlinkSync(join(base, "outside/secret.txt"), join(base, "root/swapped.txt"));
    const settings = { maxFileSize: 1000, encoding: "utf-8", errors: "replace" as const };
    const { read } = readSmallFiles(
      [join(base, "root/file.txt"), join(base, "root/swapped.txt")],
      settings,
      { files: 10, bytes: 1000, ms: 60_000 },
    );
    expect([...read.values()]).toEqual([
      { kind: "text", text: "text", size: 4 },
      { kind: "unreadable", reason: "ELOOP" },
    ]);
  });

  it("reads symlinks inside the path, and a path that is a symlink to a file, by their targets", async () => {
    write("data/real.txt", "jane@example.com");
    symlinkSync("real.txt", join(base, "data/alias.txt"));
    symlinkSync("data/real.txt", join(base, "named.txt"));
    expect(texts(await extract({ path: "data" }))).toEqual([
      "jane@example.com",
      "jane@example.com",
    ]);
    const single = await extract({ path: "named.txt" });
    expect(sources(single)).toEqual(["named.txt"]);
    expect(texts(single)).toEqual(["jane@example.com"]);
  });

  it("reports a file too large to decode as one text as unreadable, without reading it", async () => {
    write("huge/small.txt", "small");
    // Sparse: larger than the longest string V8 makes, on no disk space.
    write("huge/big.log", "");
    truncateSync(join(base, "huge/big.log"), constants.MAX_STRING_LENGTH + 1);
    const content = await extract({ path: "huge", max_file_size: 2 ** 31 });
    expect(sources(content)).toEqual(["small.txt"]);
    expect(content.metadata).toMatchObject({ unreadable: 1, skipped_binary: 0 });
    expect(warnings).toEqual([
      `filesystem: cannot read 'big.log': ${constants.MAX_STRING_LENGTH + 1} bytes is too large to decode as one text (at most ${constants.MAX_STRING_LENGTH})`,
    ]);
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
    // Text files there, but max_files used up by binary ones first: said so.
    write("bin/b.png", Uint8Array.from([0x89, 0, 2]));
    write("bin/c.txt", "text");
    await expect(extract({ path: "bin", max_files: 2 })).rejects.toThrow(
      /2 binary; max_files \(2\) was used up by these before any text file: raise it$/,
    );
    expect(sources(await extract({ path: "bin", max_files: 3 }))).toEqual(["c.txt"]);
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

  it("never walks a folder of ignoreDirs (wct's store), however either path is written", async () => {
    write("proj/data.txt", "contact: jane@example.com");
    write("proj/.waivern/runs/r1/artifacts/files.json", '{"content": "jane@example.com"}');
    write("proj/.waivern/runs/r1/_system/events.jsonl", "{}\n");
    write("proj/sub/.waivern/notes.txt", "a folder of the same name, not the store");
    symlinkSync(join(base, "proj"), join(base, "proj-link"));
    symlinkSync(join(base, "proj/.waivern"), join(base, "store-link"));
    for (const store of [`${base}/proj/./.waivern/`, join(base, "store-link")]) {
      context.ignoreDirs = [join(base, "no-such-store"), store];
      for (const path of ["proj", "./proj-link/"]) {
        const content = await extract({ path });
        expect(sources(content)).toEqual(["data.txt", "sub/.waivern/notes.txt"]);
        expect(content.metadata).toMatchObject({ file_count: 2, unreadable: 0 });
      }
    }
    expect(warnings).toEqual([]);
    // Elsewhere the store is a folder like any other.
    context.ignoreDirs = [join(base, "elsewhere")];
    expect(sources(await extract({ path: "proj" }))).toEqual([
      ".waivern/runs/r1/_system/events.jsonl",
      ".waivern/runs/r1/artifacts/files.json",
      "data.txt",
      "sub/.waivern/notes.txt",
    ]);
  });

  it("refuses a path that is an ignored folder, or lies inside one", async () => {
    write("store/runs/r1/artifacts/a.json", "{}");
    context.ignoreDirs = [join(base, "store")];
    await expect(extract({ path: "./store/" })).rejects.toThrow(
      new ComponentError(
        `filesystem: path './store/' (${join(base, "store")}) is in wct's store, which is never read`,
      ),
    );
    // Nor a folder or a file inside it.
    await expect(extract({ path: "store/runs/r1" })).rejects.toThrow(/is in wct's store/);
    await expect(extract({ path: "store/runs/r1/artifacts/a.json" })).rejects.toThrow(
      /is in wct's store/,
    );
  });

  it("is not fed its own store by `wct run` with path '.', run after run", async () => {
    write("scan/customers.txt", "jane@example.com");
    write(
      "scan/scan.yaml",
      "name: Self scan\ndescription: the store is under the path\nartifacts:\n" +
        "  files: {source: {type: filesystem, properties: {path: .}}, output: true}\n",
    );
    const cwd = join(base, "scan");
    const run = async (args: string[], env: Record<string, string> = {}, store = ".waivern") => {
      const stdout = output();
      const stderr = output();
      const signal = new AbortController().signal;
      const code = await main(["run", "scan.yaml", ...args], { cwd, env, stdout, stderr, signal });
      expect(code, stderr.text).toBe(0);
      const runId = stdout.text.trim();
      const file = join(cwd, store, "runs", runId, "artifacts/files.json");
      return sources(JSON.parse(readFileSync(file, "utf8")).content as Content);
    };
    expect(await run([])).toEqual(["customers.txt", "scan.yaml"]);
    expect(await run([])).toEqual(["customers.txt", "scan.yaml"]);
    expect(await run([], { WAIVERN_STORE_PATH: "./.waivern/" })).toEqual([
      "customers.txt",
      "scan.yaml",
    ]);
    expect(await run(["--store-path", `${cwd}/./.waivern`])).toEqual([
      "customers.txt",
      "scan.yaml",
    ]);
    // A store in the scanned folder itself: only its runs are left out. (Another store there is
    // data like any other.)
    rmSync(join(cwd, ".waivern"), { recursive: true });
    expect(await run(["--store-path", "."], {}, ".")).toEqual(["customers.txt", "scan.yaml"]);
    expect(await run(["--store-path", "."], {}, ".")).toEqual(["customers.txt", "scan.yaml"]);
  });

  it("lets a byte order mark decide the encoding, whatever `encoding` says", async () => {
    const text = "José García <jose@example.com>";
    write("bom/le.txt", Buffer.from(`\uFEFF${text}`, "utf16le"));
    write("bom/be.txt", utf16be(`\uFEFF${text}`));
    write("bom/utf8.txt", Buffer.from(`\uFEFF${text}`));
    for (const encoding of [undefined, "utf-16le", "utf-16", "latin1", "ascii"]) {
      for (const errors of ["replace", "strict"]) {
        const content = await extract({ path: "bom", errors, ...(encoding ? { encoding } : {}) });
        expect(sources(content), `${encoding}, ${errors}`).toEqual([
          "be.txt",
          "le.txt",
          "utf8.txt",
        ]);
        expect(texts(content), `${encoding}, ${errors}`).toEqual([text, text, text]);
      }
    }
    // A marked file is still binary if it decodes to NUL characters; files without a mark are
    // read as before (UTF-16 without one is binary to utf-8).
    write("marked/blob.bin", Uint8Array.from([0xff, 0xfe, 0, 0, 0x41, 0, 0, 0]));
    write("marked/plain.txt", Buffer.from(text, "utf16le"));
    const asUtf16 = await extract({ path: "marked", encoding: "utf-16le" });
    expect(texts(asUtf16)).toEqual([text]);
    expect(asUtf16.metadata.skipped_binary).toBe(1);
    await expect(extract({ path: "marked" })).rejects.toThrow(/; 2 binary$/);
  });

  it("accepts Python's encoding names, and reads `ascii` as ASCII", async () => {
    for (const encoding of [
      "latin-1",
      "latin_1",
      "LATIN1",
      "utf_8",
      "UTF8",
      "utf-8-sig",
      "utf-16-le",
      "utf_16_be",
      "iso-8859-1",
      "ISO_8859_1",
      "iso8859_15",
      "cp1252",
      "windows_1252",
      "shift_jis",
      "ascii",
      "US-ASCII",
      // Python's aliases of codecs TextDecoder knows under other names.
      "s_jis",
      "sjis",
      "eucjp",
      "ujis",
      "ks_c_5601",
      "euckr",
      "tis-620",
      "1252",
      "1251",
      "iso2022_jp",
      "euc_cn",
      "big5_tw",
    ]) {
      expect(filesystemConnector.validateProperties({ path: "x", encoding }), encoding).toEqual([]);
    }
    for (const encoding of ["latin-99", "utf-32", "constructor"]) {
      expect(filesystemConnector.validateProperties({ path: "x", encoding })).toEqual([
        {
          path: "encoding",
          message: `unsupported encoding '${encoding}' (try utf-8, latin1, utf-16le, windows-1252, ...)`,
        },
      ]);
    }
    write("py/latin.txt", Buffer.from("Renée Müller", "latin1"));
    expect(texts(await extract({ path: "py", encoding: "latin-1" }))).toEqual(["Renée Müller"]);
    write("py16/be.txt", utf16be("Renée Müller"));
    expect(texts(await extract({ path: "py16", encoding: "utf-16-be" }))).toEqual(["Renée Müller"]);

    // 0x80 is '€' in windows-1252, which TextDecoder reads for `ascii`.
    write("ascii/a.txt", Buffer.from("Ren\xe9e pays \x80 5", "latin1"));
    write("ascii/b.txt", "plain ascii");
    const replaced = await extract({ path: "ascii", encoding: "ascii" });
    expect(texts(replaced)).toEqual(["Ren\uFFFDe pays \uFFFD 5", "plain ascii"]);
    const ignored = await extract({ path: "ascii", encoding: "US_ASCII", errors: "ignore" });
    expect(texts(ignored)).toEqual(["Rene pays  5", "plain ascii"]);
    const strict = await extract({ path: "ascii", encoding: "ascii", errors: "strict" });
    expect(sources(strict)).toEqual(["b.txt"]);
    expect(strict.metadata.skipped_binary).toBe(1);
  });

  it("decodes windows-1252's bytes 0x80 to 0x9F as the characters it gives them", async () => {
    write(
      "cp/win.txt",
      Buffer.from([0x80, 0x20, 0x4f, 0x92, 0x93, 0x61, 0x94, 0x96, 0x8a, 0x81, 0xe9]),
    );
    for (const encoding of ["cp1252", "windows-1252", "latin-1"]) {
      expect(texts(await extract({ path: "cp", encoding })), encoding).toEqual([
        "\u20ac O\u2019\u201ca\u201d\u2013\u0160\u0081\u00e9",
      ]);
    }
  });

  it("keeps U+FFFD characters of a file that decodes with `errors: ignore`", async () => {
    write("ff/kept.txt", "name: J\uFFFDrg <jorg@example.com>");
    write("ff/bad.txt", Buffer.from([0x4a, 0xf6, 0x72, 0x67]));
    expect(texts(await extract({ path: "ff", errors: "ignore" }))).toEqual([
      "Jrg",
      "name: J\uFFFDrg <jorg@example.com>",
    ]);
  });

  it("reads gitignore's escaped `\\!` and `\\#` at a pattern's start as those characters", async () => {
    write("esc/!important.txt", "a");
    write("esc/#notes.txt", "b");
    write("esc/plain.txt", "c");
    const read = (properties: Record<string, unknown>) =>
      extract({ path: "esc", ...properties }).then(sources);
    expect(await read({ exclude_patterns: ["\\!important.txt"] })).toEqual([
      "#notes.txt",
      "plain.txt",
    ]);
    expect(await read({ exclude_patterns: ["\\#notes.txt", "!!important.txt"] })).toEqual([
      "!important.txt",
      "plain.txt",
    ]);
    expect(await read({ include_patterns: ["\\!important.txt"] })).toEqual(["!important.txt"]);
    expect(await read({ include_patterns: ["!\\!*"] })).toEqual(["#notes.txt", "plain.txt"]);
  });

  it("includes again with a later `!` exclude pattern, as gitignore does", async () => {
    write("docs/a.md", "a");
    write("docs/keep.md", "keep");
    write("docs/notes.txt", "notes");
    write("docs/sub/keep.md", "deep keep");
    write("docs/build/keep.md", "built");
    write("docs/build/out.txt", "out");
    const excluded = (patterns: string[]) =>
      extract({ path: "docs", exclude_patterns: patterns }).then(sources);
    expect(await excluded(["*.md", "!keep.md"])).toEqual([
      "build/keep.md",
      "build/out.txt",
      "keep.md",
      "notes.txt",
      "sub/keep.md",
    ]);
    // The last matching pattern wins.
    expect(await excluded(["!keep.md", "*.md"])).toEqual(["build/out.txt", "notes.txt"]);
    expect(await excluded(["*.md", "!/keep.md", "build", "!build"])).toEqual([
      "build/out.txt",
      "keep.md",
      "notes.txt",
    ]);
    // Nothing inside an excluded folder comes back.
    expect(await excluded(["build", "!keep.md", "!build/keep.md"])).toEqual([
      "a.md",
      "keep.md",
      "notes.txt",
      "sub/keep.md",
    ]);
    expect(await excluded(["!a.md"])).toEqual([
      "a.md",
      "build/keep.md",
      "build/out.txt",
      "keep.md",
      "notes.txt",
      "sub/keep.md",
    ]);
    // `build/**` excludes what the folder holds: a later `!` pattern takes a file of it back.
    expect(await excluded(["build/**", "!build/keep.md"])).toEqual([
      "a.md",
      "build/keep.md",
      "keep.md",
      "notes.txt",
      "sub/keep.md",
    ]);
    // `name/` matches folders only: a file of that name stays.
    write("docs/sub/build", "a file named build");
    expect(await excluded(["build/", "*.md"])).toEqual(["notes.txt", "sub/build"]);
  });

  it("takes files out of include_patterns with `!` patterns", async () => {
    write("docs/a.md", "a");
    write("docs/draft-b.md", "b");
    write("docs/notes.txt", "notes");
    write("docs/run.log", "log");
    write("docs/tmp/c.md", "c");
    write("docs/tmp/d.txt", "d");
    const included = (patterns: string[]) =>
      extract({ path: "docs", include_patterns: patterns }).then(sources);
    expect(await included(["*.md", "!draft-*"])).toEqual(["a.md", "tmp/c.md"]);
    // The last pattern that matches decides, as in upstream's (gitwildmatch) patterns.
    expect(await included(["!draft-*", "*.md", "!tmp/"])).toEqual(["a.md", "draft-b.md"]);
    expect(await included(["*.md", "!tmp"])).toEqual(["a.md", "draft-b.md"]);
    expect(await included(["!tmp/", "tmp/*.md"])).toEqual(["tmp/c.md"]);
    expect(await included(["tmp/", "!*.txt"])).toEqual(["tmp/c.md"]);
    // Only `!` patterns: every file but those.
    expect(await included(["!*.log", "!tmp/*.md"])).toEqual([
      "a.md",
      "draft-b.md",
      "notes.txt",
      "tmp/d.txt",
    ]);
    expect(await included(["!*.log", "!tmp/"])).toEqual(["a.md", "draft-b.md", "notes.txt"]);
    const issues = filesystemConnector.validateProperties({
      path: "docs",
      include_patterns: ["!", "*.md", "! "],
      exclude_patterns: ["!/", "!x"],
    });
    expect(issues).toEqual([
      { path: "include_patterns.0", message: "must not be an empty pattern" },
      { path: "include_patterns.2", message: "must not be an empty pattern" },
      { path: "exclude_patterns.0", message: "must not be an empty pattern" },
    ]);
  });

  it("takes in the files of a folder an include pattern matches, as gitignore patterns do", async () => {
    write("export/data.csv", "id,email\n1,jane@example.com\n");
    write("export/backup.csv/notes.txt", "password=hunter2");
    write("export/backup.csv/old.csv", "id\n2\n");
    write("export/config/settings.yaml", "a: 1");
    write("export/docs", "a file named docs");
    expect(sources(await extract({ path: "export", include_patterns: ["*.csv"] }))).toEqual([
      "backup.csv/notes.txt",
      "backup.csv/old.csv",
      "data.csv",
    ]);
    expect(sources(await extract({ path: "export", include_patterns: ["config"] }))).toEqual([
      "config/settings.yaml",
    ]);
    // A pattern ending in '/' names folders only: a file of that name is not selected.
    expect(
      sources(await extract({ path: "export", include_patterns: ["backup.csv/", "docs/"] })),
    ).toEqual(["backup.csv/notes.txt", "backup.csv/old.csv"]);
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
