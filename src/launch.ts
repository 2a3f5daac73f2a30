/**
 * @module Starts the CLI (`bin/wct.js`). The bundle (`dist/bundle/wct.cjs`) is compiled as a
 * script with the V8 code cache that the build made from a training run (`code-cache.ts`), so a
 * command does not compile again, in every process, the functions it runs. The cache file holds
 * the sha256 of the bundle it was made from and is used only with that bundle; V8 itself refuses a
 * cache made by another Node.js version or under other V8 flags, and the bundle is then compiled
 * as usual. Under WCT_DEBUG the bundle is required plainly, with source maps on, so that stack
 * traces name the TypeScript sources.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { Script } from "node:vm";
import type { main } from "./cli/main.js";
import { packageFile } from "./paths.js";

/** The CLI bundle that `bundle.ts` writes. */
export const BUNDLE_FILE = packageFile("dist", "bundle", "wct.cjs");
/** Its code cache: the bundle's sha256, then V8's data. */
export const CODE_CACHE_FILE = `${BUNDLE_FILE}.cache`;
const STAMP_BYTES = 32;

/** The CLI's `main` (src/cli/main.ts), as the bundle exports it. */
export type CliMain = typeof main;

export interface LoadedCli {
  main: CliMain;
  /** The compiled bundle, whose code cache `createCachedData` makes; null under WCT_DEBUG. */
  script: Script | null;
  /** Whether the code cache was found for this bundle and V8 accepted it. */
  cacheUsed: boolean;
}

export interface LoadOptions {
  /** The code cache to use (default `CODE_CACHE_FILE`); null for none. */
  cacheFile?: string | null;
  /** Plain `require` with source maps (default: whether WCT_DEBUG is set). */
  debug?: boolean;
}

function sha256(bytes: Uint8Array): Buffer {
  return createHash("sha256").update(bytes).digest();
}

/** A code cache file's content: V8's `data` stamped with the sha256 of the bundle it belongs to. */
export function stampCodeCache(bundle: Uint8Array, data: Uint8Array): Buffer {
  return Buffer.concat([sha256(bundle), data]);
}

/** V8's data from `file` when it was made for `bundle`; undefined otherwise or when unreadable. */
function codeCacheFor(bundle: Uint8Array, file: string): Buffer | undefined {
  let stamped: Buffer;
  try {
    stamped = readFileSync(file);
  } catch {
    return undefined;
  }
  if (stamped.length <= STAMP_BYTES) return undefined;
  if (!stamped.subarray(0, STAMP_BYTES).equals(sha256(bundle))) return undefined;
  return stamped.subarray(STAMP_BYTES);
}

/** Loads the CLI bundle and returns its `main`. */
export function loadCli(options: LoadOptions = {}): LoadedCli {
  const file = BUNDLE_FILE;
  const require = createRequire(file);
  if (options.debug ?? Boolean(process.env.WCT_DEBUG)) {
    process.setSourceMapsEnabled(true);
    return { main: (require(file) as { main: CliMain }).main, script: null, cacheUsed: false };
  }
  const bundle = readFileSync(file);
  const cacheFile = options.cacheFile === undefined ? CODE_CACHE_FILE : options.cacheFile;
  const cachedData = cacheFile === null ? undefined : codeCacheFor(bundle, cacheFile);
  // CommonJS's own wrapper, on the first line so that line numbers stay the bundle's.
  const wrapped = `(function (exports, require, module, __filename, __dirname) { ${bundle.toString("utf8")}\n});`;
  const script = new Script(wrapped, { filename: file, cachedData });
  const module = { exports: {} as { main: CliMain } };
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  wrapper.call(module.exports, module.exports, require, module, file, dirname(file));
  return {
    main: module.exports.main,
    script,
    cacheUsed: cachedData !== undefined && !script.cachedDataRejected,
  };
}
