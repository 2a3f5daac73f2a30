/**
 * @module Runbook loading: YAML with positions, `${VAR}` substitution, and structural validation
 * that reports every problem at once with `file:line:column` (ARCHITECTURE §2). Unlike upstream,
 * unknown keys are errors, never silently ignored.
 */
import { isUtf8 } from "node:buffer";
import { stat } from "node:fs/promises";
import path from "node:path";
import {
  type Alias,
  isAlias,
  isMap,
  isNode,
  isScalar,
  isSeq,
  LineCounter,
  type Pair,
  parseDocument,
  type Scalar,
  visit,
  type YAMLError,
  type YAMLMap,
} from "yaml";
import {
  InputError,
  InvalidKeyError,
  type Issue,
  RunbookError,
  type SourcePosition,
} from "../errors.js";
import { readRegularFile } from "../regular-file.js";
import { validateArtifactKey } from "../stores/keys.js";
import { closestMatch } from "../suggest.js";
import { hasPlaceholder, redactIssues, substituteString } from "./env.js";
import {
  type ArtifactDefinition,
  type ChildRunbookSpec,
  type ComponentSpec,
  emptyRecord,
  type LoadedRunbook,
  type ReuseSpec,
  type Runbook,
  type RunbookConfig,
  type RunbookInputDeclaration,
  type RunbookOutputDeclaration,
  type Substitution,
} from "./model.js";
import { parseSimpleYaml } from "./simple-yaml.js";

/** The keys each level of the format accepts; also the source of "did you mean" suggestions. */
export const RUNBOOK_KEYS = {
  runbook: [
    "name",
    "description",
    "contact",
    "framework",
    "config",
    "inputs",
    "outputs",
    "artifacts",
  ],
  // max_child_depth and cost_limit are declared (but never enforced) upstream: accepted so that
  // upstream runbooks load, and ignored.
  config: ["timeout", "max_concurrency", "template_paths", "max_child_depth", "cost_limit"],
  input: ["input_schema", "optional", "default", "sensitive", "description"],
  output: ["artifact", "description"],
  artifact: [
    "name",
    "description",
    "contact",
    "source",
    "inputs",
    "process",
    "reuse",
    "child_runbook",
    "output_schema",
    "output",
    "optional",
    "merge",
    "execute",
  ],
  component: ["type", "properties"],
  reuse: ["from_run", "artifact"],
  child_runbook: ["path", "input_mapping", "output", "output_mapping"],
  // Upstream's "Phase 2" child execution mode: declared there, unused; accepted and ignored here.
  execute: ["mode", "timeout", "cost_limit"],
} as const;

const DEFAULT_CONFIG: RunbookConfig = { timeout: 300, max_concurrency: 10, template_paths: [] };
const SCHEMA_REF = /^[^/\s]+(\/\d+\.\d+\.\d+)?$/;

/**
 * Most values (mapping entries and nodes) a runbook may expand to beyond one per character of its
 * text. YAML aliases repeat what they refer to, so a 1 KB file of nested aliases can stand for
 * billions of values; without aliases every value takes at least one character of the text.
 */
export const MAX_RUNBOOK_VALUES = 100_000;

/**
 * Longest '/'-separated part of an artifact id: the store names a file after it, which must fit
 * NAME_MAX (255) with `.json` and a temporary-file suffix added.
 */
export const MAX_ARTIFACT_ID_SEGMENT = 200;

/**
 * Reads, substitutes and validates a runbook file. Throws `InputError` when the file cannot be
 * read and one `RunbookError` carrying every issue found when its content is invalid.
 */
export async function loadRunbook(
  file: string,
  env: Record<string, string | undefined> = process.env,
): Promise<LoadedRunbook> {
  const absolute = path.resolve(file);
  const text = await readRunbookText(absolute);
  const { root, errors, lineCounter, duplicateKeys } = parseYaml(text);
  const reader = new RunbookReader(absolute, text, root, lineCounter, env, duplicateKeys);
  if (errors.length > 0) {
    // The first syntax error is the mistake; the parser's later ones mostly follow from it.
    const first = errors[0]!;
    throw new RunbookError([
      {
        path: "",
        message: `invalid YAML: ${yamlProblem(first, text, errors.length - 1)}`,
        position: reader.positionAt(first.pos[0]),
      },
    ]);
  }
  const runbook = reader.readRunbook();
  reader.reportUnreachedDuplicates();
  if (reader.issues.length > 0 || !runbook) {
    // Messages quote values, and values may hold what the environment put there.
    throw new RunbookError(redactIssues(reader.issues, reader.substitutions));
  }
  return {
    runbook,
    path: absolute,
    text,
    substitutions: reader.substitutions,
    placeholders: reader.placeholders,
    positionOf: (fieldPath) => reader.positionOf(fieldPath),
    has: (fieldPath) => reader.has(fieldPath),
  };
}

/**
 * The YAML node tree of a runbook's text: from `simple-yaml.ts` when the text keeps to the plain
 * YAML it reads (most runbooks), else from the library, which reads all of YAML.
 */
