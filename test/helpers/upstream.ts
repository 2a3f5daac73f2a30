/**
 * Upstream's sample data and JSON Schemas, read in place from `../shared/fixtures/upstream` (or
 * `WCT_UPSTREAM_FIXTURES`), never copied into the project. In a clone without them the tests
 * that need them are skipped, saying why; `.ci/run` sets `WCT_REQUIRE_UPSTREAM=1`, so that in CI
 * they always run (and fail if the fixtures are missing).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv, type ValidateFunction } from "ajv";
import { describe, it } from "vitest";
import { ROOT } from "./cli.js";

export const UPSTREAM =
  process.env.WCT_UPSTREAM_FIXTURES ?? join(ROOT, "../shared/fixtures/upstream");

const run = existsSync(UPSTREAM) || Boolean(process.env.WCT_REQUIRE_UPSTREAM);
if (!run) {
  console.warn(
    `upstream fixtures not found at ${UPSTREAM}: the tests against upstream's schemas and samples are skipped (set WCT_UPSTREAM_FIXTURES)`,
  );
}

/** `it`, or `it.skip` where upstream's fixtures are absent (and not required). */
export function itUpstream(name: string, test: () => void | Promise<void>): void {
  (run ? it : it.skip)(name, test);
}

/** `describe`, or `describe.skip` where upstream's fixtures are absent (and not required). */
export function describeUpstream(name: string, suite: () => void): void {
  (run ? describe : describe.skip)(name, suite);
}

/** A validator of upstream's own JSON Schema `name` (version 1.0.0). */
export function upstreamValidator(name: string): ValidateFunction {
  const file = join(UPSTREAM, "schemas", `${name}__1.0.0__${name}.json`);
  const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
  return ajv.compile(JSON.parse(readFileSync(file, "utf8")));
}
