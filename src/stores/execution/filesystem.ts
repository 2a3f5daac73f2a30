/**
 * @module Filesystem ExecutionStore (ARCHITECTURE §4.2). Per run, under `<root>/runs/<run_id>/_system/`:
 * `events.jsonl` (append-only, fsynced, the source of truth), `metadata.json` (the run record, a
 * superset of upstream's), `state.json` (upstream-shaped snapshot, a cache), `plan.json` and
 * `lease.json`. Run IDs are UUIDv7, so listing newest first needs only the folder names, and reads
 * run records only until a page is full.
 *
 * One process at a time writes a run's events (the lease guarantees it); this process keeps an
 * index of each run's log it writes to, reloaded whenever it takes the run's lease.
 */
import { randomBytes, randomUUID } from "node:crypto";
import {
  type BigIntStats,
  closeSync,
  type Dirent,
  promises as fs,
  fstatSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
} from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import {
  ConflictError,
  CorruptDataError,
  errorMessage,
  RunNotFoundError,
  StoreError,
} from "../../errors.js";
import {
  type AppendGuard,
  createFileExclusiveDurable,
  createFileSynced,
  ensureDirDurable,
  fsyncDir,
  GroupCommitAppender,
  hasErrorCode,
  isTempFileName,
  makeDirs,
  PRIVATE_FILE_MODE,
  storeError,
  writeFileDurable,
} from "../durable-fs.js";
import { rememberLastRun, resolveInside, runIdTimestamp, validateRunId } from "../keys.js";
import {
  checkEvents,
  deriveArtifactStates,
  emptyCounts,
  recordAfterEvents,
  recordForNewRun,
  storedEventProblem,
} from "./derive.js";
import {
  isLease,
  isLeaseLive,
  isProcessAlive,
  type LeaseLimits,
  leaseHeldError,
  leaseLimits,
  leaseLostError,
  newLease,
} from "./lease.js";
import {
  generatedCase,
  paginate,
  parseRunFilter,
  recordOf,
  resolvePrefix,
  viewRun,
} from "./run-query.js";
import {
  ARTIFACT_STATUSES,
  type ArtifactState,
  type ExecutionStore,
  type Lease,
  type LeaseOwner,
  type NewRun,
  RUN_STATUSES,
  type RunDetails,
  type RunEvent,
  type RunFilter,
  type RunPage,
  type RunRecord,
} from "./store.js";

/** A `.lease.break` file older than this was left by a process that crashed holding it. */
const LEASE_LOCK_TTL_MS = 10_000;
/** `sweep` removes crash leftovers older than this by default. */
export const DEFAULT_LEFTOVER_AGE_MS = 10 * 60_000;

/** Hidden entries of `runs/` left by a crash in `deleteRun` or `createRun`. */
const RUN_LEFTOVER = /^\..+\.(?:[0-9a-f]+\.deleting|creating-[0-9a-f]+)$/;
/** Hidden folders of a run left by a crash in the artifact store's `clear`. */
const ARTIFACTS_LEFTOVER = /^\.artifacts\.[0-9a-f]+\.deleting$/;

type SystemFile = "metadata.json" | "state.json" | "events.jsonl" | "plan.json" | "lease.json";

/** The writer's view of a run's event log. */
interface RunLog {
  events: RunEvent[];
  eventIds: Set<string>;
  /** Set when an append failed: the view no longer matches the file and must not be used. */
  broken: boolean;
  /** One append guard per lease token, so a batch of one owner's appends checks the lease once. */
  guards: Map<string, AppendGuard>;
}

/** A lease lock as its taker wrote it: `TOKEN PID HOST`. */
interface LeaseLock {
  token: string;
  /** Null for a lock whose taker died before writing it whole. */
  pid: number | null;
  host: string;
  mtimeMs: number;
}

/** The lease lock in `file`; null when there is none. */
async function readLock(file: string): Promise<LeaseLock | null> {
  try {
    const [text, stat] = await Promise.all([fs.readFile(file, "utf8"), fs.stat(file)]);
    const [token = "", pid = "", host = ""] = text.split(" ");
    return { token, pid: /^\d+$/.test(pid) ? Number(pid) : null, host, mtimeMs: stat.mtimeMs };
  } catch {
    return null;
  }
}

/** Why a system file that is a folder (damage by hand) cannot be read. */
const FOLDER_IN_PLACE = "a folder, not a file";
const LINKED_RUN =
  "a symbolic link, not a run folder: a run's files stay inside the store ('wct runs delete' removes the link only)";

/** Reads a file, or null when it does not exist. */
async function readIfExists(file: string): Promise<Buffer | null> {
  try {
    return await fs.readFile(file);
  } catch (error) {
    if (hasErrorCode(error, "ENOENT", "ENOTDIR")) return null;
    throw storeError("read", file, error);
  }
}

function parseJson(file: string, bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString("utf8"));
  } catch (error) {
    throw new CorruptDataError(file, "not valid JSON (truncated or damaged file)", {
      cause: error,
    });
  }
}

