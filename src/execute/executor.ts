/**
 * @module The DAG executor: runs an ExecutionPlan under a run ID, starting each artifact as soon as
 * its own inputs have produced their output, and persists every artifact (ArtifactStore) and every state change
 * (ExecutionStore event log) as it happens. It holds the run's lease with a heartbeat, so a
 * crashed run is detected as stale and two processes never execute one run.
 */
import { randomUUID } from "node:crypto";
import { setMaxListeners } from "node:events";
import { promises as fs } from "node:fs";
import path from "node:path";
import pLimit, { type LimitFunction } from "p-limit";
import type {
  ComponentContext,
  ComponentOutput,
  ComponentRegistry,
  WorkerRunner,
} from "../components/types.js";
import { ComponentError, ConflictError, errorMessage, WctError } from "../errors.js";
import { formatSchemaRef, type Message } from "../message.js";
import { transitiveDependents } from "../plan/dag.js";
import { changedArtifacts, type PlanJson } from "../plan/plan-json.js";
import type { ExecutionPlan, PlannedArtifact } from "../plan/planner.js";
import { redactSubstitutions } from "../runbook/env.js";
import type { Substitution } from "../runbook/model.js";
import { validateContent } from "../schemas/registry.js";
import type { ArtifactStore, StoredArtifact } from "../stores/artifact/store.js";
import type {
  ArtifactState,
  ExecutionStore,
  LeaseOwner,
  RunEvent,
  RunRecord,
  RunStatus,
} from "../stores/execution/store.js";
import { newRunId } from "../stores/keys.js";
import { readRecordedMessage, readRecordedPlan, verifyRecorded } from "../stores/recorded.js";
import type { EngineListener } from "./events.js";

/** Who started the run, for the run record. */
export interface RunOrigin {
  tool_version: string;
  user: string;
  host: string;
  /** Already redacted. */
  argv: string[];
}

export interface ExecuteOptions {
  plan: ExecutionPlan;
  /** The plan as it is persisted (placeholders, digests). */
  planJson: PlanJson;
  runbook: RunRecord["runbook"];
  registry: ComponentRegistry;
  artifacts: ArtifactStore;
  executions: ExecutionStore;
  workers: WorkerRunner;
  /** Environment values substituted into the runbook; put back as placeholders before persisting. */
  substitutions: Substitution[];
  origin: RunOrigin;
  /** Continue this run instead of starting a new one. */
  resumeRunId?: string;
  /** For a resume: the checks of its kept artifacts, started early (see `startKeptChecks`). */
  keptChecks?: Promise<KeptChecks>;
  /** Aborting it interrupts the run (SIGINT). */
  signal?: AbortSignal;
  onEvent?: EngineListener;
  /**
   * Told the run ID as soon as the run is this process's (created, or its lease taken on a
   * resume), before its first event is recorded.
   */
  onRunCreated?: (runId: string) => void;
  /**
   * Told once every artifact of the run has ended: nothing of the run asks `workers` for more work,
   * so the caller may close them while the run's end is recorded (their threads take tens of
   * milliseconds to tear down).
   */
  onWorkDone?: () => void;
  /**
   * Runs once the run is recorded finished, while this process still holds its lease: what it
   * reads of the run then (its record, an export) no other process can delete meanwhile.
   */
  whileHeld?: (result: RunResult) => Promise<void>;
  /** How often the lease heartbeat is written. @default 5000 */
  heartbeatMs?: number;
  /** Folders connectors must never read (the filesystem store's); see `ComponentContext`. */
  ignoreDirs?: readonly string[];
}

export interface RunResult {
  runId: string;
  status: Exclude<RunStatus, "running">;
  /** Why the run was interrupted, if it was. */
  reason: string | null;
  attempt: number;
  durationSeconds: number;
  /** Artifacts kept from an earlier attempt (resume). */
  kept: string[];
}

/** Raised inside the executor when the run is stopped (timeout or SIGINT). */
class RunStopped extends Error {}