function parseYaml(text: string): {
  root: unknown;
  errors: YAMLError[];
  lineCounter: LineCounter;
  /** Found while parsing (by the simple reader), else undefined: the reader looks for them. */
  duplicateKeys?: Scalar[];
} {
  const simple = parseSimpleYaml(text);
  if (simple) {
    const { contents, lineCounter, duplicateKeys } = simple;
    return { root: contents, errors: [], lineCounter, duplicateKeys };
  }
  const lineCounter = new LineCounter();
  // Duplicate keys are found by the reader, in one pass: the library's check is quadratic in the
  // size of each mapping.
  const doc = parseDocument(text, { lineCounter, uniqueKeys: false, merge: true });
  // An unknown tag (`!foo y`) is read as its text; PyYAML's safe loader, and so upstream, refuses it.
  const unknownTags = doc.warnings.filter((warning) => warning.code === "TAG_RESOLVE_FAILED");
  return { root: doc.contents, errors: [...doc.errors, ...unknownTags], lineCounter };
}

/**
 * The library's message for a syntax error, in the words of a runbook's author; `later` errors
 * the parser found after it are counted, not shown.
 */
function yamlProblem(error: YAMLError, text: string, later: number): string {
  if (error.code === "MULTIPLE_DOCS") {
    return "the file holds more than one YAML document (a '---' or '...' line); a runbook is one";
  }
  const message =
    error.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "") +
    (later > 0 ? ` (and ${later} more after it)` : "");
  // `{a: ${X}}`: inside a flow collection the placeholder's `{` opens a mapping.
  const at = error.pos[0];
  return text[at - 1] === "$" && text[at] === "{"
    ? `${message}; inside { } or [ ], put a \${VAR} placeholder in quotes ('\${VAR}')`
    : message;
}

async function readRunbookText(file: string): Promise<string> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(file)).isDirectory();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new InputError(`Runbook file not found: ${file}`);
    }
    throw new InputError(`Cannot read runbook file ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (isDirectory) throw new InputError(`Runbook path is a directory, not a file: ${file}`);
  let bytes: Buffer | null;
  try {
    bytes = await readRegularFile(file);
  } catch (error) {
    throw new InputError(`Cannot read runbook file ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  // A FIFO or a device (`/dev/stdin`) would be read until a writer closes it, if ever.
  if (bytes === null) {
    throw new InputError(`Runbook path is not a regular file (a pipe or a device): ${file}`);
  }
  // Read as UTF-8 regardless, a Latin-1 `é` would become U+FFFD, and a path or name silently wrong.
  if (!isUtf8(bytes)) {
    const before = bytes.subarray(0, firstInvalidUtf8(bytes)).toString("utf8").split("\n");
    throw new RunbookError([
      {
        path: "",
        message: "not valid UTF-8 (runbooks are UTF-8 text; re-save it as UTF-8)",
        position: { file, line: before.length, column: before.at(-1)!.length + 1 },
      },
    ]);
  }
  return bytes.toString("utf8");
}

/** Offset of the first byte that starts no valid UTF-8 sequence (the buffer is known to hold one). */
function firstInvalidUtf8(bytes: Buffer): number {
  // Lines are whole sequences: find the first bad line, then its longest valid prefix.
  for (let start = 0; ; ) {
    const newline = bytes.indexOf(0x0a, start);
    const end = newline === -1 ? bytes.length : newline;
    if (!isUtf8(bytes.subarray(start, end))) {
      let valid = start;
      // A prefix ending inside a sequence is invalid too, so look up to 4 bytes past the last good one.
      for (let at = start + 1; at <= end && at - valid <= 4; at++) {
        if (isUtf8(bytes.subarray(start, at))) valid = at;
      }
      return valid;
    }
    start = end + 1;
  }
}

/** One key of a YAML mapping, with its value node (YAML null when written without a value). */
interface Entry {
  keyNode: Scalar;
  value: unknown;
  path: string;
}

type Entries = Map<string, Entry>;

/**
 * Walks the YAML node tree (not the plain JS value) so that every value keeps its position.
 * Positions: `keyPositions` for mapping keys and list items, `valuePositions` for values.
 */
class RunbookReader {
  readonly issues: Issue[] = [];
  readonly substitutions: Substitution[] = [];
  readonly placeholders = new Map<string, string>();
  private readonly keyPositions = new Map<string, SourcePosition>();
  private readonly valuePositions = new Map<string, SourcePosition>();
  /** Every key that repeats an earlier key of its mapping (issues are sorted by position later). */
  private readonly duplicateKeys: Scalar[] = [];
  private readonly reportedDuplicates = new Set<Scalar>();
  /** Each alias's node; null for one inside the node it refers to (reported). */
  private readonly aliasTargets = new Map<Alias, unknown>();
  /** Value paths `plain` has written, to refuse a path naming two values. */
  private readonly plainPaths = new Set<string>();
  private valuesLeft: number;

