/**
 * @module A build step after `tsc` (`build/run.ts`): writes the precompiled forms of the shipped
 * rulesets (parsed and validated, as JSON) and schemas (standalone Ajv validators, CommonJS) that
 * `precompiled.ts` describes. A ruleset or schema that does not load fails the build, naming it.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { _ } from "ajv";
import { formatIssue } from "../errors.js";
import { sha256 } from "../message.js";
import { PRECOMPILED_OUTPUT_DIR, precompiledFile } from "../precompiled.js";
import { type PrecompiledRuleset, parseRuleset, rulesetFiles } from "../rulesets/loader.js";
import { bundledSchemas, createContentAjv } from "../schemas/registry.js";

const require = createRequire(import.meta.url);
const standaloneCode = (require("ajv/dist/standalone") as { default: StandaloneCode }).default;
type StandaloneCode = (ajv: unknown, validate: unknown) => string;

function write(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
}

/** Writes every precompiled form into `dir` (emptied first); returns how many of each. */
export function precompile(dir = PRECOMPILED_OUTPUT_DIR): { rulesets: number; schemas: number } {
  rmSync(dir, { recursive: true, force: true });
  const rulesets = rulesetFiles();
  for (const entry of rulesets) {
    const text = readFileSync(entry.file, "utf8");
    const { ruleset, issues } = parseRuleset(text, entry.file, entry);
    if (!ruleset) throw new Error(issues.map(formatIssue).join("\n"));
    const stamped: PrecompiledRuleset = { source_sha256: sha256(text), ruleset };
    write(
      precompiledFile(dir, "rulesets", entry.name, entry.version, ".json"),
      `${JSON.stringify(stamped)}\n`,
    );
  }
  const schemas = bundledSchemas.listSchemas();
  for (const ref of schemas) {
    const file = bundledSchemas.schemaFile(ref);
    const text = readFileSync(file, "utf8");
    // Formats, should a schema use one, come from ajv-formats at run time.
    const ajv = createContentAjv({
      checkSchemas: true,
      code: { source: true, formats: _`require("ajv-formats/dist/formats").fullFormats` },
    });
    let validate: unknown;
    try {
      validate = ajv.compile(JSON.parse(text) as object);
    } catch (error) {
      throw new Error(`${file}: ${(error as Error).message}`, { cause: error });
    }
    write(
      precompiledFile(dir, "schemas", ref.name, ref.version, ".cjs"),
      `${standaloneCode(ajv, validate)}\nmodule.exports.sourceSha256 = ${JSON.stringify(sha256(text))};\n`,
    );
  }
  return { rulesets: rulesets.length, schemas: schemas.length };
}