function isRunRecord(value: unknown): value is RunRecord {
  if (typeof value !== "object" || value === null) return false;
  const record = value as Record<string, unknown>;
  const runbook = record.runbook as Record<string, unknown> | null | undefined;
  return (
    typeof record.run_id === "string" &&
    RUN_STATUSES.includes(record.status as RunRecord["status"]) &&
    typeof runbook === "object" &&
    runbook !== null &&
    typeof runbook.name === "string" &&
    typeof runbook.path === "string" &&
    typeof runbook.sha256 === "string" &&
    typeof runbook.text === "string" &&
    typeof record.user === "string" &&
    typeof record.host === "string" &&
    typeof record.tool_version === "string" &&
    typeof record.started_at === "string" &&
    // Its age decides what `runs prune --older-than` removes: a run of unknown age is unreadable.
    Number.isFinite(Date.parse(record.started_at)) &&
    (record.finished_at === null || typeof record.finished_at === "string") &&
    Array.isArray(record.artifact_ids) &&
    record.artifact_ids.every((id) => typeof id === "string") &&
    typeof record.counts === "object" &&
    record.counts !== null &&
    ARTIFACT_STATUSES.every(
      (status) => typeof (record.counts as Record<string, unknown>)[status] === "number",
    ) &&
    typeof record.attempt === "number"
  );
}

/** metadata.json: the run record plus upstream's `runbook_path` and `completed_at`, upstream's fields first. */
function serializeRecord(record: RunRecord): string {
  const upstream = {
    run_id: record.run_id,
    runbook_path: record.runbook.path,
    started_at: record.started_at,
    completed_at: record.finished_at,
    status: record.status,
  };
  return `${JSON.stringify({ ...upstream, ...record }, null, 2)}\n`;
}

/** state.json in upstream's shape. An artifact still running is not done, so `not_started`. */
function serializeState(runId: string, states: ArtifactState[], at: string): string {
  const ids = (...statuses: string[]) =>
    states.filter((state) => statuses.includes(state.status)).map((state) => state.id);
  const snapshot = {
    run_id: runId,
    completed: ids("completed"),
    not_started: ids("not_started", "running"),
    pending: [],
    failed: ids("failed"),
    skipped: ids("skipped"),
    last_checkpoint: at,
  };
  return `${JSON.stringify(snapshot, null, 2)}\n`;
}

/** The record listed for a run folder whose record cannot be read, so that it does not vanish. */
function problemRecord(runId: string, problem: string): RunRecord {
  const created = runIdTimestamp(runId);
  return {
    run_id: runId,
    tenant: null,
    status: "interrupted",
    runbook: { name: "?", path: "?", sha256: "", text: "" },
    tool_version: "",
    user: "",
    host: "",
    argv: [],
    started_at: created === null ? "" : new Date(created).toISOString(),
    finished_at: null,
    artifact_ids: [],
    counts: emptyCounts(),
    attempt: 0,
    problem,
  };
}

function isSafeRunId(name: string): boolean {
  try {
    validateRunId(name);
    return true;
  } catch {
    return false;
  }
}

function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** The lease token in a `lease.json` file (a path or an open descriptor); undefined if none. */
function tokenIn(file: string | number): unknown {
  return (JSON.parse(readFileSync(file, "utf8")) as { token?: unknown }).token;
}

/**
 * The lease files this process holds, kept open: while a file is open its inode cannot be reused,
 * so a `stat` that finds the same inode, size and mtime at `lease.json` proves that it is still the
 * file that held our token, without reading it. Every change wct makes to a lease replaces the file.
 */
class HeldLeases {
  readonly #held = new Map<string, { token: string; fd: number; stats: BigIntStats }>();

  /** Remembers `file` for `runId` if it holds `token` now; forgets the earlier one. */
  hold(runId: string, file: string, token: string): void {
    this.forget(runId);
    let fd: number;
    try {
      fd = openSync(file, "r");
    } catch {
      return; // Not held: checks read the file.
    }
    try {
      const stats = fstatSync(fd, { bigint: true });
      if (tokenIn(fd) === token) {
        this.#held.set(runId, { token, fd, stats });
        return;
      }
    } catch {
      // Not held, as above.
    }
    closeSync(fd);
  }

  /** Whether `file` is still, unchanged, the lease file held for `runId` with `token`. */
  unchanged(runId: string, file: string, token: string): boolean {
    const held = this.#held.get(runId);
    if (held?.token !== token) return false;
    let now: BigIntStats | undefined;
    try {
      now = statSync(file, { bigint: true, throwIfNoEntry: false });
    } catch {
      return false;
    }
    const then = held.stats;
    return (
      now !== undefined &&
      now.ino === then.ino &&
      now.dev === then.dev &&
      now.size === then.size &&
      now.mtimeNs === then.mtimeNs
    );
  }

  forget(runId: string): void {
    const held = this.#held.get(runId);
    if (!held) return;
    this.#held.delete(runId);
    closeSync(held.fd);
  }