  constructor(
    private readonly file: string,
    private readonly text: string,
    private readonly root: unknown,
    private readonly lineCounter: LineCounter,
    private readonly env: Record<string, string | undefined>,
    /** Duplicate keys already found; a text read by the simple reader has no anchors or aliases. */
    duplicateKeys?: Scalar[],
  ) {
    this.valuesLeft = MAX_RUNBOOK_VALUES + text.length;
    if (duplicateKeys) this.duplicateKeys.push(...duplicateKeys);
    else this.indexDocument();
  }

  /**
   * One pass over the document. Resolves every alias once: the library's `Alias.resolve` walks
   * the whole document on each call, which makes many aliases quadratic. Like YAML, an alias
   * refers to the last anchor of its name before it. Finds the keys that repeat an earlier key
   * of their mapping (scalars with the same value, as YAML compares them).
   */
  private indexDocument(): void {
    const anchors = new Map<string, { range?: [number, number, number] | null }>();
    if (!isNode(this.root)) return;
    visit(this.root, {
      Node: (_key, node) => {
        if (isMap(node)) this.findDuplicateKeys(node);
        if (isAlias(node)) {
          const target = anchors.get(node.source);
          const at = node.range?.[0] ?? -1;
          const circular = !!target?.range && target.range[0] <= at && at < target.range[1];
          if (circular) {
            this.issue(
              "",
              `alias '*${node.source}' refers to a value that contains it`,
              this.nodePosition(node),
            );
          }
          this.aliasTargets.set(node, circular ? null : target);
        } else if (node.anchor) {
          anchors.set(node.anchor, node);
        }
      },
    });
  }

  private findDuplicateKeys(map: YAMLMap): void {
    const seen = new Set<unknown>();
    for (const { key } of map.items) {
      if (!isScalar(key)) continue;
      if (seen.has(key.value)) this.duplicateKeys.push(key);
      else seen.add(key.value);
    }
  }

  /**
   * Counts one value read; false (reported once) when the runbook has expanded to more than
   * `MAX_RUNBOOK_VALUES`, after which nothing more is read.
   */
  private spend(node: unknown): boolean {
    this.valuesLeft -= 1;
    if (this.valuesLeft === -1) {
      this.issue(
        "",
        `the runbook expands to more than ${MAX_RUNBOOK_VALUES + this.text.length} values (YAML aliases repeating each other?)`,
        this.nodePosition(node),
      );
    }
    return this.valuesLeft >= 0;
  }

  positionAt(offset: number): SourcePosition {
    const { line, col } = this.lineCounter.linePos(offset);
    return { file: this.file, line, column: col };
  }

  /**
   * The position of a dotted field path: the key naming it (or the list item), else its value,
   * else the nearest ancestor that exists, else the file alone.
   */
  has(fieldPath: string): boolean {
    return this.keyPositions.has(fieldPath);
  }

  positionOf(fieldPath: string): SourcePosition {
    let current = fieldPath;
    for (;;) {
      const found = this.keyPositions.get(current) ?? this.valuePositions.get(current);
      if (found) return found;
      const dot = current.lastIndexOf(".");
      if (dot === -1) return this.keyPositions.get("") ?? { file: this.file };
      current = current.slice(0, dot);
    }
  }

  /** Duplicate keys the walk never reached (e.g. under an unknown key) are still errors. */
  reportUnreachedDuplicates(): void {
    for (const keyNode of this.duplicateKeys) {
      if (this.reportedDuplicates.has(keyNode)) continue;
      const [start, end] = keyNode.range ?? [0, 0];
      this.issues.push({
        path: "",
        message: `duplicate key '${this.text.slice(start, end)}'`,
        position: this.positionAt(start),
      });
    }
  }

  readRunbook(): Runbook | undefined {
    const root = this.root as { range?: [number, number, number] | null } | null;
    this.keyPositions.set("", root?.range ? this.positionAt(root.range[0]) : { file: this.file });
    const top = this.entries(root, "", "the runbook");
    if (!top) return undefined;
    this.checkKeys(top, RUNBOOK_KEYS.runbook);
    const runbook: Runbook = {
      name: this.required(top, "", "name", (e) => this.string(e)) ?? "",
      description: this.required(top, "", "description", (e) => this.string(e)) ?? "",
      config: this.optional(top, "config", (e) => this.config(e)) ?? { ...DEFAULT_CONFIG },
      artifacts: this.optional(top, "artifacts", (e) => this.artifacts(e)) ?? emptyRecord(),
    };
    assign(
      runbook,
      "contact",
      this.optional(top, "contact", (e) => this.string(e)),
    );
    assign(
      runbook,
      "framework",
      this.optional(top, "framework", (e) => this.string(e)),
    );
    assign(
      runbook,
      "inputs",
      this.optional(top, "inputs", (e) => this.inputDeclarations(e)),
    );
    assign(
      runbook,
      "outputs",
      this.optional(top, "outputs", (e) => this.outputDeclarations(e)),
    );
    this.checkRunbookRules(runbook);
    return runbook;
  }

