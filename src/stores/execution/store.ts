/**
 * @module The ExecutionStore interface (ARCHITECTURE §4.1): per run, a run record and an
 * append-only event log from which every status is derived; listing with filters; leases that
 * keep two processes from executing one run. Backends: `memory.ts`, `filesystem.ts`; every backend
 * passes `test/stores/execution-store-suite.ts`.
 */
import type { SchemaRef } from "../../message.js";

export const RUN_STATUSES = ["running", "completed", "failed", "interrupted"] as const;
/** Status of a run. `interrupted` covers a timed-out run, SIGINT, and a run whose process died. */
export type RunStatus = (typeof RUN_STATUSES)[number];

export const ARTIFACT_STATUSES = [
  "not_started",
  "running",
  "completed",
  "failed",
  "skipped",
] as const;
export type ArtifactStatus = (typeof ARTIFACT_STATUSES)[number];

/** Fields every event carries. `event_id` makes appends idempotent; `seq` is assigned by the store. */
interface EventBase {
  event_id: string;
  /** ISO 8601 UTC. */
  at: string;
  /** Position in the run's log, 1-based; assigned by the store on append. */
  seq?: number;
}

/** The persisted audit trail of a run. */
export type RunEvent = EventBase &
  (
    | {
        type: "run_started";
        attempt: number;
        resumed: boolean;
        pid: number;
        host: string;
        /** The runbook this attempt ran (a resume may run one edited since, comments only). */
        runbook_sha256?: string;
      }
    | { type: "artifact_started"; artifact_id: string }
    | {
        type: "artifact_completed";
        artifact_id: string;
        sha256: string;
        bytes: number;
        schema: SchemaRef;
        duration_seconds: number;
      }
    | { type: "artifact_failed"; artifact_id: string; error: string; duration_seconds: number }
    | { type: "artifact_skipped"; artifact_id: string; because: string }
    | {
        type: "artifact_reused";
        artifact_id: string;
        from_run: string;
        from_artifact: string;
        /** sha256 of the source artifact's bytes in `from_run`. */
        source_sha256: string;
        /** sha256 of the copy stored in this run. */
        sha256: string;
        bytes: number;
        schema: SchemaRef;
      }
    | { type: "run_finished"; status: Exclude<RunStatus, "running">; reason?: string }
  );

export type RunEventType = RunEvent["type"];

/** Where an artifact's content came from when it was not produced in this run. */
export interface Provenance {
  from_run: string;
  from_artifact: string;
  /** sha256 of the source artifact's bytes in `from_run` (the event's `source_sha256`). */
  sha256: string;
}

/** Per-artifact state, derived from the event log. */
export interface ArtifactState {
  id: string;
  status: ArtifactStatus;
  started_at: string | null;
  finished_at: string | null;
  duration_seconds: number | null;
  error: string | null;
  /** Why it was skipped (`a failed`, `timeout`, `interrupted`). */
  because: string | null;
  sha256: string | null;
  bytes: number | null;
  schema: SchemaRef | null;
  provenance: Provenance | null;
}

export type StatusCounts = Record<ArtifactStatus, number>;

/** The run record: `_system/metadata.json` on the filesystem. */
export interface RunRecord {
  run_id: string;
  /** Tenant that owns the run; null for local stores. */
  tenant: string | null;
  status: RunStatus;
  runbook: {
    name: string;
    /** Path as given on the command line (upstream: `runbook_path`). */
    path: string;
    /** sha256 of the runbook text. */
    sha256: string;
    /** Runbook text with `${VAR}` placeholders, never substituted. */
    text: string;
  };
  tool_version: string;
  user: string;
  host: string;
  /** Command line with secret-looking values redacted. */
  argv: string[];
  started_at: string;
  finished_at: string | null;
  /** Artifact IDs of the plan, in plan order. */
  artifact_ids: string[];
  counts: StatusCounts;
  /** 1 for the first execution, +1 for each resume. */
  attempt: number;
  /**
   * Set only by `listRuns` for a run folder whose record cannot be read (missing or corrupt
   * `metadata.json`): what is wrong. Such a run is listed `interrupted` with runbook name `?`
   * rather than silently left out.
   */
  problem?: string;
}

/** What the executor supplies to create a run; the store fills in status, counts and times. */
export interface NewRun {
  run_id: string;
  tenant?: string | null;
  runbook: RunRecord["runbook"];
  tool_version: string;
  user: string;
  host: string;
  argv: string[];
  artifact_ids: string[];
  /** The execution plan as JSON (with `${VAR}` placeholders); stored as `_system/plan.json`. */
  plan: unknown;
  started_at: string;
}

