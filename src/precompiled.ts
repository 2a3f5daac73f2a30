/**
 * @module Precompiled forms of the shipped rulesets and schemas, written by the build step
 * (`src/build/precompile.ts`) to `dist/precompiled/`. Each is stamped with the sha256 of the file
 * it was made from; a reader uses it only when the stamp matches the file it has just read, so an
 * edited ruleset or schema is never shadowed by an older build, and a missing or unreadable
 * precompiled file only means the slower path.
 */
import { join } from "node:path";
import { packageFile } from "./paths.js";

export const PRECOMPILED_DIR = packageFile("dist", "precompiled");

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