  private checkRunbookRules(runbook: Runbook): void {
    const inputNames = Object.keys(runbook.inputs ?? {});
    const artifactIds = Object.keys(runbook.artifacts);
    if (inputNames.length > 0) {
      for (const [id, def] of Object.entries(runbook.artifacts)) {
        if (!def.source) continue;
        this.issue(
          `artifacts.${id}.source`,
          `a runbook with inputs cannot have source artifacts (found 'source' in '${id}')`,
        );
      }
    }
    for (const name of inputNames) {
      if (runbook.artifacts[name]) {
        this.issue(`inputs.${name}`, `input '${name}' has the same name as an artifact`);
      }
    }
    for (const [name, output] of Object.entries(runbook.outputs ?? {})) {
      if (runbook.artifacts[output.artifact]) continue;
      const hint = closestMatch(output.artifact, artifactIds);
      this.issue(
        `outputs.${name}.artifact`,
        `output '${name}' references non-existent artifact '${output.artifact}'${didYouMean(hint)}`,
        this.valuePositions.get(`outputs.${name}.artifact`),
      );
    }
  }

  private config(entry: Entry): RunbookConfig | undefined {
    const e = this.entries(entry.value, entry.path, "'config'");
    if (!e) return undefined;
    this.checkKeys(e, RUNBOOK_KEYS.config);
    this.optional(e, "max_child_depth", (x) => this.positiveInteger(x));
    this.optional(e, "cost_limit", (x) => this.number(x));
    return {
      timeout:
        this.optional(e, "timeout", (x) => this.positiveInteger(x)) ?? DEFAULT_CONFIG.timeout,
      max_concurrency:
        this.optional(e, "max_concurrency", (x) => this.positiveInteger(x)) ??
        DEFAULT_CONFIG.max_concurrency,
      template_paths: this.optional(e, "template_paths", (x) => this.stringList(x)) ?? [],
    };
  }

  private inputDeclarations(entry: Entry): Record<string, RunbookInputDeclaration> | undefined {
    const e = this.entries(entry.value, entry.path, "'inputs'");
    if (!e) return undefined;
    const result = emptyRecord<RunbookInputDeclaration>();
    for (const [name, item] of e) {
      const fields = this.entries(item.value, item.path, `input '${name}'`);
      if (!fields) continue;
      this.checkKeys(fields, RUNBOOK_KEYS.input);
      const declaration: RunbookInputDeclaration = {
        input_schema:
          this.required(fields, item.path, "input_schema", (x) => this.schemaRef(x)) ?? "",
        optional: this.optional(fields, "optional", (x) => this.boolean(x)) ?? false,
        sensitive: this.optional(fields, "sensitive", (x) => this.boolean(x)) ?? false,
      };
      const fallback = this.optional(fields, "default", (x) => this.plain(x.value, x.path));
      if (fallback !== undefined) {
        declaration.default = fallback;
        if (!declaration.optional)
          this.issue(`${item.path}.default`, "'default' requires 'optional: true'");
      }
      assign(
        declaration,
        "description",
        this.optional(fields, "description", (x) => this.string(x)),
      );
      result[name] = declaration;
    }
    return result;
  }

  private outputDeclarations(entry: Entry): Record<string, RunbookOutputDeclaration> | undefined {
    const e = this.entries(entry.value, entry.path, "'outputs'");
    if (!e) return undefined;
    const result = emptyRecord<RunbookOutputDeclaration>();
    for (const [name, item] of e) {
      const fields = this.entries(item.value, item.path, `output '${name}'`);
      if (!fields) continue;
      this.checkKeys(fields, RUNBOOK_KEYS.output);
      const declaration: RunbookOutputDeclaration = {
        artifact: this.required(fields, item.path, "artifact", (x) => this.string(x)) ?? "",
      };
      assign(
        declaration,
        "description",
        this.optional(fields, "description", (x) => this.string(x)),
      );
      result[name] = declaration;
    }
    return result;
  }

  private artifacts(entry: Entry): Record<string, ArtifactDefinition> | undefined {
    const e = this.entries(entry.value, entry.path, "'artifacts'");
    if (!e) return undefined;
    const result = emptyRecord<ArtifactDefinition>();
    for (const [id, item] of e) {
      const problem = artifactIdProblem(id);
      if (problem) this.issue(item.path, `invalid artifact id '${id}': ${problem}`);
      const definition = this.artifact(item);
      if (definition) result[id] = definition;
    }
    return result;
  }

