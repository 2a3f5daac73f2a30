// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these tests use ${VAR} placeholders
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatIssue, RunbookError } from "../errors.js";
import type { SchemaRef } from "../message.js";
import { childPathProblem, type FlattenedRunbook, flattenRunbook } from "./flatten.js";
import type { ArtifactDefinition } from "./model.js";
import { loadRunbook } from "./parse.js";

const FIXTURES = path.resolve(import.meta.dirname, "../../test/fixtures/runbooks");

/** What the built-in components produce, as the planner would tell. */
const PRODUCED: Record<string, string> = {
  filesystem: "standard_input",
  personal_data: "personal_data_indicator",
  gdpr_personal_data_classifier: "gdpr_personal_data",
};
function outputSchemaOf(def: ArtifactDefinition): SchemaRef | null {
  const name = PRODUCED[def.source?.type ?? def.process?.type ?? ""];
  return name ? { name, version: "1.0.0" } : null;
}

async function flattenFile(
  file: string,
  env: Record<string, string | undefined> = {},
): Promise<FlattenedRunbook> {
  return flattenRunbook(await loadRunbook(file, env), { env, outputSchemaOf });
}

/** The issues flattening `file` raises, with file names relative to `base`. */
async function issuesOf(file: string, base: string): Promise<string[]> {
  const error = await flattenFile(file).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof RunbookError)) throw new Error(`expected a RunbookError, got ${error}`);
  return error.issues.map((issue) =>
    formatIssue({
      ...issue,
      position: { ...issue.position, file: path.relative(base, issue.position?.file ?? "") },
    }),
  );
}

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "wct-flatten-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** Writes `files` (relative path -> lines) into a new folder and returns it. */
async function tree(name: string, files: Record<string, string[]>): Promise<string> {
  const root = path.join(scratch, name);
  for (const [relative, lines] of Object.entries(files)) {
    const file = path.join(root, relative);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, `${lines.join("\n")}\n`);
  }
  return root;
}

/** A parent runbook with one filesystem source `files` and one directive `use`. */
function parent(directive: string[], extra: string[] = []): string[] {
  return [
    "name: parent",
    "description: uses a child",
    ...extra,
    "artifacts:",
    "  files:",
    "    source: {type: filesystem, properties: {path: ./data}}",
    "  use:",
    "    inputs: files",
    "    child_runbook:",
    ...directive.map((line) => `      ${line}`),
  ];
}

/** A child runbook with one required standard_input input and one output. */
function child(name: string, extra: string[] = []): string[] {
  return [
    `name: ${name}`,
    "description: a child",
    "inputs:",
    "  data: {input_schema: standard_input/1.0.0}",
    "outputs:",
    "  result: {artifact: found}",
    "artifacts:",
    "  found:",
    "    inputs: data",
    "    process: {type: personal_data}",
    ...extra,
  ];
}

/** A directive using `file` with the usual mapping. */
function useChild(file = "child.yaml"): string[] {
  return [`path: ${file}`, "input_mapping: {data: files}", "output: result"];
}

describe("flattenRunbook on the composition fixture", () => {
  const main = path.join(FIXTURES, "composition/main.yaml");

  it("replaces directives in place by namespaced child artifacts and resolves aliases in any order", async () => {
    const flat = await flattenFile(main);
    expect(Object.keys(flat.artifacts)).toEqual([
      "files",
      "summary",
      "analysis__personal",
      "classification__classified",
    ]);
    expect(flat.artifacts.summary?.inputs).toEqual([
      "classification__classified",
      "analysis__personal",
    ]);
    expect(flat.artifacts.analysis__personal?.inputs).toEqual(["files"]);
    expect(flat.artifacts.classification__classified?.inputs).toEqual(["analysis__personal"]);
    expect(flat.artifacts.classification__classified?.output).toBe(true);
    expect(flat.aliases).toEqual({
      analysis: "analysis__personal",
      classified_findings: "classification__classified",
    });
    expect(flat.origins).toEqual({
      files: "parent",
      summary: "parent",
      analysis__personal: "child:analysis",
      classification__classified: "child:classification",
    });
    expect(flat.files).toEqual([
      main,
      path.join(FIXTURES, "composition/children/analyse.yaml"),
      path.join(FIXTURES, "composition/templates/shared-classify.yaml"),
    ]);
  });

  it("gives identical ids when the same runbook is flattened again", async () => {
    const first = await flattenFile(main);
    const second = await flattenFile(main);
    expect(JSON.stringify(second.artifacts)).toBe(JSON.stringify(first.artifacts));
    expect(second.aliases).toEqual(first.aliases);
  });

  it("points flattened artifacts at the file that defines them", async () => {
    const flat = await flattenFile(main);
    expect(flat.positionOf("analysis__personal", "inputs")).toEqual({
      file: path.join(FIXTURES, "composition/children/analyse.yaml"),
      line: 19,
      column: 5,
    });
    expect(flat.positionOf("summary")).toEqual({ file: main, line: 17, column: 3 });
    expect(flat.positionOf("analysis")).toBeUndefined();
  });
});

