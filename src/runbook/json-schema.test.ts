// biome-ignore-all lint/suspicious/noTemplateCurlyInString: runbooks use ${VAR} placeholders
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { builtinRegistry } from "../components/registry.js";
import { runbookJsonSchema } from "./json-schema.js";
import { RUNBOOK_KEYS } from "./parse.js";

const FIXTURES = path.resolve(import.meta.dirname, "../../test/fixtures/runbooks");

async function fixtureFiles(): Promise<string[]> {
  const entries = await readdir(FIXTURES, { recursive: true });
  return entries
    .filter((entry) => entry.endsWith(".yaml"))
    .map((entry) => path.join(FIXTURES, entry))
    .sort();
}

const validate = new Ajv({ allErrors: true }).compile(runbookJsonSchema());

const registry = builtinRegistry();
const validateInstalled = new Ajv({ allErrors: true }).compile(
  runbookJsonSchema({
    connectors: registry.connectors.values(),
    processors: registry.processors.values(),
  }),
);

describe("runbookJsonSchema of the installed components", () => {
  const runbook = (source: Record<string, unknown>) => ({
    name: "n",
    description: "d",
    artifacts: { a: { source } },
  });

  it("accepts every runbook fixture and the example", async () => {
    const files = [
      ...(await fixtureFiles()),
      path.resolve(FIXTURES, "../../../examples/personal-data-scan.yaml"),
    ];
    for (const file of files) {
      const valid = validateInstalled(parse(await readFile(file, "utf8")));
      expect({ file, errors: valid ? null : validateInstalled.errors }).toEqual({
        file,
        errors: null,
      });
    }
  });

  it("offers the component types and checks their properties", () => {
    expect(validateInstalled(runbook({ type: "filesystem", properties: { path: "data" } }))).toBe(
      true,
    );
    expect(validateInstalled(runbook({ type: "filesystm", properties: { path: "data" } }))).toBe(
      false,
    );
    expect(validateInstalled(runbook({ type: "filesystem", properties: { paht: "data" } }))).toBe(
      false,
    );
    expect(
      validateInstalled(
        runbook({ type: "filesystem", properties: { path: "d", max_files: "many" } }),
      ),
    ).toBe(false);
    // A placeholder, or the text of a number, stands for one.
    expect(
      validateInstalled(
        runbook({ type: "filesystem", properties: { path: "d", max_files: "${MAX}" } }),
      ),
    ).toBe(true);
    expect(
      validateInstalled(
        runbook({ type: "sqlite", properties: { database_path: "x.db", max_rows_per_table: "5" } }),
      ),
    ).toBe(true);
    expect(validateInstalled(runbook({ type: "sqlite", properties: {} }))).toBe(false);
  });

  it("checks the keys of a processor's object properties (personal_data's pattern_matching)", () => {
    const scan = (pattern_matching: Record<string, unknown>) => ({
      name: "n",
      description: "d",
      artifacts: {
        files: { source: { type: "filesystem", properties: { path: "data" } } },
        found: {
          inputs: "files",
          process: { type: "personal_data", properties: { pattern_matching } },
        },
      },
    });
    expect(
      validateInstalled(scan({ evidence_context_size: "small", maximum_evidence_count: 5 })),
    ).toBe(true);
    expect(validateInstalled(scan({ evidence_context_size: "huge" }))).toBe(false);
    expect(validateInstalled(scan({ bogus: 2 }))).toBe(false);
  });
});

type SchemaNode = { properties: Record<string, SchemaNode>; additionalProperties: SchemaNode };