  private artifact(entry: Entry): ArtifactDefinition | undefined {
    const e = this.entries(entry.value, entry.path, "an artifact");
    if (!e) return undefined;
    this.checkKeys(e, RUNBOOK_KEYS.artifact);
    const def: ArtifactDefinition = {
      output: this.optional(e, "output", (x) => this.boolean(x)) ?? false,
      optional: this.optional(e, "optional", (x) => this.boolean(x)) ?? false,
      merge: "concatenate",
      position: this.keyPositions.get(entry.path) ?? { file: this.file },
    };
    assign(
      def,
      "name",
      this.optional(e, "name", (x) => this.string(x)),
    );
    assign(
      def,
      "description",
      this.optional(e, "description", (x) => this.string(x)),
    );
    assign(
      def,
      "contact",
      this.optional(e, "contact", (x) => this.string(x)),
    );
    assign(
      def,
      "source",
      this.optional(e, "source", (x) => this.component(x)),
    );
    assign(
      def,
      "inputs",
      this.optional(e, "inputs", (x) => this.artifactRefs(x)),
    );
    assign(
      def,
      "process",
      this.optional(e, "process", (x) => this.component(x)),
    );
    assign(
      def,
      "reuse",
      this.optional(e, "reuse", (x) => this.reuse(x)),
    );
    assign(
      def,
      "child_runbook",
      this.optional(e, "child_runbook", (x) => this.childRunbook(x)),
    );
    assign(
      def,
      "output_schema",
      this.optional(e, "output_schema", (x) => this.schemaRef(x)),
    );
    const merge = this.optional(e, "merge", (x) => this.string(x));
    if (merge !== undefined && merge !== "concatenate") {
      this.issue(
        `${entry.path}.merge`,
        `unsupported merge '${merge}' (only 'concatenate' is supported)`,
        this.valuePositions.get(`${entry.path}.merge`),
      );
    }
    this.optional(e, "execute", (x) => this.execute(x));
    this.checkArtifactRules(entry.path, present(e));
    const prefix = `${entry.path}.`;
    const written = [...this.placeholders].filter(([valuePath]) => valuePath.startsWith(prefix));
    if (written.length > 0) {
      def.placeholders = Object.fromEntries(
        written.map(([valuePath, text]) => [valuePath.slice(prefix.length), text]),
      );
    }
    return def;
  }

  /** Checks on which keys are present, so a malformed value is not reported twice. */
  private checkArtifactRules(artifactPath: string, has: (key: string) => boolean): void {
    const report = (message: string): void => this.issue(artifactPath, message);
    if (has("reuse") && has("source")) {
      report("Artifact cannot have both 'reuse' and 'source' - they are mutually exclusive");
    }
    if (has("reuse") && has("inputs")) {
      report("Artifact cannot have both 'reuse' and 'inputs' - they are mutually exclusive");
    }
    if (has("source") && has("inputs")) {
      report("Artifact cannot have both 'source' and 'inputs' - they are mutually exclusive");
    }
    if (!has("source") && !has("inputs") && !has("reuse")) {
      report("Artifact must have 'source', 'inputs', or 'reuse' defined");
    }
    // Upstream accepts these and ignores the `process`: a scan the user asked for that never ran.
    for (const key of ["source", "reuse"]) {
      if (has(key) && has("process")) {
        report(
          `Artifact cannot have both '${key}' and 'process': ${key === "source" ? "a source artifact only extracts" : "a reused artifact is a copy"}, its 'process' would never run; process it in an artifact of its own ('inputs: ${lastSegment(artifactPath)}')`,
        );
      }
    }
    if (has("child_runbook") && has("process"))
      report("Cannot combine 'child_runbook' with 'process'");
    if (has("child_runbook") && !has("inputs")) report("'child_runbook' requires 'inputs'");
  }

  private component(entry: Entry): ComponentSpec | undefined {
    const e = this.entries(entry.value, entry.path, `'${lastSegment(entry.path)}'`);
    if (!e) return undefined;
    this.checkKeys(e, RUNBOOK_KEYS.component);
    const type = this.required(e, entry.path, "type", (x) => this.string(x));
    const properties = this.optional(e, "properties", (x) => this.properties(x)) ?? {};
    return type === undefined ? undefined : { type, properties };
  }

  private properties(entry: Entry): Record<string, unknown> | undefined {
    const node = this.deref(entry.value);
    if (!isMap(node)) return this.typeError(entry, "a mapping");
    return this.plain(node, entry.path) as Record<string, unknown>;
  }

  private reuse(entry: Entry): ReuseSpec | undefined {
    const e = this.entries(entry.value, entry.path, "'reuse'");
    if (!e) return undefined;
    this.checkKeys(e, RUNBOOK_KEYS.reuse);
    const fromRun = this.required(e, entry.path, "from_run", (x) => this.string(x));
    const artifact = this.required(e, entry.path, "artifact", (x) => this.string(x));
    return fromRun === undefined || artifact === undefined
      ? undefined
      : { from_run: fromRun, artifact };
  }

  private childRunbook(entry: Entry): ChildRunbookSpec | undefined {
    const e = this.entries(entry.value, entry.path, "'child_runbook'");
    if (!e) return undefined;
    this.checkKeys(e, RUNBOOK_KEYS.child_runbook);
    const childPath = this.required(e, entry.path, "path", (x) => this.string(x));
    const inputMapping = this.required(e, entry.path, "input_mapping", (x) => this.stringMap(x));
    const spec: ChildRunbookSpec = {
      path: childPath ?? "",
      input_mapping: inputMapping ?? emptyRecord(),
    };
    assign(
      spec,
      "output",
      this.optional(e, "output", (x) => this.string(x)),
    );
    assign(
      spec,
      "output_mapping",
      this.optional(e, "output_mapping", (x) => this.stringMap(x)),
    );
    const has = present(e);
    if (has("output") && has("output_mapping")) {
      this.issue(entry.path, "Cannot specify both 'output' and 'output_mapping'");
    } else if (!has("output") && !has("output_mapping")) {
      this.issue(entry.path, "Either 'output' or 'output_mapping' required");
    }
    return spec;
  }

