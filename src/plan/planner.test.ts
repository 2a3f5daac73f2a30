import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ComponentRegistry, Connector, Processor } from "../components/types.js";
import { formatIssue, RunbookError } from "../errors.js";
import { changedArtifacts } from "./plan-json.js";
import { prepareRunbook } from "./prepare.js";

const STANDARD = { name: "standard_input", version: "1.0.0" };
const INDICATOR = { name: "personal_data_indicator", version: "1.0.0" };
const unused = () => Promise.reject(new Error("not executed in planner tests"));

const source: Connector = {
  kind: "connector",
  type: "files",
  description: "",
  properties: [],
  outputSchemas: [STANDARD],
  validateProperties: (p) =>
    typeof p.path === "string" ? [] : [{ path: "path", message: "is required" }],
  extract: unused,
};
const detector: Processor = {
  kind: "processor",
  type: "detect",
  description: "",
  properties: [],
  outputSchemas: [INDICATOR],
  inputRequirements: [[STANDARD]],
  validateProperties: () => [],
  process: unused,
};
const registry: ComponentRegistry = {
  connectors: new Map([["files", source]]),
  processors: new Map([["detect", detector]]),
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "wct-plan-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function plan(artifacts: string, env: Record<string, string> = {}) {
  const file = join(dir, "runbook.yaml");
  await writeFile(file, `name: p\ndescription: planner test\nartifacts:\n${artifacts}`);
  return prepareRunbook(file, registry, null, env);
}

async function problems(artifacts: string): Promise<string[]> {
  const error = await plan(artifacts).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RunbookError);
  return (error as RunbookError).issues.map(formatIssue);
}

const files = "  s: {source: {type: files, properties: {path: .}}}\n";

