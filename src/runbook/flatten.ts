/**
 * @module Child-runbook flattening (upstream §1.5, done better): every `child_runbook` directive
 * is replaced, in place, by the child's artifacts under a deterministic namespace
 * (`<directive>__<childArtifact>`, nested `outer__inner__x`), so re-planning an unchanged runbook
 * yields identical ids and a run can be resumed. Aliases are resolved after the whole expansion,
 * transitively, so artifact order does not matter. Child paths cannot leave the folder they are
 * found in, not even through a symlink.
 */
import { realpath, stat } from "node:fs/promises";
import path from "node:path";
import {
  formatIssue,
  InputError,
  type Issue,
  RunbookError,
  type SourcePosition,
} from "../errors.js";
import { formatSchemaRef, parseSchemaRef, type SchemaRef, sameSchema } from "../message.js";
import { ARTIFACT_FILE_EXTENSION, KeyFolders } from "../stores/keys.js";
import { closestMatch } from "../suggest.js";
import {
  type ArtifactDefinition,
  emptyRecord,
  type LoadedRunbook,
  type Substitution,
} from "./model.js";
import { artifactIdProblem, loadRunbook } from "./parse.js";

/** Separates a directive's id from its child's artifact ids. */
export const NAMESPACE_SEPARATOR = "__";

export interface FlattenOptions {
  /** Environment for `${VAR}` in child runbooks; defaults to `process.env`. */
  env?: Record<string, string | undefined>;
  /**
   * The schema an artifact without `output_schema` produces (its connector's or processor's
   * first output schema), or null when it cannot be told here (then no check is made).
   */
  outputSchemaOf: (def: ArtifactDefinition) => SchemaRef | null;
}

/** A runbook with every child runbook expanded into its own artifacts. */
export interface FlattenedRunbook {
  /** In order; each directive is replaced by its child's artifacts. Inputs reference real ids. */
  artifacts: Record<string, ArtifactDefinition>;
  /** Alias (a directive id or an `output_mapping` name) -> the namespaced id it stands for. */
  aliases: Record<string, string>;
  /** Artifact id -> `parent` or `child:<namespace>`. */
  origins: Record<string, string>;
  /** Artifact id -> the folder of the runbook that defines it, which its relative paths are in. */
  folders: Record<string, string>;
  /** Substitutions of the root and of every child runbook. */
  substitutions: Substitution[];
  /** Absolute paths of every runbook file read, root first. */
  files: string[];
  /** What the runbooks ask for that is not used, `file:line:column: field: message` each. */
  warnings: string[];
  /**
   * Where a field of a flattened artifact is written, in whichever file defines it: e.g.
   * `positionOf("analysis__personal", "inputs")` points into the child runbook.
   */
  positionOf(artifactId: string, field?: string): SourcePosition | undefined;
}

/** Where a flattened artifact was defined. */
interface Definer {
  runbook: LoadedRunbook;
  localId: string;
}

/** A child input mapped to a parent artifact, checked once every alias is known. */
interface PendingSchemaCheck {
  /** The parent artifact or alias, as a flattened id. */
  parentRef: string;
  mappedName: string;
  expected: string;
  inputName: string;
  directiveId: string;
  path: string;
  position: SourcePosition;
}

/** A directive's `output` and `output_schema`, applied to what it exposes once every alias is known. */
interface PendingDirectiveFlags {
  parent: LoadedRunbook;
  localId: string;
  def: ArtifactDefinition;
  /** The child's artifacts (or aliases: a nested directive's output) the directive stands for. */
  exposed: string[];
}

/** A directive's own `inputs`, which must name artifacts (or aliases) of its runbook. */
interface PendingDirectiveInputs {
  parent: LoadedRunbook;
  localId: string;
  /** As written, and as flattened ids (null for an unmapped optional input of a child). */
  refs: { written: string; ref: string | null }[];
}

/** An alias and where it was declared. */
interface AliasDeclaration {
  target: string;
  path: string;
  position: SourcePosition;
}