describe("flattenRunbook nesting and cycles", () => {
  it("namespaces three levels deep and follows aliases transitively", async () => {
    const flat = await flattenFile(path.join(FIXTURES, "nested/level1.yaml"));
    expect(Object.keys(flat.artifacts)).toEqual(["files", "outer__inner__x", "report"]);
    expect(flat.artifacts.outer__inner__x?.inputs).toEqual(["files"]);
    expect(flat.artifacts.report?.inputs).toEqual(["outer__inner__x"]);
    expect(flat.aliases).toEqual({ outer: "outer__inner__x", outer__inner: "outer__inner__x" });
    expect(flat.origins.outer__inner__x).toBe("child:outer__inner");
    expect(flat.files).toHaveLength(3);
  });

  it("namespaces output_mapping aliases used inside a child", async () => {
    const root = await tree("alias-in-child", {
      "main.yaml": parent(useChild()),
      "child.yaml": [
        "name: middle",
        "description: uses an alias of its own child",
        "inputs:",
        "  data: {input_schema: standard_input/1.0.0}",
        "outputs:",
        "  result: {artifact: post}",
        "artifacts:",
        "  post:",
        "    inputs: hit",
        "  inner:",
        "    inputs: data",
        "    child_runbook:",
        "      path: leaf.yaml",
        "      input_mapping: {data: data}",
        "      output_mapping: {result: hit}",
      ],
      "leaf.yaml": child("leaf"),
    });
    const flat = await flattenFile(path.join(root, "main.yaml"));
    expect(Object.keys(flat.artifacts)).toEqual(["files", "use__post", "use__inner__found"]);
    expect(flat.artifacts.use__post?.inputs).toEqual(["use__inner__found"]);
    expect(flat.artifacts.use__inner__found?.inputs).toEqual(["files"]);
    expect(flat.aliases).toEqual({ use: "use__post", use__hit: "use__inner__found" });
  });

  it("names the chain of a cycle between runbooks", async () => {
    const base = path.join(FIXTURES, "cycle");
    expect(await issuesOf(path.join(base, "a.yaml"), base)).toEqual([
      "b.yaml:16:7: artifacts.back_to_a.child_runbook.path: circular runbook reference: a.yaml -> b.yaml -> a.yaml",
    ]);
  });

  it("expands the same child twice under two namespaces", async () => {
    const root = await tree("twice", {
      "main.yaml": [
        ...parent(useChild()),
        "  again:",
        "    inputs: files",
        "    child_runbook: {path: child.yaml, input_mapping: {data: files}, output: result}",
      ],
      "child.yaml": child("child"),
    });
    const flat = await flattenFile(path.join(root, "main.yaml"));
    expect(Object.keys(flat.artifacts)).toEqual(["files", "use__found", "again__found"]);
    expect(flat.files).toEqual([path.join(root, "main.yaml"), path.join(root, "child.yaml")]);
  });
});

describe("flattenRunbook warnings", () => {
  it("warns once of a child runbook's config, which is not used, and not of the root's", async () => {
    const [name, description, ...rest] = child("child");
    const root = await tree("child-config", {
      "main.yaml": [
        ...parent(useChild(), ["config: {timeout: 60}"]),
        "  again:",
        "    inputs: files",
        "    child_runbook: {path: child.yaml, input_mapping: {data: files}, output: result}",
      ],
      "child.yaml": [name!, description!, "config:", "  max_concurrency: 1", ...rest],
      "plain.yaml": parent(useChild("quiet.yaml")),
      "quiet.yaml": child("quiet"),
    });
    const flat = await flattenFile(path.join(root, "main.yaml"));
    expect(flat.warnings).toEqual([
      `${path.join(root, "child.yaml")}:3:1: config: a child runbook's config is not used: the root runbook's config (timeout, max_concurrency, template_paths) applies to the whole run`,
    ]);
    expect((await flattenFile(path.join(root, "plain.yaml"))).warnings).toEqual([]);
  });
});

