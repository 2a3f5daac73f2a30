import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { BUNDLE_FILE, CODE_CACHE_FILE, stampCodeCache } from "./launch.js";
import { packageFile } from "./paths.js";

const VERSION = (
  JSON.parse(readFileSync(packageFile("package.json"), "utf8")) as { version: string }
).version;

/**
 * `wct --version` through the built `loadCli`, in a process of its own (V8 keeps what it compiled
 * per process, so a second load in one process would not read the cache at all). With
 * `brokenStdout`, writing the version throws, as a bug would, and WCT_DEBUG asks for its stack.
 */
function launch(options: { cacheFile?: string; debug?: boolean }, brokenStdout = false) {
  const script = `
    import { loadCli } from ${JSON.stringify(pathToFileURL(packageFile("dist", "launch.js")).href)};
    import { Writable } from "node:stream";
    let printed = "";
    let errors = "";
    const stdout = new Writable({ write(chunk, _e, done) {
      if (${brokenStdout}) throw new Error("stdout is gone");
      printed += chunk;
      done();
    } });
    const stderr = new Writable({ write(chunk, _e, done) { errors += chunk; done(); } });
    const cli = loadCli(${JSON.stringify(options)});
    const code = await cli.main(["--version"], { stdout, stderr, env: { WCT_DEBUG: "1" } });
    console.log(JSON.stringify({ code, printed: printed.trim(), errors, cacheUsed: cli.cacheUsed, script: cli.script !== null }));
  `;
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
    encoding: "utf8",
  });
  return JSON.parse(out) as {
    code: number;
    printed: string;
    errors: string;
    cacheUsed: boolean;
    script: boolean;
  };
}

describe("loadCli (uses the build of `npm run build`)", () => {
  const dir = mkdtempSync(join(tmpdir(), "wct-launch-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("runs the bundle with the code cache the build made for it", () => {
    expect(launch({ debug: false })).toEqual({
      code: 0,
      printed: VERSION,
      errors: "",
      cacheUsed: true,
      script: true,
    });
  });

  it("compiles the bundle afresh when its cache is missing, damaged or made for another bundle", () => {
    const stamped = readFileSync(CODE_CACHE_FILE);
    const caches = {
      missing: null,
      "for another bundle": stampCodeCache(Buffer.from("another bundle"), stamped.subarray(32)),
      "damaged data": stampCodeCache(readFileSync(BUNDLE_FILE), Buffer.from("not a code cache")),
      "cut short": stamped.subarray(0, 20),
    };
    for (const [name, content] of Object.entries(caches)) {
      const cacheFile = join(dir, `${name}.cache`);
      if (content) writeFileSync(cacheFile, content);
      expect(launch({ cacheFile, debug: false }), name).toEqual({
        code: 0,
        printed: VERSION,
        errors: "",
        cacheUsed: false,
        script: true,
      });
    }
  });

  it("requires the bundle plainly under WCT_DEBUG, so that stacks name the TypeScript sources", () => {
    const debug = launch({ debug: true }, true);
    expect(debug).toMatchObject({ code: 1, cacheUsed: false, script: false });
    expect(debug.errors).toMatch(/internal error: Error: stdout is gone\n/);
    expect(debug.errors).toContain(`${packageFile("src", "cli", "main.ts")}:`);
    // Compiled with the cache, the same stack names the bundle.
    const cached = launch({ debug: false }, true);
    expect(cached).toMatchObject({ code: 1, cacheUsed: true, script: true });
    expect(cached.errors).toContain(`${BUNDLE_FILE}:`);
    expect(cached.errors).not.toContain(".ts:");
  });
});