/** How long running components get to notice a stop before the run is closed without them. */
const STOP_GRACE_MS = 5000;
/** How long a finished run waits for artifact saves still in flight before it releases its lease. */
const SAVE_GRACE_MS = 30_000;
/** setTimeout's ceiling; longer timeouts would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Plans are executed by this; see the module comment. */
export async function executePlan(options: ExecuteOptions): Promise<RunResult> {
  const started = performance.now();
  const { plan, executions, artifacts, substitutions } = options;
  const owner: LeaseOwner = {
    pid: process.pid,
    host: options.origin.host,
    token: randomUUID(),
  };
  const redact = (text: string): string => redactSubstitutions(text, substitutions) as string;
  // First on the worker threads, ahead of a resume's checks of kept artifacts.
  prepareProcessors(options);

  /** On resume: each artifact completed earlier -> null if its stored bytes still match, else why. */
  const verifications = new Map<string, Promise<unknown>>();
  let runId: string;
  let attempt: number;
  if (options.resumeRunId) {
    runId = options.resumeRunId;
    await executions.acquireLease(runId, owner);
    try {
      const stored = await readRecordedPlan(executions, runId);
      // The run is a run of its runbook: another one (or this one renamed) cannot continue it.
      if (stored.runbook.name !== options.planJson.runbook.name) {
        const record = await executions.getRun(runId);
        throw new ConflictError(
          `cannot resume run ${runId}: it is a run of the runbook named '${stored.runbook.name}' (${record.runbook.path}), not '${options.planJson.runbook.name}'; start a new run instead`,
          { code: "runbook_changed" },
        );
      }
      // Relative paths resolve in the runbook's folder: a copy elsewhere reads other data.
      const recorded = (await executions.getRun(runId)).runbook.path;
      if (
        path.isAbsolute(recorded) &&
        path.isAbsolute(options.runbook.path) &&
        !(await sameFolder(path.dirname(recorded), path.dirname(options.runbook.path)))
      ) {
        throw new ConflictError(
          `cannot resume run ${runId}: it ran the runbook in ${path.dirname(recorded)}, not in ${path.dirname(options.runbook.path)}, and relative paths would now read other data; resume it from there, or start a new run`,
          { code: "runbook_changed" },
        );
      }
      const changed = changedArtifacts(stored, options.planJson);
      if (changed.length > 0) {
        throw new ConflictError(
          `cannot resume run ${runId}: the runbook changed since it started (artifacts changed: ${changed.join(", ")}); start a new run instead`,
          { code: "runbook_changed" },
        );
      }
      // Checked while the run goes on: artifacts that need none of them start at once. A check
      // started before the lease counts if the artifact is still recorded with the same sha256.
      const early = await options.keptChecks;
      const limit = pLimit(VERIFY_CONCURRENCY);
      const states = (await executions.getRunDetails(runId)).artifacts;
      for (const state of keepable(plan, states)) {
        const started = early?.get(state.id);
        verifications.set(
          state.id,
          started?.sha256 === state.sha256
            ? started.check
            : checkKept(limit, artifacts, runId, state),
        );
      }
      const record = await executions.beginAttempt(
        runId,
        { plan: options.planJson, runbook: options.runbook, argv: options.origin.argv },
        owner,
      );
      attempt = record.attempt;
    } catch (error) {
      await executions.releaseLease(runId, owner);
      throw error;
    }
  } else {
    runId = newRunId();
    attempt = 1;
    await executions.createRun(
      {
        run_id: runId,
        runbook: options.runbook,
        ...options.origin,
        artifact_ids: [...plan.artifacts.keys()],
        plan: options.planJson,
        started_at: new Date().toISOString(),
      },
      owner,
    );
  }

  options.onRunCreated?.(runId);

  let leaseLost: ConflictError | null = null;
  /** Another process took the run over: stop at once and write nothing more into it. */
  const loseLease = (error: ConflictError): void => {
    if (leaseLost) return;
    leaseLost = error;
    log.close();
    scheduler.stop(`lease lost: ${error.message}`);
  };
  const lease: RunLease = {
    lost: () => leaseLost !== null,
    // Throws once this process no longer holds the run; the artifact store runs it right before
    // an artifact's bytes (already written aside) replace what is stored.
    guard: async () => {
      if (leaseLost) throw leaseLost;
      try {
        await executions.checkLease(runId, owner);
      } catch (error) {
        if (isLeaseLost(error)) loseLease(error);
        throw error;
      }
    },
  };
  // Nothing more can be recorded: stop, and let `flush` raise the store's error.
  const cannotRecord = (error: unknown): void =>
    scheduler.stop(`cannot record the run: ${errorMessage(error)}`);
  const log = new EventLog(runId, executions, owner, options.onEvent, loseLease, cannotRecord);
  const scheduler = new Scheduler(options, runId, log, verifications, redact, lease);
  const heartbeat = setInterval(() => {
    executions.heartbeat(runId, owner).catch((error: unknown) => {
      if (isLeaseLost(error)) loseLease(error);
    });
  }, options.heartbeatMs ?? 5000);
  heartbeat.unref();

  try {
    log.append({
      type: "run_started",
      attempt,
      resumed: Boolean(options.resumeRunId),
      pid: process.pid,
      host: owner.host,
      runbook_sha256: options.runbook.sha256,
    });
    const outcome = await scheduler.run();
    options.onWorkDone?.();
    await log.flush();
    if (leaseLost) throw leaseLost;
    log.append({
      type: "run_finished",
      status: outcome.status,
      ...(outcome.reason ? { reason: outcome.reason } : {}),
    });
    await log.flush();
    const result: RunResult = {
      runId,
      status: outcome.status,
      reason: outcome.reason,
      attempt,
      durationSeconds: (performance.now() - started) / 1000,
      kept: scheduler.kept,
    };
    await options.whileHeld?.(result);
    return result;
  } finally {
    clearInterval(heartbeat);
    // A save still in flight (a stop cut its artifact short) must land before another process
    // may take the run over.
    await scheduler.settleSaves();
    await executions.releaseLease(runId, owner).catch(() => {});
  }
}