describe("flattenRunbook directive flags", () => {
  it("carries output and optional over to the child's artifacts, and checks output_schema", async () => {
    const root = await tree("flags", {
      "main.yaml": [
        ...parent(useChild()),
        "    output: true",
        "    optional: true",
        "  typed:",
        "    inputs: files",
        "    output_schema: gdpr_personal_data",
        "    child_runbook: {path: child.yaml, input_mapping: {data: files}, output: result}",
      ],
      "child.yaml": child("child"),
    });
    const error = await flattenFile(path.join(root, "main.yaml")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunbookError);
    expect((error as RunbookError).issues.map((i) => i.message)).toEqual([
      "output_schema 'gdpr_personal_data/1.0.0' does not match the child output 'typed__found', which produces 'personal_data_indicator/1.0.0'",
    ]);
    const ok = await tree("flags-ok", {
      "main.yaml": [...parent(useChild()), "    output: true", "    optional: true"],
      "child.yaml": child("child"),
    });
    const flat = await flattenFile(path.join(ok, "main.yaml"));
    expect(flat.artifacts.use__found).toMatchObject({ output: true, optional: true });
    expect(flat.artifacts.files).toMatchObject({ output: false, optional: false });
  });

  it("carries output over to, and checks output_schema against, a child output that is a directive of its own", async () => {
    const inner = [
      "name: mid",
      "description: passes its input on to another child",
      "inputs:",
      "  data: {input_schema: standard_input/1.0.0}",
      "outputs:",
      "  result: {artifact: inner}",
      "artifacts:",
      "  inner:",
      "    inputs: data",
      "    child_runbook: {path: child.yaml, input_mapping: {data: data}, output: result}",
    ];
    const root = await tree("flags-nested", {
      "main.yaml": [...parent(useChild("mid.yaml")), "    output: true"],
      "typed.yaml": [...parent(useChild("mid.yaml")), "    output_schema: standard_input"],
      "mid.yaml": inner,
      "child.yaml": child("child"),
    });
    const flat = await flattenFile(path.join(root, "main.yaml"));
    expect(flat.artifacts.use__inner__found).toMatchObject({ output: true });
    expect(await issuesOf(path.join(root, "typed.yaml"), root)).toEqual([
      "typed.yaml:12:5: artifacts.use.output_schema: output_schema 'standard_input/1.0.0' does not match the child output 'use__inner__found', which produces 'personal_data_indicator/1.0.0'",
    ]);
  });

  it("knows a pass-through's schema from its input, for output_schema and for input mappings", async () => {
    const passOn = [
      "name: pass",
      "description: exposes its input as it is",
      "inputs:",
      "  data: {input_schema: standard_input/1.0.0}",
      "outputs:",
      "  result: {artifact: copy}",
      "artifacts:",
      "  copy: {inputs: data}",
    ];
    const root = await tree("pass-through-schemas", {
      "exposed.yaml": [...parent(useChild("pass.yaml")), "    output_schema: gdpr_personal_data"],
      "mapped.yaml": [
        "name: parent",
        "description: maps a pass-through of indicators",
        "artifacts:",
        "  files: {source: {type: filesystem, properties: {path: ./data}}}",
        "  found: {inputs: files, process: {type: personal_data}}",
        "  same: {inputs: found}",
        "  use:",
        "    inputs: same",
        "    child_runbook: {path: pass.yaml, input_mapping: {data: same}, output: result}",
      ],
      "pass.yaml": passOn,
    });
    expect(await issuesOf(path.join(root, "exposed.yaml"), root)).toEqual([
      "exposed.yaml:12:5: artifacts.use.output_schema: output_schema 'gdpr_personal_data/1.0.0' does not match the child output 'use__copy', which produces 'standard_input/1.0.0'",
    ]);
    expect(await issuesOf(path.join(root, "mapped.yaml"), root)).toEqual([
      "mapped.yaml:9:54: artifacts.use.child_runbook.input_mapping.data: Artifact 'use': parent artifact 'same' produces schema 'personal_data_indicator/1.0.0', but child input 'data' expects 'standard_input/1.0.0'",
    ]);
  });
});

