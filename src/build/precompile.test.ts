import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ValidateFunction } from "ajv";
import { afterAll, describe, expect, it } from "vitest";
import { sha256 } from "../message.js";
import { packageFile } from "../paths.js";
import { PRECOMPILED_DIR, precompiledFile } from "../precompiled.js";
import { parseRuleset, precompiledRuleset, rulesetFiles } from "../rulesets/loader.js";
import { bundledSchemas, createContentAjv, SchemaRegistry } from "../schemas/registry.js";
import { precompile } from "./precompile.js";

const require = createRequire(import.meta.url);
const scratch = mkdtempSync(join(tmpdir(), "wct-precompile-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const out = join(scratch, "precompiled");
const counts = precompile(out);
const SCHEMAS_DIR = packageFile("schemas");

describe("precompiled rulesets", () => {
  it("hold exactly what parsing the shipped YAML gives, and are used for that text only", () => {
    // Code run from sources, like this test, never reads the build's: it tests itself.
    expect(PRECOMPILED_DIR).toBeUndefined();
    const [shipped] = rulesetFiles();
    expect(precompiledRuleset(shipped!, readFileSync(shipped!.file, "utf8"))).toBeUndefined();
    expect(counts.rulesets).toBe(rulesetFiles().length);
    expect(counts.rulesets).toBeGreaterThanOrEqual(2);
    for (const entry of rulesetFiles()) {
      const text = readFileSync(entry.file, "utf8");
      const parsed = parseRuleset(text, entry.file, entry).ruleset;
      expect(parsed).toBeDefined();
      expect(precompiledRuleset(entry, text, out)).toEqual(parsed);
      // An edited ruleset is parsed again, never shadowed by the older build.
      expect(precompiledRuleset(entry, `${text}\n# edited\n`, out)).toBeUndefined();
    }
  });

  it("are ignored when missing or unreadable", () => {
    const [entry] = rulesetFiles();
    const text = readFileSync(entry!.file, "utf8");
    const broken = join(scratch, "broken-rulesets");
    const file = precompiledFile(broken, "rulesets", entry!.name, entry!.version, ".json");
    expect(precompiledRuleset(entry!, text, broken)).toBeUndefined();
    mkdirSync(join(file, ".."), { recursive: true });
    writeFileSync(file, '{"source_sha256": "');
    expect(precompiledRuleset(entry!, text, broken)).toBeUndefined();
  });
});

/** Documents with the kinds of mistakes a component could make, for every shipped schema. */
const BAD_DOCUMENTS: unknown[] = [
  {},
  [],
  "text",
  { schemaVersion: 1, name: "n", data: [{ content: 5 }], extra: true },
  { findings: [{ id: 1, category: "email", evidence: "x" }], summary: {} },
  { findings: "none", summary: { total_findings: "2" }, analysis_metadata: null },
];

describe("precompiled schema validators", () => {
  it("report exactly what Ajv compiling the schema at run time reports", () => {
    expect(counts.schemas).toBe(bundledSchemas.listSchemas().length);
    for (const ref of bundledSchemas.listSchemas()) {
      const file = precompiledFile(out, "schemas", ref.name, ref.version, ".cjs");
      const precompiled = require(file) as ValidateFunction;
      const compiled = createContentAjv({ checkSchemas: false }).compile(
        bundledSchemas.loadSchema(ref),
      );
      for (const document of BAD_DOCUMENTS) {
        expect(precompiled(document)).toBe(compiled(document));
        expect(precompiled.errors).toEqual(compiled.errors);
      }
    }
  });

  it("are used by a registry only when stamped with the sha256 of the schema file it read", () => {
    const dir = join(scratch, "stamped");
    const schemas = join(scratch, "schemas");
    cpSync(SCHEMAS_DIR, schemas, { recursive: true });
    const ref = { name: "standard_input", version: "1.0.0" };
    const valid = { schemaVersion: "1.0.0", name: "n", data: [] };
    const text = readFileSync(join(schemas, "standard_input", "1.0.0", "standard_input.json"));
    const file = precompiledFile(dir, "schemas", ref.name, ref.version, ".cjs");
    mkdirSync(join(file, ".."), { recursive: true });
    // A stand-in that rejects everything: seeing its error proves the registry used it.
    const standIn = (stamp: string) =>
      `module.exports = function v(){ v.errors = [{instancePath: "", keyword: "x", params: {}, message: "stand-in"}]; return false; };\nmodule.exports.sourceSha256 = ${JSON.stringify(stamp)};\n`;
    writeFileSync(file, standIn(sha256(text)));
    expect(
      new SchemaRegistry(schemas, { precompiledDir: dir }).validateContent(ref, valid),
    ).toEqual([{ path: "", message: "stand-in" }]);

    const staleDir = join(scratch, "stale");
    const staleFile = precompiledFile(staleDir, "schemas", ref.name, ref.version, ".cjs");
    mkdirSync(join(staleFile, ".."), { recursive: true });
    writeFileSync(staleFile, standIn(sha256("another text")));
    expect(
      new SchemaRegistry(schemas, { precompiledDir: staleDir }).validateContent(ref, valid),
    ).toEqual([]);

    const brokenDir = join(scratch, "broken-schemas");
    const brokenFile = precompiledFile(brokenDir, "schemas", ref.name, ref.version, ".cjs");
    mkdirSync(join(brokenFile, ".."), { recursive: true });
    writeFileSync(brokenFile, "module.exports = (");
    const registry = new SchemaRegistry(schemas, { precompiledDir: brokenDir });
    expect(registry.validateContent(ref, valid)).toEqual([]);
    expect(registry.validateContent(ref, {})).not.toEqual([]);
  });
});