/**
 * Starts `prepare` of every processor the plan runs, once per distinct properties, without
 * waiting: the worker threads load rulesets while the run's first artifacts are read.
 */
function prepareProcessors({ plan, registry, workers }: ExecuteOptions): void {
  const prepared = new Set<string>();
  for (const { definition, reuseFromRun } of plan.artifacts.values()) {
    const spec = definition.process;
    if (!spec || reuseFromRun) continue;
    const processor = registry.processors.get(spec.type);
    const key = JSON.stringify([spec.type, spec.properties]);
    if (!processor?.prepare || prepared.has(key)) continue;
    prepared.add(key);
    processor.prepare(spec.properties, workers).catch(() => {});
  }
}

/**
 * The completed artifacts a resume may keep: those whose inputs it may keep too. One derived from
 * an input that runs again runs again (a log that lost an input's completion, by damage, has
 * such artifacts).
 */
function keepable(plan: ExecutionPlan, states: ArtifactState[]): ArtifactState[] {
  const completed = new Map(
    states.filter((s) => s.status === "completed").map((state) => [state.id, state]),
  );
  const decided = new Map<string, boolean>();
  const keep = (id: string): boolean => {
    let known = decided.get(id);
    if (known === undefined) {
      decided.set(id, false);
      const inputs = plan.artifacts.get(id)?.inputs ?? [];
      known = completed.has(id) && inputs.every(keep);
      decided.set(id, known);
    }
    return known;
  };
  return [...completed.values()].filter((state) => keep(state.id));
}

/**
 * Kept artifacts checked at once on resume: enough that the filesystem store queues their hashing
 * on the worker threads ahead of the first re-run components' tasks, while few enough for a store
 * that answers over the network.
 */
const VERIFY_CONCURRENCY = 64;

/**
 * Checks of a resume's kept artifacts against their recorded sha256, by artifact id: the sha256 each
 * was checked against, and the check (null when the stored bytes match, else why not).
 */
export type KeptChecks = Map<string, { sha256: string | null; check: Promise<unknown> }>;

/** Checks one completed artifact's stored bytes; never rejects (the scheduler decides). */
function checkKept(
  limit: LimitFunction,
  artifacts: ArtifactStore,
  runId: string,
  state: ArtifactState,
): Promise<unknown> {
  return limit(() => verifyRecorded(artifacts, runId, state)).then(
    () => null,
    (error: unknown) => error ?? new Error("check failed"),
  );
}

/**
 * Starts checking the stored bytes of the run's completed artifacts before the resume holds the
 * run's lease (reading needs none), so that the hashing overlaps the planning of the resume. The
 * resume uses a check only if the artifact is still recorded with the sha256 it was checked
 * against; when the run cannot be read, there are none (the resume reports why).
 */