  private execute(entry: Entry): true | undefined {
    const e = this.entries(entry.value, entry.path, "'execute'");
    if (!e) return undefined;
    this.checkKeys(e, RUNBOOK_KEYS.execute);
    this.optional(e, "mode", (x) => this.string(x));
    this.optional(e, "timeout", (x) => this.positiveInteger(x));
    this.optional(e, "cost_limit", (x) => this.number(x));
    return true;
  }

  /** `inputs: a` or `inputs: [a, b]`, normalised to a non-empty list. */
  private artifactRefs(entry: Entry): string[] | undefined {
    const node = this.deref(entry.value);
    if (isScalar(node) && typeof node.value === "string") {
      const single = this.string(entry);
      return single === undefined ? undefined : [single];
    }
    if (!isSeq(node)) return this.typeError(entry, "an artifact id or a list of artifact ids");
    const list = this.stringList(entry);
    if (list && list.length === 0) {
      this.issue(
        entry.path,
        "expected at least one artifact id",
        this.valuePositions.get(entry.path),
      );
      return undefined;
    }
    // Listed twice, an input would be read twice: its findings counted double.
    const repeated = list?.findIndex((id, index) => list.indexOf(id) !== index) ?? -1;
    if (list && repeated !== -1) {
      const path = `${entry.path}.${repeated}`;
      this.issue(path, `'${list[repeated]}' is listed twice`, this.keyPositions.get(path));
      return undefined;
    }
    return list;
  }

  private stringList(entry: Entry): string[] | undefined {
    const node = this.deref(entry.value);
    if (!isSeq(node)) return this.typeError(entry, "a list of strings");
    const result: string[] = [];
    node.items.forEach((item, index) => {
      const itemPath = `${entry.path}.${index}`;
      const position = this.nodePosition(item);
      if (position) this.keyPositions.set(itemPath, position);
      const value = this.string({ keyNode: entry.keyNode, value: item, path: itemPath });
      if (value !== undefined) result.push(value);
    });
    return result.length === node.items.length ? result : undefined;
  }

  private stringMap(entry: Entry): Record<string, string> | undefined {
    const e = this.entries(entry.value, entry.path, `'${lastSegment(entry.path)}'`);
    if (!e) return undefined;
    const result = emptyRecord<string>();
    for (const [key, item] of e) {
      const value = this.string(item);
      if (value !== undefined) result[key] = value;
    }
    return result;
  }

  private schemaRef(entry: Entry): string | undefined {
    const value = this.string(entry);
    if (value === undefined || SCHEMA_REF.test(value)) return value;
    this.issue(
      entry.path,
      `invalid schema reference '${value}' (expected 'name' or 'name/x.y.z')`,
      this.valuePositions.get(entry.path),
    );
    return undefined;
  }

  private string(entry: Entry): string | undefined {
    const node = this.deref(entry.value);
    if (!isScalar(node) || typeof node.value !== "string") return this.typeError(entry, "a string");
    return this.substitute(node.value, entry.path) ?? undefined;
  }

  /**
   * A boolean, or a `${VAR}` string that substitutes to `true`/`false`: environment values are
   * always strings.
   */
  private boolean(entry: Entry): boolean | undefined {
    const node = this.deref(entry.value);
    if (isScalar(node) && typeof node.value === "boolean") return node.value;
    const substituted = this.placeholderValue(node, entry.path);
    if (substituted === null) return undefined;
    if (substituted === "true" || substituted === "false") return substituted === "true";
    return this.typeError(entry, "a boolean (true or false)");
  }

  private positiveInteger(entry: Entry): number | undefined {
    const node = this.deref(entry.value);
    const substituted = this.placeholderValue(node, entry.path);
    if (substituted === null) return undefined;
    const value =
      substituted !== undefined && /^\d+$/.test(substituted)
        ? Number(substituted)
        : isScalar(node)
          ? node.value
          : undefined;
    if (typeof value === "number" && Number.isInteger(value) && value > 0) return value;
    return this.typeError(entry, "a positive integer");
  }

  private number(entry: Entry): number | undefined {
    const node = this.deref(entry.value);
    if (isScalar(node) && typeof node.value === "number") return node.value;
    const substituted = this.placeholderValue(node, entry.path);
    if (substituted === null) return undefined;
    if (
      substituted !== undefined &&
      substituted.trim() !== "" &&
      Number.isFinite(Number(substituted))
    ) {
      return Number(substituted);
    }
    return this.typeError(entry, "a number");
  }