/** Translates a reference written in one runbook to a flattened id; null for an unmapped optional input. */
type Scope = (ref: string) => string | null;

/**
 * Expands every `child_runbook` directive of `root`, recursively. Throws one `RunbookError`
 * listing every problem, each at its place in the file where it is.
 */
export async function flattenRunbook(
  root: LoadedRunbook,
  options: FlattenOptions,
): Promise<FlattenedRunbook> {
  const flattener = new Flattener(root, options);
  return flattener.run();
}

class Flattener {
  private readonly issues: Issue[] = [];
  private readonly warnings: string[] = [];
  private readonly artifacts = emptyRecord<ArtifactDefinition>();
  private readonly origins = emptyRecord<string>();
  private readonly folders = emptyRecord<string>();
  private readonly definers = new Map<string, Definer>();
  /** The artifact ids as files and folders of the artifact store, to find two that clash. */
  private readonly keyFolders = new KeyFolders();
  private readonly aliasDeclarations = new Map<string, AliasDeclaration>();
  private readonly schemaChecks: PendingSchemaCheck[] = [];
  private readonly directiveFlags: PendingDirectiveFlags[] = [];
  private readonly directiveInputs: PendingDirectiveInputs[] = [];
  private readonly loaded = new Map<string, LoadedRunbook>();
  /** Directives that could not be expanded; what refers into them is not reported again. */
  private readonly failedDirectives: string[] = [];
  private readonly rootFolder: string;
  private readonly templateFolders: string[];

  constructor(
    private readonly root: LoadedRunbook,
    private readonly options: FlattenOptions,
  ) {
    this.rootFolder = path.dirname(root.path);
    this.templateFolders = root.runbook.config.template_paths.map((folder) =>
      path.resolve(this.rootFolder, folder),
    );
  }

  async run(): Promise<FlattenedRunbook> {
    const rootReal = await realpath(this.root.path).catch(() => this.root.path);
    this.loaded.set(rootReal, this.root);
    await this.expand(this.root, (ref) => ref, null, [rootReal]);
    const resolve = (ref: string): string => this.resolveAlias(ref);
    for (const def of Object.values(this.artifacts)) {
      if (def.inputs) def.inputs = def.inputs.map(resolve);
    }
    const aliases = this.checkAliases(resolve);
    for (const pending of this.directiveFlags) this.applyDirectiveFlags(pending, resolve);
    for (const pending of this.directiveInputs) this.checkDirectiveInputs(pending, resolve);
    this.checkSchemas(resolve);
    if (this.issues.length > 0) throw new RunbookError(this.issues);
    const definers = this.definers;
    return {
      artifacts: this.artifacts,
      aliases,
      origins: this.origins,
      folders: this.folders,
      substitutions: uniqueSubstitutions([...this.loaded.values()].flatMap((r) => r.substitutions)),
      files: [...new Set([...this.loaded.values()].map((r) => r.path))],
      warnings: this.warnings,
      positionOf(artifactId, field) {
        const definer = definers.get(artifactId);
        if (!definer) return undefined;
        const local = `artifacts.${definer.localId}`;
        return definer.runbook.positionOf(field ? `${local}.${field}` : local);
      },
    };
  }