export async function startKeptChecks(
  artifacts: ArtifactStore,
  executions: ExecutionStore,
  runId: string,
): Promise<KeptChecks> {
  const checks: KeptChecks = new Map();
  let states: ArtifactState[];
  try {
    states = (await executions.getRunDetails(runId)).artifacts;
  } catch {
    return checks;
  }
  const limit = pLimit(VERIFY_CONCURRENCY);
  for (const state of states) {
    if (state.status !== "completed") continue;
    checks.set(state.id, {
      sha256: state.sha256,
      check: checkKept(limit, artifacts, runId, state),
    });
  }
  return checks;
}

/**
 * Whether two folders are one: the same path, or paths that symlinks lead to the same folder. A
 * folder that is gone is compared by its path.
 */
async function sameFolder(a: string, b: string): Promise<boolean> {
  if (a === b) return true;
  const real = (dir: string) => fs.realpath(dir).catch(() => dir);
  const [first, second] = await Promise.all([real(a), real(b)]);
  return first === second;
}

/** Whether a store refused a write because this process no longer holds the run's lease. */
function isLeaseLost(error: unknown): error is ConflictError {
  return error instanceof ConflictError && error.code === "lease_lost";
}

type EventInput = RunEvent extends infer E
  ? E extends RunEvent
    ? Omit<E, "event_id" | "at" | "seq">
    : never
  : never;

/**
 * Appends events in call order and never waits for them: only `flush`, at the end of the run,
 * does. The log is one append-only file, so an event is durable only once every event appended
 * before it is: an artifact's `artifact_completed` (written after its file is durable) precedes
 * whatever its dependents and the run's end record, and a crash can lose only a tail of
 * completions, whose artifacts a resume runs again. Not waiting lets the store batch the appends
 * of many artifacts into one fsync. A failed append calls `onFailure`; `flush` rethrows it.
 */
class EventLog {
  #tail: Promise<void> = Promise.resolve();
  #failure: unknown = null;
  #closed = false;
  /**
   * @param onLeaseLost Called when the store refuses an append because `owner` lost the run.
   * @param onFailure Called when an append fails otherwise (the run can no longer be recorded).
   */
  constructor(
    private readonly runId: string,
    private readonly store: ExecutionStore,
    private readonly owner: LeaseOwner,
    private readonly listener: EngineListener | undefined,
    private readonly onLeaseLost: (error: ConflictError) => void,
    private readonly onFailure: (error: unknown) => void,
  ) {}

  append(input: EventInput): void {
    if (this.#closed) return;
    const event = { ...input, event_id: randomUUID(), at: new Date().toISOString() } as RunEvent;
    const written = this.store.appendEvents(this.runId, [event], this.owner);
    written.catch((error: unknown) => {
      if (isLeaseLost(error)) this.onLeaseLost(error);
      else this.onFailure(error);
    });
    this.#tail = Promise.all([this.#tail, written]).then(
      () => this.listener?.({ ...event, run_id: this.runId }),
      (error: unknown) => {
        this.#failure ??= error;
      },
    );
  }

  warn(artifactId: string, message: string): void {
    this.listener?.({
      type: "artifact_warning",
      artifact_id: artifactId,
      message,
      at: new Date().toISOString(),
      run_id: this.runId,
    });
  }

  /** Drops every later append: the run now belongs to another process. */
  close(): void {
    this.#closed = true;
  }

  /** Waits until every appended event is durable; rethrows the first store failure. */
  async flush(): Promise<void> {
    await this.#tail;
    if (this.#failure) throw this.#failure;
  }
}

/** This process's hold on the run, as the scheduler sees it. */
interface RunLease {
  /** Whether another process has taken the run over (known without any I/O). */
  lost(): boolean;
  /** Passes while this process holds the run; throws the store's `lease_lost` error once not. */
  guard(): Promise<void>;
}

interface Outcome {
  status: Exclude<RunStatus, "running">;
  reason: string | null;
}

/** One execution attempt over the DAG. */
class Scheduler {
  readonly #plan: ExecutionPlan;
  readonly #done = new Map<string, "completed" | "failed" | "skipped">();
  /** Started and not yet finished: producing, or writing their output to the stores. */
  readonly #running = new Map<string, Promise<void>>();
  /** How many of `#running` are still producing (their component holds a concurrency slot). */
  #producing = 0;
  /** Not yet started, in plan order. */
  readonly #waiting: Set<string>;
  /** Completed in an earlier attempt, their stored bytes still being checked: not yet startable. */
  readonly #verifying = new Set<string>();
  readonly #saves = new Set<Promise<StoredArtifact>>();
  /** Artifacts kept from an earlier attempt, their stored bytes verified, and their inputs kept. */
  readonly kept: string[] = [];
  /** Verified, still in `#verifying`: kept once their inputs are (`#decideKept`). */
  readonly #intact = new Set<string>();
  readonly #cache = new Map<string, Message>();
  /**
   * Produced, with readers, and still being stored: each resolves true once the artifact is
   * recorded completed, false when it ends any other way. Readers start on the Message at once.
   */
  readonly #recording = new Map<string, Promise<boolean>>();
  readonly #controller = new AbortController();
  #stopReason: string | null = null;
  /** What was running when the run was stopped: recorded as cut short, not as never started. */
  #runningAtStop = new Set<string>();
  /** Set once the outcome is decided; late results of abandoned components are then dropped. */
  #closed = false;
  #wake: () => void = () => {};

