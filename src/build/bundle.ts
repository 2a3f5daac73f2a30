/**
 * @module Bundles the CLI (tsc's `dist/cli/main.js` and everything it imports, dependencies
 * but sql.js and Ajv) into `dist/bundle/`: a command loads the entry and a handful of chunks
 * instead of some two hundred modules, which was most of what it cost before doing anything.
 * Commands are chunks loaded when they run. Worker threads keep loading tsc's modules (see
 * `paths.ts`).
 */
import { rmSync } from "node:fs";
import { buildSync } from "esbuild";
import { packageFile } from "../paths.js";

export const BUNDLE_DIR = packageFile("dist", "bundle");

/** Writes `dist/bundle/main.js` (the CLI entry `bin/wct.js` imports) and its chunks. */
export function bundleCli(outdir = BUNDLE_DIR): void {
  // Chunk names carry content hashes: chunks of an earlier build would pile up.
  rmSync(outdir, { recursive: true, force: true });
  buildSync({
    entryPoints: [packageFile("dist", "cli", "main.js")],
    outdir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    // sql.js finds its WebAssembly beside its own files; Ajv is required only to compile a schema
    // without a precompiled validator.
    external: ["sql.js", "ajv", "ajv-formats"],
    // CommonJS dependencies inside an ES module bundle call `require`.
    banner: {
      js: 'import { createRequire as __wctCreateRequire } from "node:module";\nconst require = __wctCreateRequire(import.meta.url);',
    },
    // Through tsc's maps, back to src/: stack traces under WCT_DEBUG=1 name the TypeScript.
    sourcemap: "linked",
    logLevel: "warning",
  });
}