describe("flattenRunbook namespaced ids", () => {
  it("reports an id that namespacing makes too long for a file name, at the child's artifact", async () => {
    const longId = `found_${"x".repeat(190)}`;
    const root = await tree("long-id", {
      "main.yaml": parent([
        "path: child.yaml",
        "input_mapping: {data: files}",
        `output: ${longId}`,
      ]),
      "child.yaml": child("child").map((line) =>
        line.replace("found", longId).replace("result", longId),
      ),
    });
    expect(await issuesOf(path.join(root, "main.yaml"), root)).toEqual([
      `child.yaml:8:3: artifacts.${longId}: the id '${longId}' gets in the parent, 'use__${longId}', is unusable: a '/'-separated part is longer than 200 bytes (in UTF-8)`,
    ]);
  });
});

describe("flattenRunbook child path security", () => {
  it("rejects parent traversal, absolute paths and backslashes", async () => {
    const root = await tree("unsafe", {
      "sub/main.yaml": parent(useChild("../child.yaml")),
      "child.yaml": child("child"),
      "abs.yaml": parent(useChild(`${path.join(scratch, "unsafe/child.yaml")}`)),
    });
    expect(await issuesOf(path.join(root, "sub/main.yaml"), root)).toEqual([
      "sub/main.yaml:9:7: artifacts.use.child_runbook.path: parent directory traversal not allowed: ../child.yaml",
    ]);
    expect(await issuesOf(path.join(root, "abs.yaml"), root)).toEqual([
      `abs.yaml:9:7: artifacts.use.child_runbook.path: absolute path not allowed: ${path.join(root, "child.yaml")}`,
    ]);
    expect(childPathProblem("./ok/../../x.yaml")).toBe(
      "parent directory traversal not allowed: ./ok/../../x.yaml",
    );
    expect(childPathProblem("a\\b.yaml")).toBe(
      "backslash not allowed in child runbook path: a\\b.yaml",
    );
    expect(childPathProblem("C:/x.yaml")).toBe("absolute path not allowed: C:/x.yaml");
    expect(childPathProblem("a..b.yaml")).toBeUndefined();
    expect(childPathProblem("./sub/c.yaml")).toBeUndefined();
  });

  it("rejects a symlink that leaves the folder, and follows one that stays inside", async () => {
    const root = await tree("symlinks", {
      "outside/child.yaml": child("outside"),
      "inside/main.yaml": parent(useChild("escape.yaml")),
      "inside/ok.yaml": parent(useChild("alias.yaml")),
      "inside/real/child.yaml": child("inside"),
    });
    await symlink(path.join(root, "outside/child.yaml"), path.join(root, "inside/escape.yaml"));
    await symlink(path.join(root, "inside/real/child.yaml"), path.join(root, "inside/alias.yaml"));
    const issues = await issuesOf(path.join(root, "inside/main.yaml"), root);
    expect(issues).toEqual([
      `inside/main.yaml:9:7: artifacts.use.child_runbook.path: child runbook 'escape.yaml' resolves to ${path.join(root, "outside/child.yaml")}, outside ${path.join(root, "inside")} (symlinks may not leave the folder)`,
    ]);
    const flat = await flattenFile(path.join(root, "inside/ok.yaml"));
    expect(flat.files).toContain(path.join(root, "inside/real/child.yaml"));
  });

  it("searches beside the runbook first, then template_paths in order, relative to the root runbook", async () => {
    const templates = ["config:", "  template_paths: [first, second, missing]"];
    const root = await tree("templates", {
      "main.yaml": parent(useChild("c.yaml"), templates),
      "second/c.yaml": child("from second"),
      "first/c.yaml": child("from first"),
      "beside/main.yaml": parent(useChild("c.yaml"), templates),
      "beside/c.yaml": child("beside"),
      "beside/first/c.yaml": child("beside's first"),
      "nested/main.yaml": parent(useChild("sub/mid.yaml"), [
        "config:",
        "  template_paths: [../second]",
      ]),
      "nested/sub/mid.yaml": [
        "name: mid",
        "description: names c.yaml, found in the root's template folder",
        "inputs:",
        "  data: {input_schema: standard_input/1.0.0}",
        "outputs:",
        "  result: {artifact: inner}",
        "artifacts:",
        "  inner:",
        "    inputs: data",
        "    child_runbook: {path: c.yaml, input_mapping: {data: data}, output: result}",
      ],
    });
    expect((await flattenFile(path.join(root, "main.yaml"))).files[1]).toBe(
      path.join(root, "first/c.yaml"),
    );
    expect((await flattenFile(path.join(root, "beside/main.yaml"))).files[1]).toBe(
      path.join(root, "beside/c.yaml"),
    );
    const nested = await flattenFile(path.join(root, "nested/main.yaml"));
    expect(nested.files.slice(1)).toEqual([
      path.join(root, "nested/sub/mid.yaml"),
      path.join(root, "second/c.yaml"),
    ]);
    expect(Object.keys(nested.artifacts)).toEqual(["files", "use__inner__found"]);
  });

  it("reports a child runbook that is not found, with the folders searched", async () => {
    const root = await tree("not-found", {
      "main.yaml": parent(useChild("nope.yaml"), ["config: {template_paths: [t]}"]),
    });
    expect(await issuesOf(path.join(root, "main.yaml"), root)).toEqual([
      `main.yaml:10:7: artifacts.use.child_runbook.path: child runbook not found: 'nope.yaml' (searched ${root}, ${path.join(root, "t")})`,
    ]);
  });

  it("reports a child runbook path that names a folder as no file, not as not found", async () => {
    const root = await tree("folder-child", {
      "main.yaml": parent(useChild("lib")),
      "lib/c.yaml": ["name: c"],
    });
    expect(await issuesOf(path.join(root, "main.yaml"), root)).toEqual([
      `main.yaml:9:7: artifacts.use.child_runbook.path: child runbook 'lib' is not a file: ${path.join(root, "lib")} is a folder or a device; name the runbook file`,
    ]);
  });
});