  /**
   * Adds `loaded`'s artifacts under `namespace` (null for the root). `scope` translates the
   * runbook's references; `chain` holds the real paths of the runbooks that include it.
   */
  private async expand(
    loaded: LoadedRunbook,
    scope: Scope,
    namespace: string | null,
    chain: string[],
  ): Promise<void> {
    for (const [localId, def] of Object.entries(loaded.runbook.artifacts)) {
      const id = namespaced(namespace, localId);
      if (def.child_runbook) {
        await this.expandDirective(loaded, namespace, localId, def, scope, chain);
        continue;
      }
      // Namespaced, the id may be one the store cannot name a file after (too long, nested deep).
      const unusable = namespace === null ? undefined : artifactIdProblem(id);
      if (unusable) {
        this.issue(
          loaded,
          `artifacts.${localId}`,
          `the id '${localId}' gets in the parent, '${id}', is unusable: ${unusable}`,
        );
      }
      if (this.artifacts[id]) {
        this.issue(
          loaded,
          `artifacts.${localId}`,
          `artifact id '${id}' is already used by another artifact`,
        );
        continue;
      }
      const clash = this.keyFolders.add(id);
      if (clash !== undefined) {
        const [file, folder] = id.length < clash.length ? [id, clash] : [clash, id];
        this.issue(
          loaded,
          `artifacts.${localId}`,
          `artifact id '${id}' cannot be stored beside '${clash}': the store keeps '${file}' in the file '${file}${ARTIFACT_FILE_EXTENSION}', where '${folder}' needs a folder of that name`,
        );
      }
      const copy: ArtifactDefinition = { ...def };
      if (def.inputs) {
        const inputs = def.inputs.map(scope).filter((ref): ref is string => ref !== null);
        if (inputs.length === 0) {
          this.issue(
            loaded,
            `artifacts.${localId}.inputs`,
            `all inputs of '${localId}' are optional child inputs that are not mapped, so it has no input`,
          );
        }
        copy.inputs = inputs;
      }
      this.artifacts[id] = copy;
      this.origins[id] = namespace === null ? "parent" : `child:${namespace}`;
      this.folders[id] = path.dirname(loaded.path);
      this.definers.set(id, { runbook: loaded, localId });
    }
  }

  private async expandDirective(
    parent: LoadedRunbook,
    namespace: string | null,
    localId: string,
    def: ArtifactDefinition,
    scope: Scope,
    chain: string[],
  ): Promise<void> {
    const spec = def.child_runbook!;
    const directiveId = namespaced(namespace, localId);
    const directivePath = `artifacts.${localId}.child_runbook`;
    const issuesBefore = this.issues.length;
    const failed = (): boolean => {
      if (this.issues.length === issuesBefore) return false;
      this.failedDirectives.push(directiveId);
      return true;
    };
    this.directiveInputs.push({
      parent,
      localId,
      refs: (def.inputs ?? []).map((written) => ({ written, ref: scope(written) })),
    });
    const childFile = await this.resolveChildPath(parent, spec.path, `${directivePath}.path`);
    if (!childFile) return void failed();
    if (chain.includes(childFile)) {
      const names = [...chain, childFile].map((file) => this.displayName(file));
      this.issue(
        parent,
        `${directivePath}.path`,
        `circular runbook reference: ${names.join(" -> ")}`,
      );
      return void failed();
    }
    const child = await this.load(parent, childFile, `${directivePath}.path`);
    if (!child) return void failed();

    const declared = child.runbook.inputs ?? emptyRecord();
    const childInputs = new Map<string, string | null>();
    for (const name of Object.keys(spec.input_mapping)) {
      if (declared[name]) continue;
      const hint = closestMatch(name, Object.keys(declared));
      this.issue(
        parent,
        `${directivePath}.input_mapping.${name}`,
        `child runbook '${spec.path}' has no input '${name}'${hint ? ` (did you mean '${hint}'?)` : ""}`,
      );
    }
    for (const [name, declaration] of Object.entries(declared)) {
      const mapped = spec.input_mapping[name];
      const parentRef = mapped === undefined ? null : scope(mapped);
      if (parentRef === null) {
        if (!declaration.optional) {
          const because =
            mapped === undefined ? "it is not mapped" : `'${mapped}' is an unmapped optional input`;
          this.issue(
            parent,
            mapped === undefined
              ? `${directivePath}.input_mapping`
              : `${directivePath}.input_mapping.${name}`,
            `child runbook '${spec.path}' requires input '${name}' but ${because}`,
          );
        }
        childInputs.set(name, null);
        continue;
      }
      childInputs.set(name, parentRef);
      const mappingPath = `${directivePath}.input_mapping.${name}`;
      this.schemaChecks.push({
        parentRef,
        mappedName: mapped!,
        expected: declaration.input_schema,
        inputName: name,
        directiveId: localId,
        path: mappingPath,
        position: parent.positionOf(mappingPath),
      });
    }

    const outputs = child.runbook.outputs ?? emptyRecord();
    /** The child's artifacts the directive stands for, as flattened ids. */
    const exposed: string[] = [];
    const declareOutput = (outputName: string, alias: string, fieldPath: string): void => {
      const output = outputs[outputName];
      if (!output) {
        const hint = closestMatch(outputName, Object.keys(outputs));
        this.issue(
          parent,
          fieldPath,
          `output '${outputName}' not found in child runbook '${spec.path}' outputs${hint ? ` (did you mean '${hint}'?)` : ""}`,
        );
        return;
      }
      exposed.push(namespaced(directiveId, output.artifact));
      this.declareAlias(parent, alias, namespaced(directiveId, output.artifact), fieldPath);
    };
    if (spec.output !== undefined)
      declareOutput(spec.output, directiveId, `${directivePath}.output`);
    for (const [outputName, aliasName] of Object.entries(spec.output_mapping ?? {})) {
      const alias = namespaced(namespace, aliasName);
      declareOutput(outputName, alias, `${directivePath}.output_mapping.${outputName}`);
    }

    if (failed()) return;
    const childScope: Scope = (ref) =>
      childInputs.has(ref) ? childInputs.get(ref)! : namespaced(directiveId, ref);
    await this.expand(child, childScope, directiveId, [...chain, childFile]);
    if (def.optional) {
      const prefix = `${directiveId}${NAMESPACE_SEPARATOR}`;
      for (const [id, artifact] of Object.entries(this.artifacts)) {
        if (id.startsWith(prefix)) artifact.optional = true;
      }
    }
    // An exposed id may be an alias (the child's output is a directive of its own) and a
    // pass-through's schema is its input's: both are known once the whole tree is expanded.
    this.directiveFlags.push({ parent, localId, def, exposed });
  }

