// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these tests are about ${VAR} placeholders
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatIssue, InputError, RunbookError } from "../errors.js";
import { loadRunbook } from "./parse.js";

const FIXTURES = path.resolve(import.meta.dirname, "../../test/fixtures/runbooks");
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "wct-parse-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(text: string, name = "runbook.yaml"): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, text);
  return file;
}

/** The `file:line:column: path: message` lines of the RunbookError the text causes. */
async function issuesOf(
  lines: string[],
  env: Record<string, string | undefined> = {},
): Promise<string[]> {
  const file = await write(`${lines.join("\n")}\n`);
  const error = await loadRunbook(file, env).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof RunbookError)) throw new Error(`expected a RunbookError, got ${error}`);
  return error.issues.map((issue) =>
    formatIssue({ ...issue, position: { ...issue.position, file: "runbook.yaml" } }),
  );
}

const HEADER = ["name: test", "description: a test runbook"];
const SOURCE = ["  files:", "    source:", "      type: filesystem"];

describe("loadRunbook on a valid runbook", () => {
  it("reads an upstream-style runbook with defaults, normalised inputs and positions", async () => {
    const file = path.join(FIXTURES, "personal-data-scan.yaml");
    const loaded = await loadRunbook(file, {});
    const { runbook } = loaded;
    expect(loaded.path).toBe(file);
    expect(loaded.text).toBe(await readFile(file, "utf8"));
    expect(runbook.name).toBe("Personal data scan");
    expect(runbook.framework).toBe("GDPR");
    expect(runbook.contact).toBe("Privacy Team <privacy@example.com>");
    expect(runbook.config).toEqual({ timeout: 120, max_concurrency: 4, template_paths: [] });
    expect(Object.keys(runbook.artifacts)).toEqual([
      "documents",
      "personal_data_findings",
      "gdpr_classification",
    ]);
    expect(runbook.artifacts.documents).toEqual({
      name: "Documents",
      description: "Text files of the sample folder",
      source: {
        type: "filesystem",
        properties: {
          path: "./sample-data",
          exclude_patterns: ["*.pyc", "__pycache__"],
          max_files: 50,
        },
      },
      output: false,
      optional: false,
      merge: "concatenate",
      position: { file, line: 12, column: 3 },
      placeholders: { "source.properties.path": "${DOCS_PATH:-./sample-data}" },
    });
    expect(runbook.artifacts.personal_data_findings?.inputs).toEqual(["documents"]);
    expect(runbook.artifacts.personal_data_findings?.output).toBe(true);
    expect(runbook.artifacts.gdpr_classification).toMatchObject({
      inputs: ["personal_data_findings"],
      process: { type: "gdpr_personal_data_classifier", properties: {} },
      output_schema: "gdpr_personal_data/1.0.0",
    });
    expect(loaded.substitutions).toEqual([]);
  });

  it("resolves field paths to positions, falling back to the nearest ancestor", async () => {
    const file = path.join(FIXTURES, "personal-data-scan.yaml");
    const loaded = await loadRunbook(file, {});
    expect(loaded.positionOf("artifacts.personal_data_findings.inputs")).toEqual({
      file,
      line: 24,
      column: 5,
    });
    expect(loaded.positionOf("artifacts.gdpr_classification.inputs.0")).toEqual({
      file,
      line: 37,
      column: 9,
    });
    expect(loaded.positionOf("artifacts.documents.source.properties.max_files")).toEqual({
      file,
      line: 20,
      column: 9,
    });
    expect(loaded.positionOf("artifacts.documents.no_such_field")).toEqual({
      file,
      line: 12,
      column: 3,
    });
  });

  it("applies config defaults and accepts upstream's declared-only keys", async () => {
    const file = await write(
      [
        ...HEADER,
        "config:",
        "  max_child_depth: 3",
        "  cost_limit: 1.5",
        "artifacts:",
        ...SOURCE,
        "    execute:",
        "      mode: child",
        "",
      ].join("\n"),
    );
    const { runbook } = await loadRunbook(file, {});
    expect(runbook.config).toEqual({ timeout: 300, max_concurrency: 10, template_paths: [] });
    expect(runbook.artifacts.files).not.toHaveProperty("execute");
    expect(runbook.artifacts.files?.source?.properties).toEqual({});
  });

  it("reads child runbook declarations", async () => {
    const loaded = await loadRunbook(path.join(FIXTURES, "composition/children/analyse.yaml"), {});
    expect(loaded.runbook.inputs).toEqual({
      source_data: {
        input_schema: "standard_input/1.0.0",
        optional: false,
        sensitive: false,
        description: "The text to analyse",
      },
      hints: { input_schema: "standard_input", optional: true, sensitive: false },
    });
    expect(loaded.runbook.outputs).toEqual({
      findings: { artifact: "personal", description: "Personal data indicators" },
    });
    const main = await loadRunbook(path.join(FIXTURES, "composition/main.yaml"), {});
    expect(main.runbook.config.template_paths).toEqual(["templates"]);
    expect(main.runbook.artifacts.classification?.child_runbook).toEqual({
      path: "shared-classify.yaml",
      input_mapping: { indicators: "analysis" },
      output_mapping: { classified: "classified_findings" },
    });
  });

  it("expands YAML anchors and << merge keys", async () => {
    const file = await write(
      [
        ...HEADER,
        "artifacts:",
        "  a:",
        "    source: &fs",
        "      type: filesystem",
        "      properties: {path: ./x}",
        "  b:",
        "    source:",
        "      <<: *fs",
        "      properties: {path: ./y}",
        "",
      ].join("\n"),
    );
    const { runbook } = await loadRunbook(file, {});
    expect(runbook.artifacts.b?.source).toEqual({
      type: "filesystem",
      properties: { path: "./y" },
    });
  });
});