  /**
   * The substituted text of a string scalar holding a `${VAR}` placeholder; `undefined` for any
   * other node, `null` when a variable is unset (already reported).
   */
  private placeholderValue(node: unknown, valuePath: string): string | null | undefined {
    if (!isScalar(node) || typeof node.value !== "string" || !hasPlaceholder(node.value)) {
      return undefined;
    }
    return this.substitute(node.value, valuePath);
  }

  /** Converts any node to plain JSON, substituting `${VAR}` in every string value. */
  private plain(node: unknown, valuePath: string): unknown {
    const resolved = this.deref(node);
    if (!this.spend(resolved)) return null;
    if (this.plainPaths.has(valuePath)) {
      // Placeholders are recorded by path: one path must name one value.
      this.issue(
        valuePath,
        `'${valuePath}' names two values (a key containing '.' clashes with nested keys)`,
        this.nodePosition(resolved),
      );
    }
    this.plainPaths.add(valuePath);
    const position = this.nodePosition(resolved);
    if (position && !this.valuePositions.has(valuePath))
      this.valuePositions.set(valuePath, position);
    if (isMap(resolved)) {
      const e = this.entries(resolved, valuePath, "a mapping", { anyScalarKey: true });
      return Object.fromEntries(
        [...(e ?? [])].map(([key, item]) => [key, this.plain(item.value, item.path)]),
      );
    }
    if (isSeq(resolved)) {
      return resolved.items.map((item, index) => {
        const itemPath = `${valuePath}.${index}`;
        const itemPosition = this.nodePosition(item);
        if (itemPosition) this.keyPositions.set(itemPath, itemPosition);
        return this.plain(item, itemPath);
      });
    }
    if (isScalar(resolved)) {
      return typeof resolved.value === "string"
        ? (this.substitute(resolved.value, valuePath) ?? resolved.value)
        : resolved.value;
    }
    return null;
  }

  /** Substitutes `${VAR}`s; `null` (and an issue) when a variable is unset. */
  private substitute(text: string, valuePath: string): string | null {
    if (hasPlaceholder(text)) this.placeholders.set(valuePath, text);
    const result = substituteString(text, this.env);
    for (const name of result.missing) {
      this.issue(
        valuePath,
        `environment variable '${name}' is not set`,
        this.valuePositions.get(valuePath),
      );
    }
    for (const sub of result.substitutions) {
      if (!this.substitutions.some((s) => s.name === sub.name && s.value === sub.value)) {
        this.substitutions.push(sub);
      }
    }
    return result.missing.length > 0 ? null : result.value;
  }

  /**
   * The keys of a mapping node, `<<` merge keys expanded (the mapping's own keys win). Records
   * positions; reports a non-mapping, non-string keys and duplicates.
   */
  private entries(
    node: unknown,
    mapPath: string,
    what: string,
    options: { anyScalarKey?: boolean } = {},
  ): Entries | undefined {
    if (this.valuesLeft < 0) return undefined;
    const resolved = this.deref(node);
    if (!isMap(resolved)) {
      const position = this.nodePosition(resolved) ?? this.positionOf(mapPath);
      this.issue(mapPath, `expected ${what} to be a mapping, got ${describe(resolved)}`, position);
      return undefined;
    }
    const result: Entries = new Map();
    const merged: Entries = new Map();
    for (const pair of resolved.items as Pair[]) {
      if (!this.spend(pair.key)) return undefined;
      const keyNode = pair.key;
      if (isScalar(keyNode) && typeof keyNode.value === "symbol") {
        this.mergeInto(merged, pair.value, mapPath, what);
        continue;
      }
      const keyValue = isScalar(keyNode) ? keyNode.value : undefined;
      const acceptable =
        typeof keyValue === "string" ||
        (options.anyScalarKey && (typeof keyValue === "number" || typeof keyValue === "boolean"));
      if (!acceptable || !isScalar(keyNode)) {
        const position = this.nodePosition(keyNode) ?? this.positionOf(mapPath);
        this.issue(mapPath, `keys must be strings, got ${describe(keyNode)}`, position);
        continue;
      }
      const key = String(keyValue);
      const entryPath = mapPath ? `${mapPath}.${key}` : key;
      const first = result.get(key);
      if (first) {
        this.reportDuplicate(keyNode, key, entryPath, first.keyNode);
        continue;
      }
      result.set(key, { keyNode, value: pair.value, path: entryPath });
    }
    // Recorded after the merged keys so that a mapping's own keys win for positions too.
    for (const entry of result.values()) this.record(entry.path, entry.keyNode, entry.value);
    for (const [key, entry] of merged) if (!result.has(key)) result.set(key, entry);
    return result;
  }

  private mergeInto(target: Entries, source: unknown, mapPath: string, what: string): void {
    const resolved = this.deref(source);
    const sources = isSeq(resolved) ? resolved.items : [resolved];
    for (const item of sources) {
      for (const [key, entry] of this.entries(item, mapPath, what) ?? []) {
        if (!target.has(key)) target.set(key, entry);
      }
    }
  }