  /**
   * What a directive's own `output` and `output_schema` mean for the artifacts that replace it:
   * `output: true` makes the child outputs it exposes outputs of the run, and `output_schema`
   * must be the schema of what it exposes. (`optional: true`, which lets any of the child's
   * artifacts fail without failing the run, is applied as the child is expanded.)
   */
  private applyDirectiveFlags(
    { parent, localId, def, exposed }: PendingDirectiveFlags,
    resolve: (ref: string) => string,
  ): void {
    const ids = exposed.map(resolve).filter((id) => this.artifacts[id]);
    if (def.output) for (const id of ids) this.artifacts[id]!.output = true;
    if (def.output_schema === undefined) return;
    const declared = parseSchemaRef(def.output_schema);
    for (const id of ids) {
      const actual = this.producedSchema(id);
      if (actual && !sameSchema(actual, declared)) {
        this.issue(
          parent,
          `artifacts.${localId}.output_schema`,
          `output_schema '${formatSchemaRef(declared)}' does not match the child output '${id}', which produces '${formatSchemaRef(actual)}'`,
        );
      }
    }
  }

  /**
   * A directive's `inputs` are not read (its child's artifacts take theirs from `input_mapping`),
   * but one that names nothing is a mistake all the same: a missing reference, as elsewhere.
   */
  private checkDirectiveInputs(
    { parent, localId, refs }: PendingDirectiveInputs,
    resolve: (ref: string) => string,
  ): void {
    // A runbook run on its own that declares inputs: the planner explains those references.
    const ownInputs = parent === this.root ? (parent.runbook.inputs ?? {}) : {};
    refs.forEach(({ written, ref }, index) => {
      if (ref === null || Object.hasOwn(ownInputs, written)) return;
      const target = resolve(ref);
      if (this.artifacts[target] || this.insideFailedDirective(target)) return;
      const known = [
        ...Object.keys(parent.runbook.artifacts),
        ...Object.keys(parent.runbook.inputs ?? {}),
      ];
      const hint = closestMatch(written, known);
      this.issue(
        parent,
        `artifacts.${localId}.inputs`,
        `references artifact '${written}', which does not exist${hint ? ` (did you mean '${hint}'?)` : ""}`,
        parent.positionOf(`artifacts.${localId}.inputs.${index}`),
      );
    });
  }

