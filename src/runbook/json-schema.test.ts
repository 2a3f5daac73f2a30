// biome-ignore-all lint/suspicious/noTemplateCurlyInString: runbooks use ${VAR} placeholders
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Ajv } from "ajv";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { builtinRegistry } from "../components/registry.js";
import { RunbookError } from "../errors.js";
import { prepareRunbook } from "../plan/prepare.js";
import { runbookJsonSchema } from "./json-schema.js";
import { loadRunbook, RUNBOOK_KEYS } from "./parse.js";

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

  it("requires the properties of a component that has a required one, as the planner does", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "wct-schema-required-"));
    try {
      const file = path.join(dir, "rb.yaml");
      for (const source of ["{type: filesystem}", "{type: sqlite, properties: null}"]) {
        const text = `name: n\ndescription: d\nartifacts:\n  a:\n    source: ${source}\n`;
        await writeFile(file, text);
        const planned = await prepareRunbook(file, registry, null, {}).then(
          () => "valid",
          (error: unknown) => (error instanceof RunbookError ? "invalid" : error),
        );
        expect({ source, planner: planned, schema: validateInstalled(parse(text)) }).toEqual({
          source,
          planner: "invalid",
          schema: false,
        });
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    // The processors have no required property: their properties may be left out.
    const scan = {
      name: "n",
      description: "d",
      artifacts: {
        files: { source: { type: "filesystem", properties: { path: "data" } } },
        found: { inputs: "files", process: { type: "personal_data", properties: null } },
        gdpr: { inputs: "found", process: { type: "gdpr_personal_data_classifier" } },
      },
    };
    expect(validateInstalled(scan)).toBe(true);
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

type SchemaNode = {
  properties: Record<string, SchemaNode>;
  additionalProperties: SchemaNode;
  anyOf?: SchemaNode[];
  type?: string;
};

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
    // An optional object may be null too: `anyOf: [object, null]`.
    const unwrap = (node: SchemaNode | undefined) =>
      node?.anyOf?.find((alternative) => alternative.type === "object") ?? node;
    const artifact = unwrap(schema.properties.artifacts)!.additionalProperties;
    const keysOf = (node: SchemaNode | undefined) => Object.keys(unwrap(node)?.properties ?? {});
    expect(keysOf(schema)).toEqual([...RUNBOOK_KEYS.runbook]);
    expect(keysOf(schema.properties.config)).toEqual([...RUNBOOK_KEYS.config]);
    expect(keysOf(unwrap(schema.properties.inputs)?.additionalProperties)).toEqual([
      ...RUNBOOK_KEYS.input,
    ]);
    expect(keysOf(unwrap(schema.properties.outputs)?.additionalProperties)).toEqual([
      ...RUNBOOK_KEYS.output,
    ]);
    expect(keysOf(artifact)).toEqual([...RUNBOOK_KEYS.artifact]);
    expect(keysOf(artifact.properties.source)).toEqual([...RUNBOOK_KEYS.component]);
    expect(keysOf(artifact.properties.reuse)).toEqual([...RUNBOOK_KEYS.reuse]);
    expect(keysOf(artifact.properties.child_runbook)).toEqual([...RUNBOOK_KEYS.child_runbook]);
    expect(keysOf(artifact.properties.execute)).toEqual([...RUNBOOK_KEYS.execute]);
  });
});

describe("runbookJsonSchema and the parser", () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Whether the parser reads `text` without a problem (structure only: no plan is made). */
  async function parserAccepts(text: string): Promise<boolean> {
    dir ??= await mkdtemp(path.join(tmpdir(), "wct-schema-"));
    const file = path.join(dir, "runbook.yaml");
    await writeFile(file, text);
    return loadRunbook(file, { T: "3", C: "1.5" }).then(
      () => true,
      () => false,
    );
  }

  const H = "name: n\ndescription: d\n";
  const SOURCE = "    source: {type: filesystem, properties: {path: x}}\n";
  it.each([
    ["an empty config", `${H}config:\n`],
    ["empty config settings", `${H}config:\n  timeout:\n  template_paths:\n  cost_limit:\n`],
    ["empty artifacts, inputs and outputs", `${H}artifacts:\ninputs:\noutputs:\n`],
    [
      "empty optional artifact fields",
      `${H}artifacts:\n  a:\n${SOURCE}    output:\n    optional:\n    output_schema:\n    merge:\n    execute:\n    reuse:\n    inputs:\n`,
    ],
    [
      "an empty source beside inputs",
      `${H}artifacts:\n  a:\n${SOURCE}  b:\n    inputs: a\n    source:\n`,
    ],
    [
      "an empty child_runbook beside a process",
      `${H}artifacts:\n  a:\n${SOURCE}  b:\n    inputs: a\n    process: {type: personal_data}\n    child_runbook:\n`,
    ],
    [
      "an empty output beside output_mapping",
      `${H}artifacts:\n  a:\n${SOURCE}  b:\n    inputs: a\n    child_runbook: {path: c.yaml, input_mapping: {}, output: , output_mapping: {x: y}}\n`,
    ],
    [
      "an empty optional property",
      `${H}artifacts:\n  a:\n    source: {type: filesystem, properties: {path: x, max_files: }}\n`,
    ],
    ["a placeholder inside a number", `${H}config:\n  timeout: \${T}0\n  cost_limit: \${C}\n`],
    [
      "an empty input flag",
      `${H}inputs:\n  i: {input_schema: standard_input, optional: , sensitive: }\nartifacts:\n  b:\n    inputs: i\n`,
    ],
  ])("both accept %s", async (_what, text) => {
    expect(await parserAccepts(text)).toBe(true);
    expect(validateInstalled(parse(text)), JSON.stringify(validateInstalled.errors)).toBe(true);
  });

  it.each([
    ["an input listed twice", `${H}artifacts:\n  a:\n${SOURCE}  b:\n    inputs: [a, a]\n`],
    [
      "a child_runbook without inputs",
      `${H}artifacts:\n  a:\n${SOURCE}    child_runbook: {path: c.yaml, input_mapping: {}, output: o}\n`,
    ],
    [
      "a default without optional: true",
      `${H}inputs:\n  i: {input_schema: standard_input, default: 1}\nartifacts:\n  b:\n    inputs: i\n`,
    ],
    ["an empty required field", `${H}artifacts:\n  a:\n    source: {type: }\n`],
    [
      "an empty input_mapping",
      `${H}artifacts:\n  a:\n${SOURCE}  b:\n    inputs: a\n    child_runbook: {path: c.yaml, input_mapping: , output: o}\n`,
    ],
    ["an id with an empty segment", `${H}artifacts:\n  a//b:\n${SOURCE}`],
    ["an id ending in '/'", `${H}artifacts:\n  'a/':\n${SOURCE}`],
    ["an id with a '.' segment", `${H}artifacts:\n  a/./b:\n${SOURCE}`],
    ["an id with a C1 control character", `${H}artifacts:\n  "a\\u0085b":\n${SOURCE}`],
    ["an id with a 201-character part", `${H}artifacts:\n  ${"x".repeat(201)}:\n${SOURCE}`],
  ])("both reject %s", async (_what, text) => {
    expect(await parserAccepts(text)).toBe(false);
    expect(validateInstalled(parse(text))).toBe(false);
  });
});