describe("planner", () => {
  it("resolves schemas along the DAG in dependency order", async () => {
    const { plan: p } = await plan(
      `  d: {inputs: s, process: {type: detect}}\n${files}  copy: {inputs: d}\n`,
    );
    expect([...p.artifacts.keys()]).toEqual(["s", "d", "copy"]);
    expect(p.artifacts.get("d")!.inputSchemas).toEqual([STANDARD]);
    expect(p.artifacts.get("copy")!.outputSchema).toEqual(INDICATOR);
    expect(p.dependents.get("s")).toEqual(["d"]);
  });

  it("checks single-schema inputs against the processor's declared inputs", async () => {
    const found = await problems(
      `${files}  d: {inputs: s, process: {type: detect}}\n  dd: {inputs: d, process: {type: detect}}\n`,
    );
    expect(found).toEqual([
      expect.stringMatching(
        /runbook\.yaml:6:\d+: artifacts\.dd\.inputs: processor 'detect' accepts \[standard_input\/1\.0\.0\], but its inputs produce \[personal_data_indicator\/1\.0\.0\]/,
      ),
    ]);
  });

  it("names unknown component types with a suggestion and the known ones", async () => {
    const [connector] = await problems("  s: {source: {type: file, properties: {path: .}}}\n");
    expect(connector).toContain(
      "unknown connector type 'file' (did you mean 'files'?); known: files",
    );
    const [processor] = await problems(`${files}  d: {inputs: s, process: {type: detekt}}\n`);
    expect(processor).toMatch(
      /runbook\.yaml:5:\d+: artifacts\.d\.process\.type: unknown processor type 'detekt' \(did you mean 'detect'\?\)/,
    );
  });

  it("reports missing references, property problems and impossible output schemas together", async () => {
    const found = await problems(
      `${files}  a: {inputs: [s, t], process: {type: detect}}\n  b: {source: {type: files}}\n  c: {inputs: s, process: {type: detect}, output_schema: standard_input}\n`,
    );
    expect(
      found.some((f) =>
        f.includes("references artifact 't', which does not exist (did you mean 's'?)"),
      ),
    ).toBe(true);
  });

  it("collects every planning problem after references resolve", async () => {
    const found = await problems(
      `${files}  b: {source: {type: files}}\n  c: {inputs: s, process: {type: detect}, output_schema: standard_input}\n` +
        "  t: {source: {type: files, properties: {path: .}}}\n  m: {inputs: [s, t]}\n",
    );
    expect(found).toHaveLength(3);
    expect(found[0]).toMatch(/artifacts\.b\.source\.properties\.path: is required/);
    expect(found[1]).toContain("processor 'detect' cannot produce 'standard_input/1.0.0'");
    expect(found[2]).toContain("no process; combining inputs needs a processor");
  });

  it("reports in one pass cycles, missing references and every artifact's own problems, in line order", async () => {
    const found = await problems(
      `${files}  d: {inputs: e, process: {type: detect}}\n  e: {inputs: d, process: {type: detect}}\n` +
        "  f: {inputs: zzz, process: {type: detect}}\n  g: {source: {type: filez, properties: {path: .}}}\n" +
        "  h: {inputs: g, process: {type: detekt}}\n  x: {inputs: y, process: {type: detect}}\n  y: {inputs: x}\n",
    );
    // Found references first, then cycles, then artifact by artifact; shown by place.
    expect(found).toEqual([
      expect.stringMatching(/:5:\d+: artifacts\.d\.inputs: dependency cycle: d -> e -> d/),
      expect.stringMatching(
        /:7:\d+: artifacts\.f\.inputs: references artifact 'zzz', which does not exist/,
      ),
      expect.stringMatching(/:8:\d+: artifacts\.g\.source\.type: unknown connector type 'filez'/),
      expect.stringMatching(/:9:\d+: artifacts\.h\.process\.type: unknown processor type 'detekt'/),
      expect.stringMatching(/:10:\d+: artifacts\.x\.inputs: dependency cycle: x -> y -> x/),
    ]);
  });

  it("takes ids such as 'toString' or '__proto__' for ids, not for properties of every object", async () => {
    const { plan: p, planJson } = await plan(
      "  toString: {source: {type: files, properties: {path: .}}}\n" +
        "  __proto__: {inputs: toString, process: {type: detect}}\n" +
        "  hasOwnProperty: {inputs: __proto__}\n",
    );
    expect([...p.artifacts.keys()]).toEqual(["toString", "__proto__", "hasOwnProperty"]);
    expect(p.artifacts.get("hasOwnProperty")!.outputSchema).toEqual(INDICATOR);
    expect(Object.keys(planJson.artifacts)).toEqual(["toString", "__proto__", "hasOwnProperty"]);
    const stored = JSON.parse(JSON.stringify(planJson)).artifacts;
    expect(Object.getOwnPropertyDescriptor(stored, "__proto__")?.value.inputs).toEqual([
      "toString",
    ]);
    const [missing] = await problems(
      `${files}  d: {inputs: [s, constructor], process: {type: detect}}\n`,
    );
    expect(missing).toMatch(
      /runbook\.yaml:5:\d+: artifacts\.d\.inputs: references artifact 'constructor', which does not exist/,
    );
  });

  it("says that an input a child runbook declares comes from the runbook including it", async () => {
    const file = join(dir, "child.yaml");
    await writeFile(
      file,
      "name: c\ndescription: a child\ninputs:\n  data: {input_schema: standard_input}\n" +
        "artifacts:\n  found: {inputs: [data, dat], process: {type: detect}}\n",
    );
    const error = await prepareRunbook(file, registry, null, {}).catch((e: unknown) => e);
    expect((error as RunbookError).issues.map(formatIssue)).toEqual([
      expect.stringMatching(
        /child\.yaml:6:\d+: artifacts\.found\.inputs: references 'data', an input this runbook declares for use as a child runbook: run the runbook that includes it/,
      ),
      expect.stringContaining("references artifact 'dat', which does not exist"),
    ]);
  });

  it("names the cycle and the file", async () => {
    const [cycle] = await problems(
      `${files}  a: {inputs: [s, b], process: {type: detect}}\n  b: {inputs: a}\n`,
    );
    expect(cycle).toMatch(
      /runbook\.yaml:5:\d+: artifacts\.a\.inputs: dependency cycle: a -> b -> a/,
    );
  });

  it("persists placeholders, not secrets, and detects changed definitions by digest", async () => {
    const body =
      "  s: {source: {type: files, properties: {path: '${DATA}'}}}\n  d: {inputs: s, process: {type: detect}}\n";
    const one = await plan(body, { DATA: "/srv/secret-place" });
    expect(JSON.stringify(one.planJson)).not.toContain("secret-place");
    expect(one.planJson.artifacts.s!.definition).toMatchObject({
      source: { properties: { path: "${DATA}" } },
    });
    const same = await plan(body, { DATA: "/elsewhere" });
    expect(changedArtifacts(one.planJson, same.planJson)).toEqual([]);
    const other = await plan(
      `${body}  e: {inputs: s, process: {type: detect}}\n`.replace(
        "detect}}\n  e",
        "detect}, output: true}\n  e",
      ),
      {
        DATA: "/x",
      },
    );
    expect(changedArtifacts(one.planJson, other.planJson)).toEqual(["d", "e"]);
  });
});