  /**
   * The schema a flattened artifact produces, when it can be told before planning: its declared
   * or its component's, and for a pass-through (inputs, no process) its single input's. Null when
   * unknown (a reuse, an unknown component): the planner checks those.
   */
  private producedSchema(id: string, seen = new Set<string>()): SchemaRef | null {
    const def = this.artifacts[id];
    if (!def || seen.has(id)) return null;
    const own = def.output_schema
      ? parseSchemaRef(def.output_schema)
      : this.options.outputSchemaOf(def);
    if (own || def.source || def.reuse || def.process || def.inputs?.length !== 1) return own;
    seen.add(id);
    return this.producedSchema(def.inputs[0]!, seen);
  }

  /**
   * Finds a child runbook beside the runbook that names it, then in the root's template folders.
   * Returns its real path, which must stay inside the folder it was found in.
   */
  private async resolveChildPath(
    parent: LoadedRunbook,
    childPath: string,
    fieldPath: string,
  ): Promise<string | undefined> {
    const problem = childPathProblem(childPath);
    if (problem) {
      this.issue(parent, fieldPath, problem, parent.positionOf(fieldPath));
      return undefined;
    }
    const folders = [path.dirname(parent.path), ...this.templateFolders];
    const notFiles: string[] = [];
    for (const folder of folders) {
      const candidate = path.join(folder, childPath);
      const found = await stat(candidate).catch(() => null);
      if (found && !found.isFile()) notFiles.push(candidate);
      if (!found?.isFile()) continue;
      const [realFolder, realFile] = await Promise.all([realpath(folder), realpath(candidate)]);
      if (!realFile.startsWith(realFolder + path.sep)) {
        this.issue(
          parent,
          fieldPath,
          `child runbook '${childPath}' resolves to ${realFile}, outside ${folder} (symlinks may not leave the folder)`,
        );
        return undefined;
      }
      return realFile;
    }
    this.issue(
      parent,
      fieldPath,
      notFiles.length > 0
        ? `child runbook '${childPath}' is not a file: ${notFiles.join(", ")} ${notFiles.length > 1 ? "are folders or devices" : "is a folder or a device"}; name the runbook file`
        : `child runbook not found: '${childPath}' (searched ${folders.join(", ")})`,
    );
    return undefined;
  }

  private async load(
    parent: LoadedRunbook,
    file: string,
    fieldPath: string,
  ): Promise<LoadedRunbook | undefined> {
    const cached = this.loaded.get(file);
    if (cached) return cached;
    try {
      const child = await loadRunbook(file, this.options.env ?? process.env);
      this.loaded.set(file, child);
      if (child.has("config")) {
        this.warnings.push(
          formatIssue({
            path: "config",
            message:
              "a child runbook's config is not used: the root runbook's config (timeout, max_concurrency, template_paths) applies to the whole run",
            position: child.positionOf("config"),
          }),
        );
      }
      return child;
    } catch (error) {
      if (error instanceof RunbookError) for (const issue of error.issues) this.add(issue);
      else if (error instanceof InputError) this.issue(parent, fieldPath, error.message);
      else throw error;
      return undefined;
    }
  }

  private declareAlias(
    parent: LoadedRunbook,
    alias: string,
    target: string,
    fieldPath: string,
  ): void {
    const existing = this.aliasDeclarations.get(alias);
    if (existing) {
      this.issue(
        parent,
        fieldPath,
        `alias '${alias}' is already defined at ${existing.position.file}:${existing.position.line}`,
      );
      return;
    }
    this.aliasDeclarations.set(alias, {
      target,
      path: fieldPath,
      position: parent.positionOf(fieldPath),
    });
  }

