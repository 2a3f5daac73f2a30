/**
 * @module Precompiled forms of the shipped rulesets and schemas, written by the build step
 * (`src/build/precompile.ts`) to `dist/precompiled/`. Each is stamped with the sha256 of the file
 * it was made from; a reader uses it only when the stamp matches the file it has just read, so an
 * edited ruleset or schema is never shadowed by an older build, and a missing or unreadable
 * precompiled file only means the slower path. Only built code reads them, since the same build
 * wrote them: code run from sources (tests, tsx) always parses and compiles, so that it tests
 * itself rather than whatever the last build left.
 */
import { join } from "node:path";
import { FROM_SOURCES, packageFile } from "./paths.js";

/** Where the build writes precompiled forms. */
export const PRECOMPILED_OUTPUT_DIR = packageFile("dist", "precompiled");

/** Where this process reads them from: nowhere when it runs from sources. */
export const PRECOMPILED_DIR = FROM_SOURCES ? undefined : PRECOMPILED_OUTPUT_DIR;

/** `<dir>/<kind>/<name>/<version><extension>`. */
export function precompiledFile(
  dir: string,
  kind: "rulesets" | "schemas",
  name: string,
  version: string,
  extension: ".json" | ".cjs",
): string {
  return join(dir, kind, name, `${version}${extension}`);
}