  constructor(
    private readonly options: ExecuteOptions,
    private readonly runId: string,
    private readonly log: EventLog,
    verifications: ReadonlyMap<string, Promise<unknown>>,
    private readonly redact: (text: string) => string,
    private readonly lease: RunLease,
  ) {
    this.#plan = options.plan;
    // Every running component and every queued worker task listens to it: no listener limit.
    setMaxListeners(0, this.#controller.signal);
    this.#waiting = new Set(this.#plan.artifacts.keys());
    for (const [id, check] of verifications) {
      this.#verifying.add(id);
      void check.then((problem) => this.#checked(id, problem));
    }
  }

  /**
   * A kept artifact's check is over. Intact, it stays completed. A stored file that is missing,
   * unreadable or changed means "run it again", which is always safe. A check that could not be
   * made at all (the store failed, not the file) stops the run, and the artifact keeps its
   * earlier record for the next resume.
   */
  #checked(id: string, problem: unknown): void {
    if (problem && !(problem instanceof WctError)) {
      this.stop(`cannot check the stored artifact '${id}': ${errorMessage(problem)}`);
      return;
    }
    // Already decided: it runs again, as an input of it does.
    if (!this.#verifying.has(id)) return;
    if (problem instanceof WctError) {
      this.#runAgain(id, `its stored file failed its check (${problem.message})`);
    } else {
      this.#intact.add(id);
    }
    this.#decideKept();
    this.#wake();
  }

  /** An intact artifact is kept once every input of it is kept. */
  #decideKept(): void {
    for (let changed = true; changed; ) {
      changed = false;
      for (const id of this.#intact) {
        // A completed input is a kept one: the dependents of one that runs again left `#intact`.
        const inputs = this.#plan.artifacts.get(id)!.inputs;
        if (!inputs.every((i) => this.#done.get(i) === "completed")) continue;
        this.#intact.delete(id);
        this.#verifying.delete(id);
        // Once the outcome is decided, the artifact keeps its earlier record.
        if (!this.#closed) {
          this.#waiting.delete(id);
          this.#done.set(id, "completed");
          this.kept.push(id);
        }
        changed = true;
      }
    }
  }

  /**
   * A kept artifact runs again, and so does everything derived from it that completed earlier:
   * its findings came from bytes that are not the input's any more. Those are recorded skipped
   * at once, so that a crash or a stop before they run again cannot leave them completed.
   */
  #runAgain(id: string, because: string): void {
    this.#verifying.delete(id);
    this.#intact.delete(id);
    // Once the outcome is decided, the artifacts keep their earlier records.
    if (this.#closed) return;
    this.log.warn(id, `runs again: ${because}`);
    const reason = `'${id}', which it is derived from, runs again`;
    for (const dependent of transitiveDependents(this.#plan.dependents, id)) {
      if (!this.#verifying.has(dependent)) continue;
      this.#verifying.delete(dependent);
      this.#intact.delete(dependent);
      this.log.warn(dependent, `runs again: ${reason}`);
      this.log.append({ type: "artifact_skipped", artifact_id: dependent, because: reason });
    }
  }

  /** Stops the run: nothing new starts, running components are aborted. The first reason wins. */
  stop(reason: string): void {
    if (this.#stopReason) return;
    // `timed out after ${T} s`: the reason is stored, as every message is, redacted.
    this.#stopReason = this.redact(reason);
    this.#runningAtStop = new Set(this.#running.keys());
    this.#controller.abort(new RunStopped(reason));
    this.#wake();
  }

  async run(): Promise<Outcome> {
    const { timeout, max_concurrency: limit } = this.#plan.runbook.config;
    const timer = setTimeout(
      () => this.stop(`timed out after ${timeout} s`),
      Math.min(timeout * 1000, MAX_TIMER_MS),
    );
    // The caller's reason, when it gave one as text (the CLI: Ctrl-C).
    const onAbort = () => {
      const reason = this.options.signal?.reason;
      this.stop(typeof reason === "string" ? reason : "stopped");
    };
    if (this.options.signal?.aborted) onAbort();
    this.options.signal?.addEventListener("abort", onAbort, { once: true });
    let grace: Promise<"late"> | undefined;
    try {
      for (;;) {
        if (!this.#stopReason) {
          // At most `max_concurrency` components at once. An artifact whose component is done
          // lets go of its slot while it is written to the stores, so component work overlaps
          // the stores' fsyncs; at most twice `max_concurrency` artifacts are in flight.
          const free = Math.min(limit - this.#producing, 2 * limit - this.#running.size);
          for (const id of this.#ready(free)) {
            this.#waiting.delete(id);
            this.#running.set(
              id,
              this.#execute(id).finally(() => {
                this.#running.delete(id);
                this.#wake();
              }),
            );
          }
        }
        if (this.#running.size === 0 && (this.#stopReason || this.#verifying.size === 0)) break;
        const settled = new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        if (!this.#stopReason) {
          await settled;
          continue;
        }
        // A component that ignores the abort signal must not keep a stopped run open forever:
        // the grace period starts once, at the first wait after the stop.
        grace ??= new Promise<"late">((resolve) =>
          setTimeout(resolve, STOP_GRACE_MS, "late").unref(),
        );
        if ((await Promise.race([settled, grace])) === "late") break;
      }
    } finally {
      clearTimeout(timer);
      this.options.signal?.removeEventListener("abort", onAbort);
    }
    // A stop that came after every artifact had finished changes nothing.
    const everythingDone = [...this.#plan.artifacts.keys()].every((id) => this.#done.has(id));
    if (this.#stopReason && !everythingDone) {
      this.#closed = true;
      for (const id of this.#plan.artifacts.keys()) {
        // One still being verified keeps its earlier `completed` record for the next resume.
        if (this.#done.has(id) || this.#verifying.has(id)) continue;
        this.#done.set(id, "skipped");
        // One that was running is told from one that never started.
        const because = this.#runningAtStop.has(id)
          ? `${this.#stopReason} while it ran`
          : this.#stopReason;
        this.log.append({ type: "artifact_skipped", artifact_id: id, because });
      }
      return { status: "interrupted", reason: this.#stopReason };
    }
    const requiredFailure = [...this.#done].some(
      ([id, status]) => status === "failed" && !this.#plan.artifacts.get(id)?.definition.optional,
    );
    return { status: requiredFailure ? "failed" : "completed", reason: null };
  }

  /** Up to `max` not yet started artifacts whose inputs are all completed, in plan order. */
  #ready(max: number): string[] {
    const ready: string[] = [];
    for (const id of this.#waiting) {
      if (ready.length >= max) break;
      if (this.#verifying.has(id)) continue;
      const { inputs } = this.#plan.artifacts.get(id)!;
      if (
        inputs.every((input) => this.#done.get(input) === "completed" || this.#recording.has(input))
      ) {
        ready.push(id);
      }
    }
    return ready;
  }

  async #execute(id: string): Promise<void> {
    const artifact = this.#plan.artifacts.get(id)!;
    const begun = performance.now();
    const elapsed = () => (performance.now() - begun) / 1000;
    this.log.append({ type: "artifact_started", artifact_id: id });
    /** Set while its readers may start on its output (see `#recording`). */
    let settle: ((completed: boolean) => void) | undefined;
    this.#producing++;
    let produced = false;
    const releaseSlot = () => {
      if (produced) return;
      produced = true;
      this.#producing--;
      this.#wake();
    };
    try {
      if (artifact.reuseFromRun) {
        if (await this.#reuse(artifact, artifact.reuseFromRun)) this.#done.set(id, "completed");
        return;
      }
      const output = await this.#produce(artifact);
      const problems = validateContent(output.schema, output.content);
      if (problems.length > 0) {
        const shown = problems
          .slice(0, 3)
          .map((p) => `${p.path || "(root)"}: ${p.message}`)
          .join("; ");
        throw new ComponentError(
          `output does not match schema ${formatSchemaRef(output.schema)}: ${shown}${problems.length > 3 ? ` (+${problems.length - 3} more)` : ""}`,
        );
      }
      // Skipped while it ran: an input it started on could not be stored.
      if (this.#done.has(id)) return;
      const duration = elapsed();
      const message = this.#message(artifact, output, duration);
      // Its readers start now, on the Message, while it is stored; each is recorded only after
      // its inputs are, so the log never holds a completed artifact whose input is not.
      if (this.#keepForReaders(id, message)) {
        this.#recording.set(id, new Promise<boolean>((resolve) => (settle = resolve)));
      }
      releaseSlot();
      if (!(await this.#inputsRecorded(artifact))) return;
      // Serialising a large Message holds the main thread for tens of milliseconds: the readers
      // started above hand their work to the worker threads first (they get there within the
      // microtasks of this turn), so that the threads do not wait meanwhile.
      if (settle) await new Promise<void>((resolve) => setImmediate(resolve));
      const stored = await this.#save(id, message);
      if (!stored) return;
      this.log.append({
        type: "artifact_completed",
        artifact_id: id,
        sha256: stored.sha256,
        bytes: stored.bytes,
        schema: output.schema,
        duration_seconds: duration,
      });
      this.#done.set(id, "completed");
    } catch (error) {
      // Cut short by a stop: left undone, so the run ends interrupted and records it skipped.
      // Already done: skipped, as an input of it failed to be stored while it ran.
      if (this.#closed || this.#stopReason || this.#done.has(id)) return;
      this.#fail(id, this.redact(errorMessage(error)), elapsed());
    } finally {
      releaseSlot();
      this.#release(artifact);
      const completed = this.#done.get(id) === "completed";
      if (!completed) this.#cache.delete(id);
      this.#recording.delete(id);
      settle?.(completed);
    }
  }

  /** Waits for the inputs still being stored; false when one of them was not recorded completed. */
  async #inputsRecorded(artifact: PlannedArtifact): Promise<boolean> {
    const pending = artifact.inputs.map((input) => this.#recording.get(input));
    if (pending.some((p) => p !== undefined)) await Promise.all(pending);
    return artifact.inputs.every((input) => this.#done.get(input) === "completed");
  }

  #fail(id: string, error: string, duration: number): void {
    this.#done.set(id, "failed");
    this.log.append({
      type: "artifact_failed",
      artifact_id: id,
      error,
      duration_seconds: duration,
    });
    for (const dependent of transitiveDependents(this.#plan.dependents, id)) {
      if (this.#done.has(dependent)) continue;
      this.#waiting.delete(dependent);
      this.#done.set(dependent, "skipped");
      this.log.append({
        type: "artifact_skipped",
        artifact_id: dependent,
        because: `${id} failed`,
      });
    }
  }

  /** Keeps a Message in memory for the artifacts that read it (see `#release`); false if none do. */
  #keepForReaders(id: string, message: Message): boolean {
    if ((this.#plan.dependents.get(id) ?? []).length === 0) return false;
    this.#cache.set(id, message);
    return true;
  }

  /** Forgets cached inputs once every reader of them has finished. */
  #release(artifact: PlannedArtifact): void {
    for (const input of artifact.inputs) {
      const readers = this.#plan.dependents.get(input) ?? [];
      if (readers.every((r) => this.#done.has(r))) this.#cache.delete(input);
    }
  }

  async #input(id: string): Promise<Message> {
    return this.#cache.get(id) ?? (await this.options.artifacts.get(this.runId, id));
  }

  #context(id: string): ComponentContext {
    const written = this.options.planJson.artifacts[id]?.definition as
      | {
          source?: { properties?: Record<string, unknown> };
          process?: { properties?: Record<string, unknown> };
        }
      | undefined;
    return {
      signal: this.#controller.signal,
      workers: this.options.workers,
      baseDir: this.#plan.artifacts.get(id)!.baseDir,
      writtenProperties: (written?.source ?? written?.process)?.properties ?? {},
      warn: (message) => this.log.warn(id, this.redact(message)),
      ...(this.options.ignoreDirs ? { ignoreDirs: this.options.ignoreDirs } : {}),
    };
  }

  async #produce(artifact: PlannedArtifact): Promise<ComponentOutput> {
    const { definition: def, outputSchema } = artifact;
    const { registry } = this.options;
    if (def.source) {
      const connector = registry.connectors.get(def.source.type)!;
      return connector.extract(def.source.properties, outputSchema, this.#context(artifact.id));
    }
    const inputs = await Promise.all(artifact.inputs.map((input) => this.#input(input)));
    if (!def.process) {
      const only = inputs[0]!;
      return { content: only.content, schema: only.schema };
    }
    const processor = registry.processors.get(def.process.type)!;
    return processor.process(
      inputs,
      def.process.properties,
      outputSchema,
      this.#context(artifact.id),
    );
  }

  #message(artifact: PlannedArtifact, output: ComponentOutput, duration: number): Message {
    const def = artifact.definition;
    const source = def.source
      ? `connector:${def.source.type}`
      : def.process
        ? `processor:${def.process.type}`
        : `inputs:${artifact.inputs.join(",")}`;
    return {
      id: randomUUID(),
      content: output.content,
      schema: output.schema,
      context: null,
      run_id: this.runId,
      source,
      timestamp: new Date().toISOString(),
      extensions: {
        execution: {
          status: "success",
          error: null,
          duration_seconds: duration,
          origin: artifact.origin,
          alias: artifact.alias,
        },
      },
    };
  }

  /**
   * Stores an artifact's Message while this process still holds the run; null, storing nothing,
   * once it does not or the outcome is decided. The store checks the lease last, once the bytes
   * are written aside and right before they replace anything, so that a process stalled while
   * writing (and taken over meanwhile) does not replace the new owner's artifact when it wakes.
   * Saves in flight are tracked: the run waits for them (`settleSaves`) before it lets go of its
   * lease.
   */
  async #save(id: string, message: Message): Promise<StoredArtifact | null> {
    if (this.#closed || this.lease.lost()) return null;
    const saving = this.options.artifacts.save(this.runId, id, message, this.lease.guard);
    this.#saves.add(saving);
    try {
      const stored = await saving;
      return this.#closed ? null : stored;
    } catch (error) {
      // The run was lost before the bytes replaced anything: nothing was stored.
      if (isLeaseLost(error)) return null;
      throw error;
    } finally {
      this.#saves.delete(saving);
    }
  }

  /** Waits (up to `SAVE_GRACE_MS`) for artifact saves still in flight. */
  async settleSaves(): Promise<void> {
    if (this.#saves.size === 0) return;
    const grace = new Promise((resolve) => setTimeout(resolve, SAVE_GRACE_MS).unref());
    await Promise.race([Promise.allSettled([...this.#saves]), grace]);
  }

  /**
   * Copies an artifact of an earlier run into this one, checking it against the hash recorded
   * there; false when nothing was stored.
   */
  async #reuse(artifact: PlannedArtifact, fromRun: string): Promise<boolean> {
    const begun = performance.now();
    const { artifacts, executions } = this.options;
    const fromArtifact = artifact.definition.reuse!.artifact;
    const recorded = (await executions.getRunDetails(fromRun)).artifacts.find(
      (a) => a.id === fromArtifact,
    );
    if (!recorded) throw new ComponentError(`run ${fromRun} has no artifact '${fromArtifact}'`);
    // Checked against the sha256 the source run recorded: what is copied is what was checked.
    const original = await readRecordedMessage(artifacts, fromRun, recorded);
    // The content is the source's; how it came to be in this run is this run's own.
    const copy: Message = {
      ...original,
      run_id: this.runId,
      source: `reuse:${fromRun}/${fromArtifact}`,
      timestamp: new Date().toISOString(),
      extensions: {
        ...original.extensions,
        execution: {
          status: "success",
          error: null,
          duration_seconds: (performance.now() - begun) / 1000,
          origin: artifact.origin,
          alias: artifact.alias,
        },
      },
    };
    const stored = await this.#save(artifact.id, copy);
    if (!stored) return false;
    this.log.append({
      type: "artifact_reused",
      artifact_id: artifact.id,
      from_run: fromRun,
      from_artifact: fromArtifact,
      // Set whenever readRecordedMessage accepted the bytes.
      source_sha256: recorded.sha256!,
      sha256: stored.sha256,
      bytes: stored.bytes,
      schema: copy.schema,
    });
    this.#keepForReaders(artifact.id, copy);
    return true;
  }
}