  /**
   * Follows aliases to an artifact id; an artifact wins over an alias of the same name (that
   * clash is reported). Namespaced ids only grow, so this always ends.
   */
  private resolveAlias(ref: string): string {
    let current = ref;
    while (!this.artifacts[current]) {
      const next = this.aliasDeclarations.get(current);
      if (!next) break;
      current = next.target;
    }
    return current;
  }

  private insideFailedDirective(id: string): boolean {
    return this.failedDirectives.some(
      (failed) => id === failed || id.startsWith(failed + NAMESPACE_SEPARATOR),
    );
  }

  private checkAliases(resolve: (ref: string) => string): Record<string, string> {
    const aliases = emptyRecord<string>();
    for (const [alias, declaration] of this.aliasDeclarations) {
      const target = resolve(alias);
      if (this.artifacts[alias]) {
        this.issues.push({
          path: declaration.path,
          message: `alias '${alias}' has the same name as an artifact`,
          position: declaration.position,
        });
      } else if (!this.artifacts[target] && !this.insideFailedDirective(target)) {
        this.issues.push({
          path: declaration.path,
          message: `alias '${alias}' stands for '${target}', which is not an artifact (a child_runbook directive with output_mapping produces no artifact of its own)`,
          position: declaration.position,
        });
      }
      aliases[alias] = target;
    }
    return aliases;
  }

  private checkSchemas(resolve: (ref: string) => string): void {
    for (const check of this.schemaChecks) {
      const parentId = resolve(check.parentRef);
      const parentDef = this.artifacts[parentId];
      if (!parentDef && this.insideFailedDirective(parentId)) continue;
      if (!parentDef) {
        this.issues.push({
          path: check.path,
          message: `input '${check.inputName}' is mapped to '${check.mappedName}', which is not an artifact`,
          position: check.position,
        });
        continue;
      }
      const produced = this.producedSchema(parentId);
      const expected = parseSchemaRef(check.expected);
      if (!produced || sameSchema(produced, expected)) continue;
      this.issues.push({
        path: check.path,
        message: `Artifact '${check.directiveId}': parent artifact '${check.mappedName}' produces schema '${formatSchemaRef(produced)}', but child input '${check.inputName}' expects '${formatSchemaRef(expected)}'`,
        position: check.position,
      });
    }
  }

  private displayName(file: string): string {
    const relative = path.relative(this.rootFolder, file);
    return relative === "" ? path.basename(file) : relative;
  }

  private issue(
    runbook: LoadedRunbook,
    fieldPath: string,
    message: string,
    position: SourcePosition = runbook.positionOf(fieldPath),
  ): void {
    this.add({ path: fieldPath, message, position });
  }

  /** A child used by two directives is read once per use: its own problems are reported once. */
  private add(issue: Issue): void {
    const same = (i: Issue) =>
      i.path === issue.path &&
      i.message === issue.message &&
      i.position?.file === issue.position?.file &&
      i.position?.line === issue.position?.line &&
      i.position?.column === issue.position?.column;
    if (!this.issues.some(same)) this.issues.push(issue);
  }
}

/** Why a `child_runbook.path` is unsafe, or undefined if it is fine. */
export function childPathProblem(childPath: string): string | undefined {
  if (childPath.length === 0) return "child runbook path is empty";
  if (childPath.includes("\0")) return `NUL character not allowed in child runbook path`;
  if (childPath.includes("\\")) return `backslash not allowed in child runbook path: ${childPath}`;
  if (path.posix.isAbsolute(childPath) || path.win32.isAbsolute(childPath)) {
    return `absolute path not allowed: ${childPath}`;
  }
  if (childPath.split("/").includes("..")) {
    return `parent directory traversal not allowed: ${childPath}`;
  }
  return undefined;
}

function namespaced(namespace: string | null, id: string): string {
  return namespace === null ? id : `${namespace}${NAMESPACE_SEPARATOR}${id}`;
}

function uniqueSubstitutions(subs: Substitution[]): Substitution[] {
  const seen = new Set<string>();
  return subs.filter((sub) => {
    const key = `${sub.name}\0${sub.value}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
