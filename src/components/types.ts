/**
 * @module What a connector and a processor are. Components are pure: properties (and input
 * Messages) in, one Message's content out. They never touch the stores; the executor persists.
 */
import type { Issue } from "../errors.js";
import type { Message, SchemaRef } from "../message.js";

/** Runs a CPU-heavy task on a worker thread (see `execute/worker-pool.ts`). */
export interface WorkerRunner {
  /**
   * Runs `task` exported by the worker module `moduleUrl` with `payload` (structured-cloned) on a
   * pooled worker thread and resolves with its result.
   */
  run<T>(moduleUrl: string, task: string, payload: unknown, signal?: AbortSignal): Promise<T>;
  /** How many workers run at once (the machine's cores). */
  readonly size: number;
}

/** What a component gets besides its properties. */
export interface ComponentContext {
  /** Aborted on timeout or SIGINT; long loops should check it. */
  signal: AbortSignal;
  /** For CPU-heavy work, so the event loop stays free and every core is used. */
  workers: WorkerRunner;
  /** Folder of the runbook, for resolving relative paths in properties. */
  baseDir: string;
  /**
   * The properties as written in the runbook, `${VAR}` placeholders intact. Echo these — never the
   * substituted values — into output content, which is persisted.
   */
  writtenProperties: Record<string, unknown>;
  /** A warning about the data (unreadable file, skipped binary); shown to the user, not fatal. */
  warn(message: string): void;
  /**
   * Absolute paths of folders a connector must never read: wct's own store, which would otherwise
   * be scanned, run after run, by a connector whose path holds it. Unset: none.
   */
  ignoreDirs?: readonly string[];
}

/** The content a component produced, with the schema it claims; the executor wraps it in a Message. */
export interface ComponentOutput {
  content: Record<string, unknown>;
  schema: SchemaRef;
}

/** Describes a property, for `wct connectors` / `wct processors` and error messages. */
export interface PropertyDoc {
  name: string;
  type: string;
  required: boolean;
  default?: unknown;
  description: string;
  /** The keys of an `object` property, when it has fixed ones. */
  properties?: PropertyDoc[];
}

interface ComponentBase {
  /** Runbook `type` value, e.g. `filesystem`, `personal_data`. */
  readonly type: string;
  /** One line for `wct connectors` / `wct processors`. */
  readonly description: string;
  readonly properties: PropertyDoc[];
  /** Output schemas this component can produce; the first is the default. */
  readonly outputSchemas: SchemaRef[];
  /** Checks properties at plan time; issues have paths relative to `properties`. */
  validateProperties(properties: Record<string, unknown>): Issue[];
}

export interface Connector extends ComponentBase {
  readonly kind: "connector";
  extract(
    properties: Record<string, unknown>,
    outputSchema: SchemaRef,
    context: ComponentContext,
  ): Promise<ComponentOutput>;
}

export interface Processor extends ComponentBase {
  readonly kind: "processor";
  /**
   * Accepted input schema combinations: each inner list is one combination (a set; order and
   * multiplicity do not matter).
   */
  readonly inputRequirements: SchemaRef[][];
  process(
    inputs: Message[],
    properties: Record<string, unknown>,
    outputSchema: SchemaRef,
    context: ComponentContext,
  ): Promise<ComponentOutput>;
  /**
   * Loads what `process` will need with these properties on the worker threads (rulesets,
   * compiled matchers), so that the first call does not wait for it. The executor calls it once
   * per distinct properties when a run starts, without waiting; a failure is ignored (the real
   * call reports it).
   */
  prepare?(properties: Record<string, unknown>, workers: WorkerRunner): Promise<void>;
}

export type Component = Connector | Processor;

/** The installed connectors and processors, by runbook `type`. */
export interface ComponentRegistry {
  connectors: ReadonlyMap<string, Connector>;
  processors: ReadonlyMap<string, Processor>;
}