  private reportDuplicate(keyNode: Scalar, key: string, entryPath: string, first: Scalar): void {
    this.reportedDuplicates.add(keyNode);
    const firstLine = this.nodePosition(first)?.line;
    this.issue(
      entryPath,
      `duplicate key '${key}'${firstLine ? ` (first defined at line ${firstLine})` : ""}`,
      this.nodePosition(keyNode),
    );
  }

  private record(entryPath: string, keyNode: Scalar, value: unknown): void {
    const keyPosition = this.nodePosition(keyNode);
    if (keyPosition) this.keyPositions.set(entryPath, keyPosition);
    const valuePosition = this.nodePosition(this.deref(value)) ?? keyPosition;
    if (valuePosition) this.valuePositions.set(entryPath, valuePosition);
  }

  private checkKeys(e: Entries, allowed: readonly string[]): void {
    for (const [key, entry] of e) {
      if (allowed.includes(key)) continue;
      const hint = closestMatch(key, allowed);
      this.issue(entry.path, `unknown field '${key}'${didYouMean(hint)}`);
    }
  }

  /** Reads `key` if present and not null; a missing optional field is not an issue. */
  private optional<T>(
    e: Entries,
    key: string,
    read: (entry: Entry) => T | undefined,
  ): T | undefined {
    const entry = e.get(key);
    if (!entry) return undefined;
    const node = this.deref(entry.value);
    if (node === null || (isScalar(node) && node.value === null)) return undefined;
    return read(entry);
  }

  private required<T>(
    e: Entries,
    mapPath: string,
    key: string,
    read: (entry: Entry) => T | undefined,
  ): T | undefined {
    const entry = e.get(key);
    if (entry) return read(entry);
    this.issue(
      mapPath ? `${mapPath}.${key}` : key,
      `missing required field '${key}'`,
      this.positionOf(mapPath),
    );
    return undefined;
  }

  private typeError(entry: Entry, expected: string): undefined {
    const node = this.deref(entry.value);
    this.issue(
      entry.path,
      `expected ${expected}, got ${describe(node)}`,
      this.nodePosition(node) ?? this.positionOf(entry.path),
    );
    return undefined;
  }

  /** Records an issue; its position defaults to the key naming the field. */
  private issue(fieldPath: string, message: string, position?: SourcePosition): void {
    this.issues.push({
      path: fieldPath,
      message,
      position: position ?? this.positionOf(fieldPath),
    });
  }

  private deref(node: unknown): unknown {
    return isAlias(node) ? this.aliasTargets.get(node) : node;
  }

  private nodePosition(node: unknown): SourcePosition | undefined {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    return range ? this.positionAt(range[0]) : undefined;
  }
}

/**
 * Why an artifact id is unusable as a key of the artifact store, or undefined if it is fine: the
 * store's own rules (`validateArtifactKey`), checked here so that a bad id fails validation, not a
 * run, plus stricter ones of the runbook format.
 */
export function artifactIdProblem(id: string): string | undefined {
  if (id.length === 0) return "it is empty";
  if (/\s/.test(id)) return "it contains whitespace";
  if (id.includes("..")) return "it contains '..'";
  try {
    validateArtifactKey(id);
  } catch (error) {
    if (!(error instanceof InvalidKeyError)) throw error;
    // The store's message is `Invalid artifact key "<id>": <reason>.`; the id has no whitespace
    // (checked above), so the reason starts after the first ": ". The issue names the id itself.
    return error.message.slice(error.message.indexOf(": ") + 2).replace(/\.$/, "");
  }
  // Bytes, not characters: the file name limit is in bytes (`é` takes two).
  if (id.split("/").some((segment) => Buffer.byteLength(segment) > MAX_ARTIFACT_ID_SEGMENT)) {
    return `a '/'-separated part is longer than ${MAX_ARTIFACT_ID_SEGMENT} bytes (in UTF-8)`;
  }
  return undefined;
}

function describe(node: unknown): string {
  if (isMap(node)) return "a mapping";
  if (isSeq(node)) return "a list";
  if (isScalar(node)) {
    const value = node.value;
    if (value === null) return "null";
    if (typeof value === "string") return `a string ('${value}')`;
    if (typeof value === "number") return `a number (${value})`;
    if (typeof value === "boolean") return `a boolean (${value})`;
  }
  return node == null ? "nothing" : "an unsupported value";
}

function didYouMean(hint: string | undefined): string {
  return hint ? ` (did you mean '${hint}'?)` : "";
}

/** Whether a key is present with a non-null value. */
function present(e: Entries): (key: string) => boolean {
  return (key) => {
    const value = e.get(key)?.value;
    return value !== undefined && value !== null && !(isScalar(value) && value.value === null);
  };
}

function lastSegment(fieldPath: string): string {
  return fieldPath.slice(fieldPath.lastIndexOf(".") + 1);
}

/** Sets an optional property only when there is a value (exactOptionalPropertyTypes). */
function assign<T extends object, K extends keyof T>(
  target: T,
  key: K,
  value: T[K] | undefined,
): void {
  if (value !== undefined) target[key] = value;
}