describe("loadRunbook on unreadable files", () => {
  it("reports a missing file", async () => {
    const missing = path.join(dir, "nope.yaml");
    await expect(loadRunbook(missing, {})).rejects.toThrow(
      new InputError(`Runbook file not found: ${missing}`),
    );
  });

  it("reports a directory", async () => {
    const folder = path.join(dir, "folder.yaml");
    await mkdir(folder, { recursive: true });
    const error = await loadRunbook(folder, {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect(error).not.toBeInstanceOf(RunbookError);
    expect((error as Error).message).toBe(`Runbook path is a directory, not a file: ${folder}`);
  });

  it("refuses a FIFO or a device at once instead of waiting for a writer", async () => {
    const fifo = path.join(dir, "fifo.yaml");
    execFileSync("mkfifo", [fifo]);
    for (const file of [fifo, "/dev/zero"]) {
      const error = await loadRunbook(file, {}).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InputError);
      expect((error as Error).message).toBe(
        `Runbook path is not a regular file (a pipe or a device): ${file}`,
      );
    }
  });

  it("refuses an unknown YAML tag, as upstream's safe loader does, instead of reading its text", async () => {
    expect(await issuesOf([...HEADER.slice(0, 1), "description: !foo y", "artifacts: {}"])).toEqual(
      ["runbook.yaml:2:14: invalid YAML: Unresolved tag: !foo"],
    );
  });

  it("reports invalid YAML at its position", async () => {
    expect(await issuesOf([...HEADER, "artifacts:", "  a: [1, 2"])).toEqual([
      "runbook.yaml:5:1: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]",
    ]);
  });

  it("shows the first YAML syntax error only, with a hint for a placeholder in a flow mapping", async () => {
    expect(await issuesOf([...HEADER, "config: {timeout: ${TMO:-30}}", "artifacts: {}"])).toEqual([
      expect.stringMatching(
        /^runbook\.yaml:3:20: invalid YAML: .* \(and \d+ more after it\); inside \{ \} or \[ \], put a \$\{VAR\} placeholder in quotes/,
      ),
    ]);
    expect(await issuesOf([...HEADER, "artifacts: {}", "---", "name: other"])).toEqual([
      "runbook.yaml:4:1: invalid YAML: the file holds more than one YAML document (a '---' or '...' line); a runbook is one",
    ]);
  });

  it("refuses a file that is not UTF-8, at the first bad byte", async () => {
    // A real U+FFFD and multi-byte letters before it do not move the position.
    const text =
      "name: 'x \uFFFD é'\ndescription: d\nartifacts:\n  a: {source: {type: filesystem, properties: {path: 'caf";
    const file = path.join(dir, "latin1.yaml");
    await writeFile(
      file,
      Buffer.concat([Buffer.from(text), Buffer.from([0xe9, 0x27, 0x7d, 0x7d, 0x7d, 0x0a])]),
    );
    const error = await loadRunbook(file, {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunbookError);
    expect((error as RunbookError).issues.map(formatIssue)).toEqual([
      `${file}:4:57: not valid UTF-8 (runbooks are UTF-8 text; re-save it as UTF-8)`,
    ]);
  });

  it("refuses nested aliases that expand beyond what the text could hold", async () => {
    // Ten times ten times ... : a few hundred bytes standing for ten million values.
    const layers = ["        l0: &l0 [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i <= 6; i++) {
      const refs = Array.from({ length: 10 }, () => `*l${i - 1}`);
      layers.push(`        l${i}: &l${i} [${refs.join(", ")}]`);
    }
    const lines = [...HEADER, "artifacts:", ...SOURCE, "      properties:", "        path: d"];
    const issues = await issuesOf([...lines, ...layers]);
    expect(issues).toEqual([
      expect.stringMatching(/expands to more than \d+ values \(YAML aliases/),
    ]);
  });

  it("reads a runbook of 15,000 artifacts, which has no aliases to expand", async () => {
    const artifacts = Array.from(
      { length: 15_000 },
      (_, i) => `  a${i}: {source: {type: filesystem, properties: {path: data}}}`,
    );
    const file = await write(`${[...HEADER, "artifacts:", ...artifacts].join("\n")}\n`, "big.yaml");
    expect(Object.keys((await loadRunbook(file, {})).runbook.artifacts)).toHaveLength(15_000);
  });

  it("reports an empty file", async () => {
    expect(await issuesOf([""])).toEqual([
      "runbook.yaml: expected the runbook to be a mapping, got nothing",
    ]);
  });
});

describe("loadRunbook validation", () => {
  it("reports duplicate keys with the line of the first one, anywhere", async () => {
    expect(
      await issuesOf([
        ...HEADER,
        "name: again",
        "artifacts:",
        ...SOURCE,
        "      properties:",
        "        path: a",
        "        path: b",
      ]),
    ).toEqual([
      "runbook.yaml:3:1: name: duplicate key 'name' (first defined at line 1)",
      "runbook.yaml:10:9: artifacts.files.source.properties.path: duplicate key 'path' (first defined at line 9)",
    ]);
  });

  it("reports duplicate keys under a key it does not know", async () => {
    expect(
      await issuesOf([
        ...HEADER,
        "extra:",
        "  colour: 1",
        "  colour: 2",
        "  flow: { size: 1, size: 2 }",
        "artifacts: {}",
      ]),
    ).toEqual([
      "runbook.yaml:3:1: extra: unknown field 'extra'",
      "runbook.yaml:5:3: duplicate key 'colour'",
      "runbook.yaml:6:20: duplicate key 'size'",
    ]);
  });

  it("reports unknown keys at every level, with a suggestion when one is close", async () => {
    expect(
      await issuesOf([
        ...HEADER,
        "config:",
        "  timout: 10",
        "artifact: {}",
        "artifacts:",
        ...SOURCE,
        "      propertes: {}",
        "    zzz: 1",
        "  derived:",
        "    inptus: files",
        "    inputs: files",
        "    child_runbook:",
        "      path: child.yaml",
        "      input_map: {}",
        "      input_mapping: {}",
        "      output: out",
        "  old:",
        "    reuse: {from_run: r1, artifact: a, form_run: r2}",
      ]),
    ).toEqual([
      "runbook.yaml:4:3: config.timout: unknown field 'timout' (did you mean 'timeout'?)",
      "runbook.yaml:5:1: artifact: unknown field 'artifact' (did you mean 'artifacts'?)",
      "runbook.yaml:10:7: artifacts.files.source.propertes: unknown field 'propertes' (did you mean 'properties'?)",
      "runbook.yaml:11:5: artifacts.files.zzz: unknown field 'zzz'",
      "runbook.yaml:13:5: artifacts.derived.inptus: unknown field 'inptus' (did you mean 'inputs'?)",
      "runbook.yaml:17:7: artifacts.derived.child_runbook.input_map: unknown field 'input_map' (did you mean 'input_mapping'?)",
      "runbook.yaml:21:40: artifacts.old.reuse.form_run: unknown field 'form_run' (did you mean 'from_run'?)",
    ]);
  });

  it("accepts any key inside properties", async () => {
    const file = await write(
      [...HEADER, "artifacts:", ...SOURCE, "      properties: {anything: 1, 2: two}", ""].join(
        "\n",
      ),
    );
    const { runbook } = await loadRunbook(file, {});
    expect(runbook.artifacts.files?.source?.properties).toEqual({ anything: 1, "2": "two" });
  });

  it("names the expected type of a wrong value, at the value", async () => {
    expect(
      await issuesOf([
        "name: 42",
        "description: [a]",
        "config:",
        "  timeout: -1",
        "  max_concurrency: 2.5",
        "  template_paths: templates",
        "artifacts:",
        ...SOURCE,
        "      properties: [1]",
        "    output: 'yes'",
        "  derived:",
        "    inputs: {a: 1}",
        "    optional: 1",
        "    output_schema: personal_data/1.0",
        "    merge: union",
      ]),
    ).toEqual([
      "runbook.yaml:1:7: name: expected a string, got a number (42)",
      "runbook.yaml:2:14: description: expected a string, got a list",
      "runbook.yaml:4:12: config.timeout: expected a positive integer, got a number (-1)",
      "runbook.yaml:5:20: config.max_concurrency: expected a positive integer, got a number (2.5)",
      "runbook.yaml:6:19: config.template_paths: expected a list of strings, got a string ('templates')",
      "runbook.yaml:11:19: artifacts.files.source.properties: expected a mapping, got a list",
      "runbook.yaml:12:13: artifacts.files.output: expected a boolean (true or false), got a string ('yes')",
      "runbook.yaml:14:13: artifacts.derived.inputs: expected an artifact id or a list of artifact ids, got a mapping",
      "runbook.yaml:15:15: artifacts.derived.optional: expected a boolean (true or false), got a number (1)",
      "runbook.yaml:16:20: artifacts.derived.output_schema: invalid schema reference 'personal_data/1.0' (expected 'name' or 'name/x.y.z')",
      "runbook.yaml:17:12: artifacts.derived.merge: unsupported merge 'union' (only 'concatenate' is supported)",
    ]);
  });

  it("reports an input listed twice, at the second mention", async () => {
    expect(
      await issuesOf([...HEADER, "artifacts:", ...SOURCE, "  b:", "    inputs: [files, files]"]),
    ).toEqual(["runbook.yaml:8:21: artifacts.b.inputs.1: 'files' is listed twice"]);
  });

  it("reports a collection of the wrong kind and an empty inputs list", async () => {
    expect(
      await issuesOf([...HEADER, "artifacts:", "  a:", "    inputs: []", "  b: just text"]),
    ).toEqual([
      "runbook.yaml:5:13: artifacts.a.inputs: expected at least one artifact id",
      "runbook.yaml:6:6: artifacts.b: expected an artifact to be a mapping, got a string ('just text')",
    ]);
    expect(await issuesOf([...HEADER, "artifacts: [a, b]"])).toEqual([
      "runbook.yaml:3:12: artifacts: expected 'artifacts' to be a mapping, got a list",
    ]);
  });

  it("reports a missing field at the key of the mapping that lacks it", async () => {
    expect(
      await issuesOf([
        "# no name",
        "description: x",
        "artifacts:",
        "  files:",
        "    source:",
        "      properties: {}",
        "  old:",
        "    reuse: {artifact: a}",
      ]),
    ).toEqual([
      "runbook.yaml:2:1: name: missing required field 'name'",
      "runbook.yaml:5:5: artifacts.files.source.type: missing required field 'type'",
      "runbook.yaml:8:5: artifacts.old.reuse.from_run: missing required field 'from_run'",
    ]);
  });

  it("enforces the source / inputs / reuse and child_runbook rules", async () => {
    expect(
      await issuesOf([
        ...HEADER,
        "artifacts:",
        "  both:",
        "    source: {type: filesystem}",
        "    inputs: x",
        "  none:",
        "    process: {type: personal_data}",
        "  reused:",
        "    reuse: {from_run: r, artifact: a}",
        "    source: {type: filesystem}",
        "  child:",
        "    reuse: {from_run: r, artifact: a}",
        "    child_runbook:",
        "      path: c.yaml",
        "      input_mapping: {}",
        "  child2:",
        "    inputs: x",
        "    process: {type: personal_data}",
        "    child_runbook:",
        "      path: c.yaml",
        "      input_mapping: {}",
        "      output: a",
        "      output_mapping: {b: c}",
        "  scanned_source:",
        "    source: {type: filesystem}",
        "    process: {type: personal_data}",
        "  scanned_copy:",
        "    reuse: {from_run: r, artifact: a}",
        "    process: {type: personal_data}",
      ]),
    ).toEqual([
      "runbook.yaml:4:3: artifacts.both: Artifact cannot have both 'source' and 'inputs' - they are mutually exclusive",
      "runbook.yaml:7:3: artifacts.none: Artifact must have 'source', 'inputs', or 'reuse' defined",
      "runbook.yaml:9:3: artifacts.reused: Artifact cannot have both 'reuse' and 'source' - they are mutually exclusive",
      "runbook.yaml:12:3: artifacts.child: 'child_runbook' requires 'inputs'",
      "runbook.yaml:14:5: artifacts.child.child_runbook: Either 'output' or 'output_mapping' required",
      "runbook.yaml:17:3: artifacts.child2: Cannot combine 'child_runbook' with 'process'",
      "runbook.yaml:20:5: artifacts.child2.child_runbook: Cannot specify both 'output' and 'output_mapping'",
      "runbook.yaml:25:3: artifacts.scanned_source: Artifact cannot have both 'source' and 'process': a source artifact only extracts, its 'process' would never run; process it in an artifact of its own ('inputs: scanned_source')",
      "runbook.yaml:28:3: artifacts.scanned_copy: Artifact cannot have both 'reuse' and 'process': a reused artifact is a copy, its 'process' would never run; process it in an artifact of its own ('inputs: scanned_copy')",
    ]);
  });

  it("checks inputs and outputs declarations", async () => {
    expect(
      await issuesOf([
        ...HEADER,
        "inputs:",
        "  data:",
        "    input_schema: standard_input/1.0.0",
        "    default: []",
        "  personal:",
        "    input_schema: standard_input",
        "outputs:",
        "  result:",
        "    artifact: persnal",
        "artifacts:",
        ...SOURCE,
        "  personal:",
        "    inputs: data",
      ]),
    ).toEqual([
      "runbook.yaml:6:5: inputs.data.default: 'default' requires 'optional: true'",
      "runbook.yaml:7:3: inputs.personal: input 'personal' has the same name as an artifact",
      "runbook.yaml:11:15: outputs.result.artifact: output 'result' references non-existent artifact 'persnal' (did you mean 'personal'?)",
      "runbook.yaml:14:5: artifacts.files.source: a runbook with inputs cannot have source artifacts (found 'source' in 'files')",
    ]);
  });

  it("rejects artifact ids that cannot be file names", async () => {
    expect(
      await issuesOf([
        ...HEADER,
        "artifacts:",
        "  'has space': {inputs: x}",
        "  ../escape: {inputs: x}",
        "  /abs: {inputs: x}",
        "  'back\\slash': {inputs: x}",
        "  'a//b': {inputs: x}",
        "  'c:drive': {inputs: x}",
        "  nested/ok: {inputs: x}",
        "  'db:customers': {inputs: x}",
        `  ${"é".repeat(101)}: {inputs: x}`,
        `  ${"é".repeat(100)}: {inputs: x}`,
      ]),
    ).toEqual([
      "runbook.yaml:4:3: artifacts.has space: invalid artifact id 'has space': it contains whitespace",
      "runbook.yaml:5:3: artifacts.../escape: invalid artifact id '../escape': it contains '..'",
      "runbook.yaml:6:3: artifacts./abs: invalid artifact id '/abs': absolute paths are not allowed",
      "runbook.yaml:7:3: artifacts.back\\slash: invalid artifact id 'back\\slash': backslashes are not allowed",
      "runbook.yaml:8:3: artifacts.a//b: invalid artifact id 'a//b': empty or '.' path segments are not allowed",
      "runbook.yaml:9:3: artifacts.c:drive: invalid artifact id 'c:drive': a letter and ':' at the start reads as a Windows drive (an absolute path)",
      // 202 bytes of UTF-8 in 101 characters: too long a file name.
      `runbook.yaml:12:3: artifacts.${"é".repeat(101)}: invalid artifact id '${"é".repeat(101)}': a '/'-separated part is longer than 200 bytes (in UTF-8)`,
    ]);
  });
});

describe("loadRunbook environment substitution", () => {
  const runbook = [
    ...HEADER,
    "config:",
    "  timeout: ${TIMEOUT}",
    "artifacts:",
    "  db:",
    "    source:",
    "      type: mysql",
    "      properties:",
    "        url: mysql://${DB_USER}:${DB_PASSWORD}@${DB_HOST:-localhost}/${DB_USER}",
    "        ${NOT_A_KEY}: kept",
    "        port: 3306",
    "    output: ${EXPORT}",
    "",
  ].join("\n");

  it("substitutes partial and multiple placeholders in values, not keys, and records them", async () => {
    const file = await write(runbook);
    const loaded = await loadRunbook(file, {
      TIMEOUT: "60",
      DB_USER: "admin",
      DB_PASSWORD: "s3cret",
      EXPORT: "true",
    });
    expect(loaded.runbook.config.timeout).toBe(60);
    expect(loaded.runbook.artifacts.db?.output).toBe(true);
    expect(loaded.runbook.artifacts.db?.source?.properties).toEqual({
      url: "mysql://admin:s3cret@localhost/admin",
      "${NOT_A_KEY}": "kept",
      port: 3306,
    });
    expect(loaded.substitutions).toEqual([
      { name: "TIMEOUT", value: "60" },
      { name: "EXPORT", value: "true" },
      { name: "DB_USER", value: "admin" },
      { name: "DB_PASSWORD", value: "s3cret" },
    ]);
    expect(loaded.text).toBe(runbook);
  });

  it("reports every unset variable without a default at its value", async () => {
    const file = await write(runbook);
    const error = await loadRunbook(file, { DB_USER: "admin" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunbookError);
    expect(
      (error as RunbookError).issues.map((issue) =>
        formatIssue({ ...issue, position: { ...issue.position, file: "runbook.yaml" } }),
      ),
    ).toEqual([
      "runbook.yaml:4:12: config.timeout: environment variable 'TIMEOUT' is not set",
      "runbook.yaml:10:14: artifacts.db.source.properties.url: environment variable 'DB_PASSWORD' is not set",
      "runbook.yaml:13:13: artifacts.db.output: environment variable 'EXPORT' is not set",
    ]);
    expect((error as RunbookError).message).toContain(`${file}:4:12: config.timeout`);
  });

  it("rejects a substituted value of the wrong type", async () => {
    expect(
      await issuesOf([...HEADER, "config:", "  timeout: ${TIMEOUT}", "artifacts: {}"], {
        TIMEOUT: "soon",
      }),
    ).toEqual([
      "runbook.yaml:4:12: config.timeout: expected a positive integer, got a string ('${TIMEOUT}')",
    ]);
  });
});