/** A run record together with the state of each of its artifacts. */
export interface RunDetails extends RunRecord {
  artifacts: ArtifactState[];
}

export interface RunFilter {
  status?: RunStatus;
  /** Runbook name, exact. */
  runbook?: string;
  /** Only runs started at or after this ISO time. */
  since?: string;
  /** Only runs started before this ISO time. */
  until?: string;
  /** At most this many; default 100. */
  limit?: number;
  /** Opaque cursor from a previous page's `next_cursor`. */
  cursor?: string;
}

export interface RunPage {
  /** Newest first. */
  runs: RunRecord[];
  next_cursor: string | null;
}

/** Who holds a run. */
export interface LeaseOwner {
  pid: number;
  host: string;
  /** Random per holder, so a process can tell its own lease from a previous one. */
  token: string;
  /** Set when the holder takes the run to delete it, not to execute it. */
  purpose?: "delete";
}

export interface Lease extends LeaseOwner {
  run_id: string;
  acquired_at: string;
  heartbeat_at: string;
}

export interface ExecutionStore {
  /** Backend name, for messages. */
  readonly kind: string;
  /**
   * Creates the run — record, plan and `owner`'s lease — all at once: a crash leaves the whole run
   * or none of it, and no other process can take a new run before its creator holds it. Throws
   * `ConflictError` (code `run_exists`) if the run exists.
   */
  createRun(run: NewRun, owner: LeaseOwner): Promise<RunRecord>;
  /**
   * Appends events durably, in order; on return they survive a crash. Events whose `event_id` is
   * already in the log are ignored. Updates the run record (status, counts, finished_at) from them.
   * With `owner`, appends only while `owner` holds the run's lease, checked right before the write:
   * otherwise throws `ConflictError` (code `lease_lost`) and appends nothing — so a process that
   * lost its run (frozen past its lease, then taken over) cannot write into it.
   */
  appendEvents(runId: string, events: RunEvent[], owner?: LeaseOwner): Promise<void>;
  /** The whole event log, in order. A torn last line (crash mid-append) is ignored. */
  readEvents(runId: string): Promise<RunEvent[]>;
  /** The run record; a `running` run whose lease is stale is reported `interrupted`. Throws `RunNotFoundError`. */
  getRun(runId: string): Promise<RunRecord>;
  /** The run record with per-artifact states derived from the event log. */
  getRunDetails(runId: string): Promise<RunDetails>;
  /** The stored plan JSON. */
  getPlan(runId: string): Promise<unknown>;
  /**
   * Replaces the plan and runbook (used by resume, which re-plans) and bumps `attempt`. With an
   * `owner`, only while it holds the lease (else `ConflictError` `lease_lost`, nothing changed).
   */
  beginAttempt(
    runId: string,
    update: { plan: unknown; runbook: RunRecord["runbook"]; argv: string[] },
    owner?: LeaseOwner,
  ): Promise<RunRecord>;
  /** Runs matching the filter, newest first, paginated. Must not read every run in full. */
  listRuns(filter?: RunFilter): Promise<RunPage>;
  /** Full run ID for an unambiguous prefix (or a full ID). Throws `RunNotFoundError` / `InputError` (ambiguous). */
  resolveRunId(prefix: string): Promise<string>;
  /** Deletes the run record, events and lease. Throws `ConflictError` if the run holds a live lease. */
  deleteRun(runId: string): Promise<void>;
  /**
   * Takes the run's lease for `owner`. Succeeds if there is no lease or the existing one is stale
   * (its process is gone or its heartbeat is older than the TTL); otherwise throws `ConflictError`.
   */
  acquireLease(runId: string, owner: LeaseOwner): Promise<Lease>;
  /** Refreshes the heartbeat. Throws `ConflictError` if the lease is no longer ours. */
  heartbeat(runId: string, owner: LeaseOwner): Promise<void>;
  /** Throws `ConflictError` (code `lease_lost`) unless `owner` holds the run's lease. Cheap: no write. */
  checkLease(runId: string, owner: LeaseOwner): Promise<void>;
  /** Releases our lease; a no-op if it is not ours. */
  releaseLease(runId: string, owner: LeaseOwner): Promise<void>;
  /** The current lease and whether it is live, or null when none is held. */
  getLease(runId: string): Promise<{ lease: Lease; live: boolean } | null>;
  /**
   * Removes what crashed operations left behind (half-created or half-deleted runs, temp files)
   * that is older than `olderThanMs`; returns how many entries it removed (with `dryRun`, counts
   * them and removes nothing). Backends whose writes are transactional have nothing to sweep and
   * leave it out.
   */
  sweep?(olderThanMs?: number, dryRun?: boolean): Promise<number>;
  close?(): Promise<void>;
}