describe("runbookJsonSchema", () => {
  it("is a titled draft-07 schema that ajv compiles in its default strict mode", () => {
    const schema = runbookJsonSchema();
    expect(schema.$schema).toBe("http://json-schema.org/draft-07/schema#");
    expect(schema.title).toBe("wct runbook");
    expect(schema.additionalProperties).toBe(false);
  });

  it("accepts every runbook fixture", async () => {
    const files = await fixtureFiles();
    expect(files.length).toBeGreaterThanOrEqual(8);
    for (const file of files) {
      const valid = validate(parse(await readFile(file, "utf8")));
      expect({ file, errors: valid ? null : validate.errors }).toEqual({ file, errors: null });
    }
  });

  it("rejects unknown keys where the parser does", () => {
    const base = {
      name: "n",
      description: "d",
      artifacts: { a: { source: { type: "filesystem" } } },
    };
    expect(validate(base)).toBe(true);
    expect(validate({ ...base, artifact: {} })).toBe(false);
    expect(validate({ ...base, artifacts: { a: { source: { type: "x" }, inptus: "b" } } })).toBe(
      false,
    );
    expect(validate({ ...base, config: { timout: 1 } })).toBe(false);
    expect(validate({ ...base, artifacts: { a: { source: { type: "x", propertes: {} } } } })).toBe(
      false,
    );
    expect(
      validate({ ...base, artifacts: { a: { source: { type: "x", properties: { any: 1 } } } } }),
    ).toBe(true);
  });

  it("encodes the exclusivity rules and accepts ${VAR} for typed values", () => {
    const runbook = (artifact: unknown, config: unknown = {}) => ({
      name: "n",
      description: "d",
      config,
      artifacts: { a: artifact },
    });
    expect(validate(runbook({ source: { type: "x" }, inputs: "b" }))).toBe(false);
    expect(validate(runbook({ process: { type: "x" } }))).toBe(false);
    expect(
      validate(
        runbook({
          inputs: "b",
          process: { type: "x" },
          child_runbook: { path: "c", input_mapping: {}, output: "o" },
        }),
      ),
    ).toBe(false);
    expect(
      validate(runbook({ inputs: "b", child_runbook: { path: "c", input_mapping: {} } })),
    ).toBe(false);
    expect(validate(runbook({ inputs: [] }))).toBe(false);
    expect(validate(runbook({ inputs: "b", output: "${EXPORT}" }, { timeout: "${T:-60}" }))).toBe(
      true,
    );
    expect(validate(runbook({ inputs: "b" }, { timeout: 0 }))).toBe(false);
    expect(validate(runbook({ inputs: "b", output_schema: "x/1.0" }))).toBe(false);
    const ids = (id: string) =>
      validate({ name: "n", description: "d", artifacts: { [id]: { inputs: "b" } } });
    expect(ids("../x")).toBe(false);
    expect(ids("c:drive")).toBe(false);
    expect(ids("db:customers")).toBe(true);
  });

  it("lists exactly the keys the parser accepts at each level", () => {
    const schema = runbookJsonSchema() as unknown as SchemaNode;
    const artifact = schema.properties.artifacts!.additionalProperties;
    const keysOf = (node: SchemaNode | undefined) => Object.keys(node?.properties ?? {});
    expect(keysOf(schema)).toEqual([...RUNBOOK_KEYS.runbook]);
    expect(keysOf(schema.properties.config)).toEqual([...RUNBOOK_KEYS.config]);
    expect(keysOf(schema.properties.inputs?.additionalProperties)).toEqual([...RUNBOOK_KEYS.input]);
    expect(keysOf(schema.properties.outputs?.additionalProperties)).toEqual([
      ...RUNBOOK_KEYS.output,
    ]);
    expect(keysOf(artifact)).toEqual([...RUNBOOK_KEYS.artifact]);
    expect(keysOf(artifact.properties.source)).toEqual([...RUNBOOK_KEYS.component]);
    expect(keysOf(artifact.properties.reuse)).toEqual([...RUNBOOK_KEYS.reuse]);
    expect(keysOf(artifact.properties.child_runbook)).toEqual([...RUNBOOK_KEYS.child_runbook]);
    expect(keysOf(artifact.properties.execute)).toEqual([...RUNBOOK_KEYS.execute]);
  });
});