  forgetAll(): void {
    for (const runId of [...this.#held.keys()]) this.forget(runId);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

class FileSystemExecutionStore implements ExecutionStore {
  readonly kind = "filesystem";
  private readonly runsDir: string;
  private readonly appender: GroupCommitAppender;
  private readonly logs = new Map<string, Promise<RunLog>>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly held = new HeldLeases();

  constructor(
    root: string,
    private readonly limits: LeaseLimits,
  ) {
    this.runsDir = resolveInside(root, "runs");
    this.appender = new GroupCommitAppender();
  }

  private readonly runDir = rememberLastRun((runId) =>
    resolveInside(this.runsDir, validateRunId(runId)),
  );

  private systemFile(runId: string, name: SystemFile): string {
    return `${this.runDir(runId)}${path.sep}_system${path.sep}${name}`;
  }

  private async runFolderExists(runId: string): Promise<boolean> {
    const kind = await this.runFolderKind(runId);
    // Damage by hand: what is read or written through it would be outside the store.
    if (kind === "link") throw new CorruptDataError(this.runDir(runId), LINKED_RUN);
    return kind === "folder";
  }

  /** What stands at a run's folder: the folder, a symbolic link in its place, or nothing. */
  private async runFolderKind(runId: string): Promise<"folder" | "link" | null> {
    try {
      const info = await fs.lstat(this.runDir(runId));
      return info.isSymbolicLink() ? "link" : info.isDirectory() ? "folder" : null;
    } catch (error) {
      if (hasErrorCode(error, "ENOENT", "ENOTDIR")) return null;
      throw storeError("read", this.runDir(runId), error);
    }
  }

  /** Reads a system file of an existing run; a missing file of an existing run is corrupt data. */
  private async readSystemFile(runId: string, name: SystemFile): Promise<Buffer> {
    const file = this.systemFile(runId, name);
    let bytes: Buffer | null;
    try {
      bytes = await readIfExists(file);
    } catch (error) {
      // A folder in its place (damage by hand) is damage to this run, not a failing store: the
      // listing shows the run as unreadable instead of failing for every run.
      if (error instanceof StoreError && hasErrorCode(error.cause, "EISDIR")) {
        throw new CorruptDataError(file, FOLDER_IN_PLACE);
      }
      throw error;
    }
    if (bytes) return bytes;
    if (!(await this.runFolderExists(runId))) throw new RunNotFoundError(runId);
    throw new CorruptDataError(file, "missing: the run folder exists but this file does not");
  }

  /** The stored run record. Throws `RunNotFoundError` or `CorruptDataError`. */
  private async readRecord(runId: string): Promise<RunRecord> {
    const file = this.systemFile(runId, "metadata.json");
    // Every use of a run reads its record first: one through a link in its folder's place stops here.
    if (!(await this.runFolderExists(runId))) throw new RunNotFoundError(runId);
    const value = parseJson(file, await this.readSystemFile(runId, "metadata.json"));
    if (!isRunRecord(value)) throw new CorruptDataError(file, "not a run record");
    // Compared ignoring case: on a case-insensitive disk (macOS, Windows) `01A2...` opens `01a2...`.
    if (value.run_id.toLowerCase() !== runId.toLowerCase()) {
      throw new CorruptDataError(
        file,
        `records run ${value.run_id}, not ${runId}: a run folder copied or renamed by hand`,
      );
    }
    const { runbook_path, completed_at, ...record } = value as RunRecord & {
      runbook_path?: unknown;
      completed_at?: unknown;
    };
    return record;
  }

  private async writeSystemFile(runId: string, name: SystemFile, text: string): Promise<void> {
    const file = this.systemFile(runId, name);
    try {
      // A run deleted meanwhile is not made again, half empty.
      await writeFileDurable(file, text, undefined, this.runDir(runId));
    } catch (error) {
      throw storeError("write", file, error);
    }
  }

  /** Runs `task` after every earlier task of the same run: read-modify-write of metadata.json. */
  private withRunLock<T>(runId: string, task: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(runId) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.catch(() => undefined);
    this.locks.set(runId, tail);
    void tail.then(() => {
      if (this.locks.get(runId) === tail) this.locks.delete(runId);
    });
    return result;
  }

  /** The run as readers see it (see `viewRun`), reading its log and lease. */
  private async view(record: RunRecord): Promise<RunDetails> {
    const [events, lease] = await Promise.all([
      this.readEvents(record.run_id),
      record.status === "running" ? this.readLease(record.run_id) : null,
    ]);
    // A record says how a run ended only once its log holds the run_finished event.
    if (record.status !== "running" && !events.some((event) => event.type === "run_finished")) {
      throw new CorruptDataError(
        this.systemFile(record.run_id, "events.jsonl"),
        `holds no run_finished event, though metadata.json says the run ended ${record.status}: the log lost events`,
      );
    }
    // The log is the source of truth: a record that says another ending than the log's last
    // attempt does was changed by hand (a crash leaves the record behind the log, `running`).
    const lastStart = events.findLastIndex((event) => event.type === "run_started");
    const ended = events.slice(lastStart + 1).findLast((event) => event.type === "run_finished");
    if (
      record.status !== "running" &&
      ended?.type === "run_finished" &&
      ended.status !== record.status
    ) {
      throw new CorruptDataError(
        this.systemFile(record.run_id, "metadata.json"),
        `says the run ended ${record.status}, but its event log says ${ended.status}`,
      );
    }
    return viewRun(record, events, this.isLive(lease));
  }

  /** The record as readers see it; the log and lease are read only for a `running` record. */
  private async visibleRecord(record: RunRecord): Promise<RunRecord> {
    return record.status === "running" ? recordOf(await this.view(record)) : record;
  }

  /**
   * Builds the complete run folder, lease included, in a hidden staging folder of `runs/`, then
   * renames it into place: after a crash the run exists whole or not at all, and the staging
   * folder is never listed (`sweep` removes it).
   */
  async createRun(run: NewRun, owner: LeaseOwner): Promise<RunRecord> {
    const dir = this.runDir(run.run_id);
    const record = recordForNewRun(run);
    const staging = path.join(
      this.runsDir,
      `.${run.run_id}.creating-${randomBytes(6).toString("hex")}`,
    );
    const system = path.join(staging, "_system");
    const files: Record<SystemFile, string> = {
      "plan.json": toJson(run.plan),
      "metadata.json": serializeRecord(record),
      "state.json": serializeState(
        run.run_id,
        deriveArtifactStates(record.artifact_ids, []),
        run.started_at,
      ),
      "lease.json": toJson(newLease(run.run_id, owner)),
      "events.jsonl": "",
    };
    try {
      await ensureDirDurable(this.runsDir);
      await makeDirs(system);
      await Promise.all(
        Object.entries(files).map(([name, text]) =>
          createFileSynced(path.join(system, name), text),
        ),
      );
      await fsyncDir(system);
      await fsyncDir(staging);
      await fs.rename(staging, dir);
    } catch (error) {
      await fs.rm(staging, { recursive: true, force: true }).catch(() => undefined);
      if (hasErrorCode(error, "EEXIST", "ENOTEMPTY")) {
        throw new ConflictError(`Run '${run.run_id}' already exists.`, { code: "run_exists" });
      }
      throw storeError("create run", dir, error);
    }
    try {
      await fsyncDir(this.runsDir);
    } catch (error) {
      throw storeError("create run", dir, error);
    }
    this.logs.delete(run.run_id);
    this.held.hold(run.run_id, this.systemFile(run.run_id, "lease.json"), owner.token);
    return record;
  }

  /** This process's index of the run's log, loaded on first use. */
  private log(runId: string): Promise<RunLog> {
    let log = this.logs.get(runId);
    if (!log) {
      const loading = this.loadLog(runId);
      log = loading;
      this.logs.set(runId, loading);
      loading.catch(() => this.forgetLog(runId, loading));
    }
    return log;
  }

  private forgetLog(runId: string, log: Promise<RunLog>): void {
    if (this.logs.get(runId) === log) this.logs.delete(runId);
  }

  private async loadLog(runId: string): Promise<RunLog> {
    await this.readRecord(runId);
    const file = this.systemFile(runId, "events.jsonl");
    const { events, completeBytes, totalBytes } = await this.readEventLog(runId);
    if (completeBytes < totalBytes) {
      // A torn last line (crash or failed write mid-append) is not part of the log; cut it so
      // appends start clean.
      try {
        await fs.truncate(file, completeBytes);
      } catch (error) {
        throw storeError("repair", file, error);
      }
    }
    // The file and this view agree again: appends may resume after an earlier failed one.
    this.appender.reopen(file);
    return {
      events,
      eventIds: new Set(events.map((event) => event.event_id)),
      broken: false,
      guards: new Map(),
    };
  }

  private async readEventLog(
    runId: string,
  ): Promise<{ events: RunEvent[]; completeBytes: number; totalBytes: number }> {
    const file = this.systemFile(runId, "events.jsonl");
    // Every run is created with its log: one that is gone lost the run's audit trail, unless the
    // run never got to its first event (earlier builds of wct made the log with that event).
    let bytes: Buffer;
    try {
      bytes = await this.readSystemFile(runId, "events.jsonl");
    } catch (error) {
      if (!(error instanceof CorruptDataError) || error.reason === FOLDER_IN_PLACE) throw error;
      if ((await this.readRecord(runId)).status !== "running") throw error;
      return { events: [], completeBytes: 0, totalBytes: 0 };
    }
    const completeBytes = bytes.lastIndexOf(0x0a) + 1;
    const lines = bytes.subarray(0, completeBytes).toString("utf8").split("\n");
    const events: RunEvent[] = [];
    for (const [index, line] of lines.entries()) {
      if (line.trim() === "") continue;
      let event: unknown;
      try {
        event = JSON.parse(line);
      } catch (error) {
        throw new CorruptDataError(`${file}:${index + 1}`, "not a valid JSON event", {
          cause: error,
        });
      }
      const problem = storedEventProblem(event);
      if (problem) throw new CorruptDataError(`${file}:${index + 1}`, problem);
      events.push(event as RunEvent);
    }
    return { events, completeBytes, totalBytes: bytes.length };
  }

  async appendEvents(runId: string, events: RunEvent[], owner?: LeaseOwner): Promise<void> {
    const file = this.systemFile(runId, "events.jsonl");
    checkEvents(runId, events);
    // Loading a view may cut a torn tail off the log: only its holder may do that.
    if (owner && !this.logs.has(runId)) await this.checkLease(runId, owner);
    let logPromise = this.log(runId);
    let log = await logPromise;
    // A view broken by a failed append was forgotten; the next one is loaded from disk.
    while (log.broken) {
      logPromise = this.log(runId);
      log = await logPromise;
    }
    // No await between assigning seq and queueing the lines: file order is seq order.
    const appended: RunEvent[] = [];
    for (const event of events) {
      if (log.eventIds.has(event.event_id)) continue;
      log.eventIds.add(event.event_id);
      const stored = { ...event, seq: log.events.length + 1 };
      log.events.push(stored);
      appended.push(stored);
    }
    if (appended.length === 0) return;
    try {
      await this.appender.append(
        file,
        appended.map((event) => JSON.stringify(event)),
        owner && this.guardFor(log, runId, owner),
      );
    } catch (error) {
      // The view counts events that are not in the file; rebuild it from disk on next use.
      log.broken = true;
      this.forgetLog(runId, logPromise);
      throw storeError("append to", file, error);
    }
    if (!appended.some((event) => event.type === "run_started" || event.type === "run_finished")) {
      return;
    }
    await this.withRunLock(runId, async () => {
      const record = await this.readRecord(runId);
      const next = recordAfterEvents(record, appended, log.events);
      if (!next) return;
      await this.writeSystemFile(runId, "metadata.json", serializeRecord(next));
      const last = appended[appended.length - 1]!;
      const states = deriveArtifactStates(next.artifact_ids, log.events);
      await this.writeSystemFile(runId, "state.json", serializeState(runId, states, last.at));
    });
  }

  async readEvents(runId: string): Promise<RunEvent[]> {
    const { events, totalBytes } = await this.readEventLog(runId);
    if (totalBytes === 0) await this.readRecord(runId);
    return events;
  }

  async getRun(runId: string): Promise<RunRecord> {
    return this.visibleRecord(await this.readRecord(runId));
  }

  async getRunDetails(runId: string): Promise<RunDetails> {
    return this.view(await this.readRecord(runId));
  }

  async getPlan(runId: string): Promise<unknown> {
    const file = this.systemFile(runId, "plan.json");
    return parseJson(file, await this.readSystemFile(runId, "plan.json"));
  }

  async beginAttempt(
    runId: string,
    update: { plan: unknown; runbook: RunRecord["runbook"]; argv: string[] },
    owner?: LeaseOwner,
  ): Promise<RunRecord> {
    const record = await this.withRunLock(runId, async () => {
      const current = await this.readRecord(runId);
      if (owner) await this.checkLease(runId, owner);
      await this.writeSystemFile(runId, "plan.json", toJson(update.plan));
      const next: RunRecord = {
        ...current,
        runbook: { ...update.runbook },
        argv: [...update.argv],
        attempt: current.attempt + 1,
      };
      await this.writeSystemFile(runId, "metadata.json", serializeRecord(next));
      return next;
    });
    return this.visibleRecord(record);
  }

  /**
   * Run folder names (not temp or deleted ones), unsorted, and those of symbolic links in their
   * place (listed as unreadable).
   */
  private async runFolderNames(): Promise<{ names: string[]; links: Set<string> }> {
    let entries: Dirent[];
    try {
      entries = await fs.readdir(this.runsDir, { withFileTypes: true });
    } catch (error) {
      if (hasErrorCode(error, "ENOENT")) return { names: [], links: new Set() };
      throw storeError("list runs in", this.runsDir, error);
    }
    const runs = entries.filter(
      (entry) => (entry.isDirectory() || entry.isSymbolicLink()) && isSafeRunId(entry.name),
    );
    return {
      names: runs.map((entry) => entry.name),
      links: new Set(runs.filter((entry) => entry.isSymbolicLink()).map((entry) => entry.name)),
    };
  }

  /**
   * Reads only as many run records as the page needs: folder names are UUIDv7 run IDs, so sorting
   * them descending is newest first, and a `since` bound stops the scan early. Only runs whose
   * record says `running` have their log and lease read.
   */
  async listRuns(filter?: RunFilter): Promise<RunPage> {
    const query = parseRunFilter(filter);
    const { names, links } = await this.runFolderNames();
    return paginate(names, query, async (id) =>
      links.has(id)
        ? problemRecord(id, new CorruptDataError(this.runDir(id), LINKED_RUN).message)
        : this.listedRecord(id),
    );
  }

  /** A run's record for listing; unreadable ones are listed with their `problem`. */
  private async listedRecord(runId: string): Promise<RunRecord | null> {
    try {
      return await this.visibleRecord(await this.readRecord(runId));
    } catch (error) {
      if (error instanceof RunNotFoundError) return null;
      if (error instanceof CorruptDataError) return problemRecord(runId, error.message);
      throw error;
    }
  }

  async resolveRunId(written: string): Promise<string> {
    // A folder of exactly that name first: `01A2…` read as `01a2…` must not name another run.
    // A link in a run folder's place names its run too: reading it is refused, deleting it not.
    if (await this.runFolderKind(validateRunId(written))) return written;
    const prefix = generatedCase(written);
    if (prefix !== written && (await this.runFolderKind(prefix))) return prefix;
    return resolvePrefix(prefix, (await this.runFolderNames()).names);
  }

  async deleteRun(runId: string): Promise<void> {
    const dir = this.runDir(runId);
    // A link in a run folder's place goes, and nothing is written or removed where it leads.
    if ((await this.runFolderKind(runId)) === "link") {
      try {
        await fs.unlink(dir);
        await fsyncDir(this.runsDir);
      } catch (error) {
        if (hasErrorCode(error, "ENOENT")) throw new RunNotFoundError(runId);
        throw storeError("delete", dir, error);
      }
      return;
    }
    if (!(await this.runFolderExists(runId))) throw new RunNotFoundError(runId);
    // Held while the folder is renamed away, so that no resume can start meanwhile; refused
    // (ConflictError) while another process executes the run.
    const deleter: LeaseOwner = {
      pid: process.pid,
      host: hostname(),
      token: randomUUID(),
      purpose: "delete",
    };
    let held = true;
    try {
      await this.takeLease(runId, deleter);
    } catch (error) {
      // A full disk has no room for a lease file, and deleting runs is how space is freed. A
      // resume cannot start there either (it too must write its lease), so a lease that is not
      // live is enough. (Not for a quota: another user might still write a lease.) Nor can any
      // process hold a run whose `_system` is no folder (damage by hand): it is deleted too.
      if (!(error instanceof StoreError) || !hasErrorCode(error.cause, "ENOSPC", "ENOTDIR")) {
        throw error;
      }
      const current = await this.readLease(runId);
      if (current !== null && current !== "corrupt" && this.isLive(current)) {
        throw leaseHeldError(runId, current);
      }
      held = false;
    }
    // Renamed away first: the run disappears at once, and a crash leaves only a hidden folder.
    const doomed = path.join(this.runsDir, `.${runId}.${randomBytes(6).toString("hex")}.deleting`);
    try {
      await fs.rename(dir, doomed);
    } catch (error) {
      if (held) await this.releaseLease(runId, deleter).catch(() => undefined);
      if (hasErrorCode(error, "ENOENT")) throw new RunNotFoundError(runId);
      throw storeError("delete", dir, error);
    }
    this.logs.delete(runId);
    this.held.forget(runId);
    try {
      await fsyncDir(this.runsDir);
    } catch (error) {
      throw storeError("delete", dir, error);
    }
    try {
      await fs.rm(doomed, { recursive: true, force: true });
    } catch (error) {
      // An immutable file inside, say: the run is gone from the store, its remains are not.
      // Node's rm reports the ENOTDIR of its fallback rather than the EPERM: the file it names
      // says more.
      const file = (error as NodeJS.ErrnoException).path;
      throw new StoreError(
        `run ${runId} is deleted, but not all of its files could be removed (${file ? `first ${file}` : errorMessage(error)}); what is left is in ${doomed}: remove it by hand, or let 'wct runs prune' sweep it once it can be removed`,
        { cause: error },
      );
    }
  }

  /**
   * Removes what crashes left behind, older than `olderThanMs`: hidden run folders being created
   * or deleted, artifact folders being cleared, and temp files. Age alone tells a leftover from
   * work in progress, which takes seconds at most. Returns how many entries it removed (with
   * `dryRun`, would remove).
   */
  async sweep(olderThanMs = DEFAULT_LEFTOVER_AGE_MS, dryRun = false): Promise<number> {
    let entries: Dirent[];
    try {
      entries = await fs.readdir(this.runsDir, { withFileTypes: true });
    } catch (error) {
      if (hasErrorCode(error, "ENOENT")) return 0;
      throw storeError("sweep", this.runsDir, error);
    }
    const leftovers: string[] = [];
    await Promise.all(
      entries.map(async (entry) => {
        const full = path.join(this.runsDir, entry.name);
        if (entry.isDirectory() && RUN_LEFTOVER.test(entry.name)) leftovers.push(full);
        else if (entry.isDirectory() && isSafeRunId(entry.name)) {
          await this.collectRunLeftovers(full, leftovers);
        }
      }),
    );
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    for (const leftover of leftovers) {
      try {
        if ((await fs.lstat(leftover)).mtimeMs > cutoff) continue;
        if (!dryRun) await fs.rm(leftover, { recursive: true, force: true });
        removed += 1;
      } catch (error) {
        // Another sweep or the crashed operation's own cleanup got there first.
        if (!hasErrorCode(error, "ENOENT", "ENOTEMPTY")) throw storeError("sweep", leftover, error);
      }
    }
    return removed;
  }

  /**
   * Temp files anywhere in a run folder (not looking into hidden folders) and cleared-artifact
   * folders directly in it, where `clear` leaves them: deeper down, a folder of that name holds
   * artifacts whose ids have it as a part (`sub/.artifacts.0a.deleting/x`).
   */
  private async collectRunLeftovers(dir: string, into: string[], top = true): Promise<void> {
    let entries: Dirent[];
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (hasErrorCode(error, "ENOENT", "ENOTDIR")) return;
      throw storeError("sweep", dir, error);
    }
    await Promise.all(
      entries.map(async (entry) => {
        const full = path.join(dir, entry.name);
        if (entry.isFile() && isTempFileName(entry.name)) into.push(full);
        else if (top && entry.isDirectory() && ARTIFACTS_LEFTOVER.test(entry.name)) into.push(full);
        else if (entry.isDirectory() && !entry.name.startsWith(".")) {
          await this.collectRunLeftovers(full, into, false);
        }
      }),
    );
  }

  private isLive(lease: Lease | "corrupt" | null): boolean {
    return lease !== null && lease !== "corrupt" && isLeaseLive(lease, this.limits);
  }

  /** The lease file's content: null when absent, "corrupt" when unreadable (treated as stale). */
  private async readLease(runId: string): Promise<Lease | "corrupt" | null> {
    const file = this.systemFile(runId, "lease.json");
    let bytes: Buffer | null;
    try {
      bytes = await readIfExists(file);
    } catch (error) {
      // A folder in its place (damage by hand) is no lease anyone holds.
      if (error instanceof StoreError && hasErrorCode(error.cause, "EISDIR")) return "corrupt";
      throw error;
    }
    if (!bytes) return null;
    try {
      const value: unknown = JSON.parse(bytes.toString("utf8"));
      return isLease(value) ? value : "corrupt";
    } catch {
      return "corrupt";
    }
  }

  async acquireLease(runId: string, owner: LeaseOwner): Promise<Lease> {
    await this.readRecord(runId);
    return this.takeLease(runId, owner);
  }

  /** `acquireLease` without the check that the run's record is readable. */
  private async takeLease(runId: string, owner: LeaseOwner): Promise<Lease> {
    const file = this.systemFile(runId, "lease.json");
    // A few rounds: another process may release, break or take the lease between our steps.
    for (let round = 0; round < 10; round++) {
      const lease = newLease(runId, owner);
      let created: boolean;
      try {
        created = await createFileExclusiveDurable(file, toJson(lease), this.runDir(runId));
      } catch (error) {
        if (hasErrorCode(error, "ENOENT")) throw new RunNotFoundError(runId);
        throw storeError("take the lease of run", file, error);
      }
      if (created) {
        // A new holder: whatever this process knew about the log may be out of date.
        this.logs.delete(runId);
        this.held.hold(runId, file, owner.token);
        return lease;
      }
      const current = await this.readLease(runId);
      if (current === null) continue;
      if (current !== "corrupt" && current.token === owner.token) {
        const renewed = await this.refreshLease(runId, owner);
        if (renewed) return renewed;
        continue;
      }
      if (current !== "corrupt" && this.isLive(current)) throw leaseHeldError(runId, current);
      await this.breakLease(runId, current);
    }
    throw new ConflictError(
      `run ${runId}: could not take its lease; other processes keep taking it`,
      { code: "lease_held" },
    );
  }

  /**
   * Runs `task` holding the run's `.lease.break` lock. Every change to an existing `lease.json`
   * (breaking, heartbeat, release) happens under it, so a decision made on the lease's content
   * still holds when it is carried out. A lock left by a process that crashed holding it is
   * broken (`breakStaleLock`).
   */
  private async withLeaseLock<T>(runId: string, task: () => Promise<T>): Promise<T> {
    const lock = path.join(path.dirname(this.systemFile(runId, "lease.json")), ".lease.break");
    // The lock names its taker (token, pid, host): only its taker removes it, and a taker that
    // died is seen at once.
    const token = randomUUID();
    for (;;) {
      try {
        await fs.writeFile(lock, `${token} ${process.pid} ${hostname()}`, {
          flag: "wx",
          mode: PRIVATE_FILE_MODE,
        });
        break;
      } catch (error) {
        if (hasErrorCode(error, "ENOENT")) throw new RunNotFoundError(runId);
        if (!hasErrorCode(error, "EEXIST")) throw storeError("lock the lease of", lock, error);
      }
      await this.breakStaleLock(lock);
      await sleep(5);
    }
    try {
      return await task();
    } finally {
      if ((await readLock(lock))?.token === token) await fs.rm(lock, { force: true });
    }
  }

  /**
   * Removes a lease lock whose taker died on this host, or that is older than `LEASE_LOCK_TTL_MS`
   * (a taker elsewhere crashed). It is renamed aside first, which only one breaker can do; a
   * breaker that finds it moved a fresh lock aside (taken since it judged the old one stale) puts
   * it back.
   */
  private async breakStaleLock(lock: string): Promise<void> {
    const stale = await readLock(lock);
    if (!stale) return;
    const takerDied = stale.host === hostname() && stale.pid !== null && !isProcessAlive(stale.pid);
    if (!takerDied && Date.now() - stale.mtimeMs <= LEASE_LOCK_TTL_MS) return;
    // Named like a temp file, so that `sweep` removes it if this process dies before it does.
    const aside = `${lock}.${randomBytes(6).toString("hex")}.tmp`;
    try {
      await fs.rename(lock, aside);
    } catch {
      return; // Another breaker, or its taker, removed it first.
    }
    const moved = await readLock(aside);
    if (moved && moved.token !== stale.token) await fs.link(aside, lock).catch(() => undefined);
    await fs.rm(aside, { force: true });
  }

  /** Removes a stale lease, unless another process has changed it since it was judged. */
  private async breakLease(runId: string, stale: Lease | "corrupt"): Promise<void> {
    await this.withLeaseLock(runId, async () => {
      const current = await this.readLease(runId);
      const unchanged =
        current === "corrupt" || stale === "corrupt"
          ? current === stale
          : current !== null &&
            current.token === stale.token &&
            current.heartbeat_at === stale.heartbeat_at;
      if (!unchanged) return;
      const file = this.systemFile(runId, "lease.json");
      // As in `refreshLease`: judged again right before it goes, and removed at once.
      if (stale === "corrupt" ? !this.stillCorrupt(file) : !this.stillLeaseOf(file, stale)) return;
      // Recursive: a folder put in its place by hand goes too.
      rmSync(file, { force: true, recursive: true });
    });
  }

  private guardFor(log: RunLog, runId: string, owner: LeaseOwner): AppendGuard {
    let guard = log.guards.get(owner.token);
    if (!guard) {
      guard = () => this.checkLease(runId, owner);
      log.guards.set(owner.token, guard);
    }
    return guard;
  }

  /**
   * It runs before every batch of event appends and every artifact write: while the file is the
   * one this process holds (see `HeldLeases`), a `stat` proves it; otherwise it is read, with a
   * blocking read (the file is tiny: less than four thread-pool round trips).
   */
  async checkLease(runId: string, owner: LeaseOwner): Promise<void> {
    const file = this.systemFile(runId, "lease.json");
    if (this.held.unchanged(runId, file, owner.token)) return;
    let token: unknown;
    try {
      token = tokenIn(file);
    } catch (error) {
      if (!hasErrorCode(error, "ENOENT", "ENOTDIR") && !(error instanceof SyntaxError)) {
        throw storeError("read", file, error);
      }
    }
    if (token !== owner.token) {
      this.held.forget(runId);
      throw leaseLostError(runId);
    }
    this.held.hold(runId, file, owner.token);
  }

  /** Renews `owner`'s heartbeat under the lease lock; null when the lease is not `owner`'s. */
  private refreshLease(runId: string, owner: LeaseOwner): Promise<Lease | null> {
    return this.withLeaseLock(runId, async () => {
      const current = await this.readLease(runId);
      if (current === null || current === "corrupt" || current.token !== owner.token) return null;
      const renewed = { ...current, heartbeat_at: new Date().toISOString() };
      const file = this.systemFile(runId, "lease.json");
      try {
        // Checked again right before the rename: a process frozen since it read the lease may
        // have had its lock broken (after LEASE_LOCK_TTL_MS) and its lease taken meanwhile.
        await writeFileDurable(
          file,
          toJson(renewed),
          async () => {
            if (!this.stillHolds(file, owner)) throw leaseLostError(runId);
          },
          this.runDir(runId),
        );
      } catch (error) {
        if (error instanceof ConflictError && error.code === "lease_lost") return null;
        throw storeError("write", file, error);
      }
      this.held.hold(runId, file, owner.token);
      return renewed;
    });
  }

  /** Whether `lease.json` is still `lease`, with its heartbeat (read at once, as `stillHolds`). */
  private stillLeaseOf(file: string, lease: Lease): boolean {
    try {
      const now: unknown = JSON.parse(readFileSync(file, "utf8"));
      return isLease(now) && now.token === lease.token && now.heartbeat_at === lease.heartbeat_at;
    } catch {
      return false;
    }
  }

  /**
   * Whether `lease.json` is still corrupt (as `readLease` judges it: no lease in it, or a folder in
   * its place), read at once: a lease taken since it was judged is not one to break.
   */
  private stillCorrupt(file: string): boolean {
    try {
      return !isLease(JSON.parse(readFileSync(file, "utf8")));
    } catch (error) {
      return error instanceof SyntaxError || hasErrorCode(error, "EISDIR");
    }
  }

  /** Whether `lease.json` holds `owner`'s token now (read at once, without waiting for I/O). */
  private stillHolds(file: string, owner: LeaseOwner): boolean {
    try {
      return tokenIn(file) === owner.token;
    } catch {
      return false;
    }
  }

  async heartbeat(runId: string, owner: LeaseOwner): Promise<void> {
    if (!(await this.refreshLease(runId, owner))) throw leaseLostError(runId);
  }

  async releaseLease(runId: string, owner: LeaseOwner): Promise<void> {
    const file = this.systemFile(runId, "lease.json");
    this.held.forget(runId);
    if (!(await this.runFolderExists(runId))) return;
    await this.withLeaseLock(runId, async () => {
      const current = await this.readLease(runId);
      if (current === null || current === "corrupt" || current.token !== owner.token) return;
      try {
        // As in `refreshLease`: still ours right before it goes, and removed at once.
        if (!this.stillHolds(file, owner)) return;
        rmSync(file, { force: true });
        await fsyncDir(path.dirname(file));
      } catch (error) {
        throw storeError("release", file, error);
      }
    });
  }

  /** Closes the lease files this process still holds open. */
  async close(): Promise<void> {
    this.held.forgetAll();
  }

  async getLease(runId: string): Promise<{ lease: Lease; live: boolean } | null> {
    const current = await this.readLease(runId);
    if (current === "corrupt") {
      throw new CorruptDataError(this.systemFile(runId, "lease.json"), "not a valid lease");
    }
    if (current === null) {
      await this.readRecord(runId);
      return null;
    }
    return { lease: current, live: this.isLive(current) };
  }
}

/** Options of the filesystem execution store. */
export interface FileSystemExecutionStoreOptions {
  /** The store folder (`.waivern`); runs live in `<root>/runs/`. */
  root: string;
  /** A lease taken on another host is stale when its heartbeat is older than this; default 30 s. */
  leaseTtlMs?: number;
  /**
   * A lease of a living process on this host is stale when its heartbeat is older than this;
   * default 10 × `leaseTtlMs`. See `isLeaseLive`.
   */
  localLeaseStaleMs?: number;
}

/**
 * An ExecutionStore keeping each run under `<root>/runs/<run_id>/_system/`. It shares the run
 * folder with the filesystem ArtifactStore: `deleteRun` removes `runs/<run_id>` entirely,
 * artifacts included.
 */
export function createFileSystemExecutionStore(
  options: FileSystemExecutionStoreOptions,
): ExecutionStore {
  return new FileSystemExecutionStore(
    path.resolve(options.root),
    leaseLimits(options.leaseTtlMs, options.localLeaseStaleMs),
  );
}
