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
 * per process, so a second load in one process would not read the cache at all).
 */
function launch(options: { cacheFile?: string; debug?: boolean }) {
  const script = `
    import { loadCli } from ${JSON.stringify(pathToFileURL(packageFile("dist", "launch.js")).href)};
    import { Writable } from "node:stream";
    let printed = "";
    const stdout = new Writable({ write(chunk, _e, done) { printed += chunk; done(); } });
    const cli = loadCli(${JSON.stringify(options)});
    const code = await cli.main(["--version"], { stdout, stderr: stdout });
    console.log(JSON.stringify({ code, printed: printed.trim(), cacheUsed: cli.cacheUsed, script: cli.script !== null }));
  `;
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
    encoding: "utf8",
  });
  return JSON.parse(out) as { code: number; printed: string; cacheUsed: boolean; script: boolean };
}

describe("loadCli (uses the build of `npm run build`)", () => {
  const dir = mkdtempSync(join(tmpdir(), "wct-launch-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("runs the bundle with the code cache the build made for it", () => {
    expect(launch({ debug: false })).toEqual({
      code: 0,
      printed: VERSION,
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
        cacheUsed: false,
        script: true,
      });
    }
  });

  it("requires the bundle plainly under WCT_DEBUG, so that Node maps its stack traces", () => {
    expect(launch({ debug: true })).toEqual({
      code: 0,
      printed: VERSION,
      cacheUsed: false,
      script: false,
    });
  });
});
