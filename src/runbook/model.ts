/**
 * @module The runbook data model (ARCHITECTURE §2), after parsing and validation. Values keep
 * their `${VAR}` placeholders in `RunbookSource.text`; `Runbook` holds substituted values.
 */
import type { SourcePosition } from "../errors.js";

export interface ComponentSpec {
  type: string;
  properties: Record<string, unknown>;
}

export interface ReuseSpec {
  from_run: string;
  artifact: string;
}

export interface ChildRunbookSpec {
  path: string;
  input_mapping: Record<string, string>;
  output?: string;
  output_mapping?: Record<string, string>;
}

export interface ArtifactDefinition {
  name?: string;
  description?: string;
  contact?: string;
  source?: ComponentSpec;
  /** Normalised to a list. */
  inputs?: string[];
  process?: ComponentSpec;
  reuse?: ReuseSpec;
  child_runbook?: ChildRunbookSpec;
  /** `name` or `name/x.y.z`. */
  output_schema?: string;
  output: boolean;
  optional: boolean;
  merge: "concatenate";
  /** Where the artifact's key is in its runbook file, for error messages. */
  position?: SourcePosition;
  /**
   * Path inside this definition (`source.properties.path`) -> the text as written, for every
   * value written with a `${VAR}` placeholder. Persisted copies are rebuilt from these.
   */
  placeholders?: Record<string, string>;
}

export interface RunbookInputDeclaration {
  input_schema: string;
  optional: boolean;
  default?: unknown;
  sensitive: boolean;
  description?: string;
}

export interface RunbookOutputDeclaration {
  artifact: string;
  description?: string;
}

export interface RunbookConfig {
  /** Seconds for the whole run. */
  timeout: number;
  max_concurrency: number;
  template_paths: string[];
}

export interface Runbook {
  name: string;
  description: string;
  contact?: string;
  framework?: string;
  config: RunbookConfig;
  inputs?: Record<string, RunbookInputDeclaration>;
  outputs?: Record<string, RunbookOutputDeclaration>;
  /** In file order. */
  artifacts: Record<string, ArtifactDefinition>;
}

/** A parsed runbook with where it came from. */
export interface LoadedRunbook {
  runbook: Runbook;
  /** Absolute path of the file. */
  path: string;
  /** The file's text exactly as read, placeholders intact. */
  text: string;
  /**
   * The `${VAR}` substitutions made, in memory only: the executor uses them to put placeholders
   * back (redact) before anything is persisted. Never write `value` anywhere.
   */
  substitutions: Substitution[];
  /**
   * Dotted value path (`artifacts.scan.source.properties.path`, `config.timeout`) -> the text as
   * written, for every value written with a `${...}` placeholder, including values the parser then
   * made a number or a boolean of. What is persisted is rebuilt from these, never by searching
   * for substituted values.
   */
  placeholders: ReadonlyMap<string, string>;
  /** Resolve a dotted field path to a position in this file. */
  positionOf(path: string): SourcePosition;
  /** Whether the file itself has this field (`config`), rather than taking its default. */
  has(path: string): boolean;
}

/** One environment value substituted into a runbook. */
export interface Substitution {
  name: string;
  value: string;
}

/**
 * An empty record keyed by names from a runbook (artifact ids, input and output names): without a
 * prototype, so that `constructor`, `toString` or `__proto__` is a name like any other, never a
 * property every object has.
 */
export function emptyRecord<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}