describe("flattenRunbook input and output mapping", () => {
  it("rejects a mapped artifact whose schema differs from the child input's", async () => {
    const root = await tree("schema-mismatch", {
      "main.yaml": parent(["path: c.yaml", "input_mapping: {indicators: files}", "output: out"]),
      "c.yaml": [
        "name: c",
        "description: wants indicators",
        "inputs:",
        "  indicators: {input_schema: personal_data_indicator}",
        "outputs:",
        "  out: {artifact: classified}",
        "artifacts:",
        "  classified: {inputs: indicators, process: {type: gdpr_personal_data_classifier}}",
      ],
    });
    expect(await issuesOf(path.join(root, "main.yaml"), root)).toEqual([
      "main.yaml:10:23: artifacts.use.child_runbook.input_mapping.indicators: Artifact 'use': parent artifact 'files' produces schema 'standard_input/1.0.0', but child input 'indicators' expects 'personal_data_indicator/1.0.0'",
    ]);
  });

  it("uses the parent's explicit output_schema and skips artifacts whose schema is unknown", async () => {
    const root = await tree("schema-explicit", {
      "main.yaml": [
        "name: parent",
        "description: explicit schemas",
        "artifacts:",
        "  files:",
        "    source: {type: filesystem}",
        "    output_schema: standard_input/2.0.0",
        "  unknown:",
        "    source: {type: custom}",
        "  use:",
        "    inputs: files",
        "    child_runbook: {path: c.yaml, input_mapping: {data: files}, output: result}",
        "  use_unknown:",
        "    inputs: unknown",
        "    child_runbook: {path: c.yaml, input_mapping: {data: unknown}, output: result}",
      ],
      "c.yaml": child("c"),
    });
    expect(await issuesOf(path.join(root, "main.yaml"), root)).toEqual([
      "main.yaml:11:51: artifacts.use.child_runbook.input_mapping.data: Artifact 'use': parent artifact 'files' produces schema 'standard_input/2.0.0', but child input 'data' expects 'standard_input/1.0.0'",
    ]);
  });

  it("reports unmapped required inputs, unknown inputs and unknown outputs", async () => {
    const root = await tree("mapping-errors", {
      "main.yaml": parent(["path: c.yaml", "input_mapping: {dta: files}", "output: reslt"]),
      "c.yaml": child("c"),
    });
    expect(await issuesOf(path.join(root, "main.yaml"), root)).toEqual([
      "main.yaml:10:7: artifacts.use.child_runbook.input_mapping: child runbook 'c.yaml' requires input 'data' but it is not mapped",
      "main.yaml:10:23: artifacts.use.child_runbook.input_mapping.dta: child runbook 'c.yaml' has no input 'dta' (did you mean 'data'?)",
      "main.yaml:11:7: artifacts.use.child_runbook.output: output 'reslt' not found in child runbook 'c.yaml' outputs (did you mean 'result'?)",
    ]);
  });

  it("takes names such as 'toString' or 'constructor' for names, not for properties of every object", async () => {
    const root = await tree("object-names", {
      "main.yaml": parent([
        "path: c.yaml",
        "input_mapping: {data: files, toString: files}",
        "output: constructor",
      ]),
      "c.yaml": child("c"),
    });
    expect(await issuesOf(path.join(root, "main.yaml"), root)).toEqual([
      "main.yaml:10:36: artifacts.use.child_runbook.input_mapping.toString: child runbook 'c.yaml' has no input 'toString'",
      "main.yaml:11:7: artifacts.use.child_runbook.output: output 'constructor' not found in child runbook 'c.yaml' outputs",
    ]);
    const unmapped = await tree("object-names-unmapped", {
      "main.yaml": parent(["path: c.yaml", "input_mapping: {}", "output: result"]),
      "c.yaml": child("c").map((line) =>
        line
          .replace("  data: {", "  constructor: {")
          .replace("inputs: data", "inputs: constructor"),
      ),
    });
    expect(await issuesOf(path.join(unmapped, "main.yaml"), unmapped)).toEqual([
      "main.yaml:10:7: artifacts.use.child_runbook.input_mapping: child runbook 'c.yaml' requires input 'constructor' but it is not mapped",
    ]);
  });

  it("reports a mapping to an artifact that does not exist", async () => {
    const root = await tree("mapping-missing", {
      "main.yaml": parent(["path: c.yaml", "input_mapping: {data: nothing}", "output: result"]),
      "c.yaml": child("c"),
    });
    expect(await issuesOf(path.join(root, "main.yaml"), root)).toEqual([
      "main.yaml:10:23: artifacts.use.child_runbook.input_mapping.data: input 'data' is mapped to 'nothing', which is not an artifact",
    ]);
  });

  it("reports a directive's inputs that name no artifact, in a child's directive too", async () => {
    const directive = (inputs: string) => [
      "name: parent",
      "description: a typo in a directive's inputs",
      "artifacts:",
      "  files: {source: {type: filesystem, properties: {path: ./data}}}",
      "  use:",
      `    inputs: ${inputs}`,
      "    child_runbook: {path: c.yaml, input_mapping: {data: files}, output: result}",
    ];
    const root = await tree("directive-inputs", {
      "main.yaml": directive("[files, filez]"),
      "alias.yaml": [
        ...directive("files"),
        "  again:",
        "    inputs: use",
        ...directive("x").slice(6),
      ],
      "mid.yaml": [
        "name: mid",
        "description: a directive of a child",
        "inputs:",
        "  data: {input_schema: standard_input/1.0.0}",
        "outputs:",
        "  result: {artifact: inner}",
        "artifacts:",
        "  inner:",
        "    inputs: dta",
        "    child_runbook: {path: c.yaml, input_mapping: {data: data}, output: result}",
      ],
      "nested.yaml": parent(useChild("mid.yaml")),
      "c.yaml": child("c"),
    });
    expect(await issuesOf(path.join(root, "main.yaml"), root)).toEqual([
      "main.yaml:6:21: artifacts.use.inputs: references artifact 'filez', which does not exist (did you mean 'files'?)",
    ]);
    expect(await issuesOf(path.join(root, "nested.yaml"), root)).toEqual([
      "mid.yaml:9:5: artifacts.inner.inputs: references artifact 'dta', which does not exist (did you mean 'data'?)",
    ]);
    // An artifact or an alias (another directive's output) is fine.
    const flat = await flattenFile(path.join(root, "alias.yaml"));
    expect(Object.keys(flat.artifacts)).toEqual(["files", "use__found", "again__found"]);
  });

  it("drops an unmapped optional input from its consumers", async () => {
    const root = await tree("optional", {
      "main.yaml": parent(useChild()),
      "child.yaml": [
        "name: child",
        "description: has an optional input",
        "inputs:",
        "  data: {input_schema: standard_input/1.0.0}",
        "  hints: {input_schema: standard_input/1.0.0, optional: true}",
        "outputs:",
        "  result: {artifact: both}",
        "artifacts:",
        "  both:",
        "    inputs: [data, hints]",
      ],
      "main-only.yaml": parent(["path: only.yaml", "input_mapping: {}", "output: result"]),
      "only.yaml": [
        "name: child",
        "description: only consumes the optional input",
        "inputs:",
        "  hints: {input_schema: standard_input/1.0.0, optional: true}",
        "outputs:",
        "  result: {artifact: lonely}",
        "artifacts:",
        "  lonely:",
        "    inputs: hints",
      ],
    });
    const flat = await flattenFile(path.join(root, "main.yaml"));
    expect(flat.artifacts.use__both?.inputs).toEqual(["files"]);
    expect(await issuesOf(path.join(root, "main-only.yaml"), root)).toEqual([
      "only.yaml:9:5: artifacts.lonely.inputs: all inputs of 'lonely' are optional child inputs that are not mapped, so it has no input",
    ]);
  });

  it("reports id collisions between artifacts and aliases", async () => {
    const root = await tree("collisions", {
      "main.yaml": [
        ...parent([
          "path: c.yaml",
          "input_mapping: {data: files}",
          "output_mapping: {result: files}",
        ]),
        "  use__found:",
        "    inputs: files",
      ],
      "c.yaml": child("c"),
    });
    expect(await issuesOf(path.join(root, "main.yaml"), root)).toEqual([
      "main.yaml:11:24: artifacts.use.child_runbook.output_mapping.result: alias 'files' has the same name as an artifact",
      "main.yaml:12:3: artifacts.use__found: artifact id 'use__found' is already used by another artifact",
    ]);
  });

  it("reports ids whose artifact files clash: 'a' is kept in a.json, which 'a.json/b' needs as a folder", async () => {
    const source = "source: {type: filesystem, properties: {path: ./data}}";
    const root = await tree("file-folder-clash", {
      "main.yaml": [
        "name: clash",
        "description: ids the store cannot keep side by side",
        "artifacts:",
        `  a: {${source}}`,
        `  a.json/b: {${source}}`,
        `  x/y.json/z: {${source}}`,
        `  x/y: {${source}}`,
        // Neither is in the other's way: p.json.json and the folder p.json.
        `  p.json: {${source}}`,
        `  p.json/c: {${source}}`,
      ],
    });
    expect(await issuesOf(path.join(root, "main.yaml"), root)).toEqual([
      "main.yaml:5:3: artifacts.a.json/b: artifact id 'a.json/b' cannot be stored beside 'a': the store keeps 'a' in the file 'a.json', where 'a.json/b' needs a folder of that name",
      "main.yaml:7:3: artifacts.x/y: artifact id 'x/y' cannot be stored beside 'x/y.json/z': the store keeps 'x/y' in the file 'x/y.json', where 'x/y.json/z' needs a folder of that name",
    ]);
  });

  it("reports a child runbook's own problems at their place in the child file, once", async () => {
    const root = await tree("child-invalid", {
      // The child is used twice: its problem is still one problem.
      "main.yaml": [
        ...parent(useChild()),
        "  again:",
        "    inputs: files",
        "    child_runbook: {path: child.yaml, input_mapping: {data: files}, output: result}",
      ],
      "child.yaml": [...child("child"), "    ouput: true"],
    });
    expect(await issuesOf(path.join(root, "main.yaml"), root)).toEqual([
      "child.yaml:11:5: artifacts.found.ouput: unknown field 'ouput' (did you mean 'output'?)",
    ]);
  });

  it("substitutes the environment in child runbooks and collects their substitutions", async () => {
    const root = await tree("child-env", {
      "main.yaml": parent(useChild("${CHILD_FILE}")),
      "child.yaml": [
        "name: child",
        "description: has a secret",
        "inputs:",
        "  data: {input_schema: standard_input/1.0.0}",
        "outputs:",
        "  result: {artifact: found}",
        "artifacts:",
        "  found:",
        "    inputs: data",
        "    process: {type: personal_data, properties: {token: '${TOKEN}'}}",
      ],
    });
    const env = { CHILD_FILE: "child.yaml", TOKEN: "t0ken" };
    const flat = await flattenFile(path.join(root, "main.yaml"), env);
    expect(flat.artifacts.use__found?.process?.properties).toEqual({ token: "t0ken" });
    expect(flat.substitutions).toEqual([
      { name: "CHILD_FILE", value: "child.yaml" },
      { name: "TOKEN", value: "t0ken" },
    ]);
  });
});
