/**
 * @module Bundles the CLI (tsc's `dist/cli/main.js` and everything it imports, dependencies
 * but sql.js and Ajv) into one CommonJS script, `dist/bundle/wct.cjs`, which `launch.ts` compiles
 * with the V8 code cache of `code-cache.ts`: a command loads one file, most of whose functions
 * need no compiling, instead of some two hundred modules. The worker threads' task modules are
 * bundled the same way, into `dist/bundle/worker.cjs` (`worker-bundle.ts`): a new thread loads one
 * script and never starts Node's ES module loader.
 */
import { rmSync } from "node:fs";
import { buildSync } from "esbuild";
import { WORKER_BUNDLE_FILE } from "../execute/worker-pool.js";
import { BUNDLE_FILE } from "../launch.js";
import { packageFile } from "../paths.js";

/** Bundles tsc's `entry` (a path under `dist/`) into the CommonJS script `file`, with its map. */
function bundle(entry: string, file: string): void {
  rmSync(file, { force: true });
  buildSync({
    entryPoints: [packageFile("dist", entry)],
    outfile: file,
    bundle: true,
    // A script, not an ES module: only scripts can be compiled with a V8 code cache.
    format: "cjs",
    platform: "node",
    target: "node20",
    // sql.js finds its WebAssembly beside its own files; Ajv is required only to compile a schema
    // without a precompiled validator.
    external: ["sql.js", "ajv", "ajv-formats"],
    // Modules that ask where they are get the bundle's own URL.
    define: { "import.meta.url": "__wctBundleUrl" },
    banner: { js: 'const __wctBundleUrl = require("node:url").pathToFileURL(__filename).href;' },
    // Through tsc's maps, back to src/: stack traces under WCT_DEBUG=1 name the TypeScript.
    sourcemap: "linked",
    logLevel: "warning",
  });
}

/** Writes `file` (by default the `dist/bundle/wct.cjs` that `launch.ts` loads) and its map. */
export function bundleCli(file = BUNDLE_FILE): void {
  bundle("cli/main.js", file);
}

/** Writes `file` (by default the `dist/bundle/worker.cjs` that worker threads start from). */
export function bundleWorker(file = WORKER_BUNDLE_FILE): void {
  bundle("execute/worker-bundle.js", file);
}
