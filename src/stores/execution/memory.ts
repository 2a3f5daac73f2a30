/**
 * @module In-memory ExecutionStore: for tests and `WAIVERN_STORE_TYPE=memory` (nothing survives
 * the process). Same semantics as the filesystem backend; everything handed in or out is copied.
 */
import { ConflictError, RunNotFoundError } from "../../errors.js";
import { validateRunId } from "../keys.js";
import { checkEvents, recordAfterEvents, recordForNewRun } from "./derive.js";
import {
  isLeaseLive,
  type LeaseLimits,
  leaseHeldError,
  leaseLimits,
  leaseLostError,
  newLease,
} from "./lease.js";
import { paginate, parseRunFilter, recordOf, resolvePrefix, viewRun } from "./run-query.js";
import type {
  ExecutionStore,
  Lease,
  LeaseOwner,
  NewRun,
  RunDetails,
  RunEvent,
  RunFilter,
  RunPage,
  RunRecord,
} from "./store.js";

interface StoredRun {
  record: RunRecord;
  plan: unknown;
  events: RunEvent[];
  eventIds: Set<string>;
  lease: Lease | null;
}

class MemoryExecutionStore implements ExecutionStore {
  readonly kind = "memory";
  private readonly runs = new Map<string, StoredRun>();

  constructor(private readonly limits: LeaseLimits) {}

  private run(runId: string): StoredRun {
    validateRunId(runId);
    const run = this.runs.get(runId);
    if (!run) throw new RunNotFoundError(runId);
    return run;
  }

  private leaseLive(run: StoredRun): boolean {
    return run.lease !== null && isLeaseLive(run.lease, this.limits);
  }

  /** The run as readers see it (see `viewRun`). */
  private view(run: StoredRun): RunDetails {
    return viewRun(structuredClone(run.record), structuredClone(run.events), this.leaseLive(run));
  }

  /** The record as readers see it. */
  private visibleRecord(run: StoredRun): RunRecord {
    return run.record.status === "running" ? recordOf(this.view(run)) : structuredClone(run.record);
  }

  async createRun(run: NewRun, owner: LeaseOwner): Promise<RunRecord> {
    validateRunId(run.run_id);
    if (this.runs.has(run.run_id)) {
      throw new ConflictError(`Run '${run.run_id}' already exists.`, { code: "run_exists" });
    }
    const record = recordForNewRun(run);
    this.runs.set(run.run_id, {
      record,
      plan: structuredClone(run.plan),
      events: [],
      eventIds: new Set(),
      lease: newLease(run.run_id, owner),
    });
    return structuredClone(record);
  }

  async appendEvents(runId: string, events: RunEvent[], owner?: LeaseOwner): Promise<void> {
    const run = this.run(runId);
    checkEvents(runId, events);
    if (owner) await this.checkLease(runId, owner);
    const appended: RunEvent[] = [];
    for (const event of events) {
      if (run.eventIds.has(event.event_id)) continue;
      run.eventIds.add(event.event_id);
      const stored = { ...structuredClone(event), seq: run.events.length + 1 };
      run.events.push(stored);
      appended.push(stored);
    }
    run.record = recordAfterEvents(run.record, appended, run.events) ?? run.record;
  }

  async readEvents(runId: string): Promise<RunEvent[]> {
    return structuredClone(this.run(runId).events);
  }

  async getRun(runId: string): Promise<RunRecord> {
    return this.visibleRecord(this.run(runId));
  }

  async getRunDetails(runId: string): Promise<RunDetails> {
    return this.view(this.run(runId));
  }

  async getPlan(runId: string): Promise<unknown> {
    return structuredClone(this.run(runId).plan);
  }

  async beginAttempt(
    runId: string,
    update: { plan: unknown; runbook: RunRecord["runbook"]; argv: string[] },
    owner?: LeaseOwner,
  ): Promise<RunRecord> {
    const run = this.run(runId);
    if (owner) await this.checkLease(runId, owner);
    run.plan = structuredClone(update.plan);
    run.record = {
      ...run.record,
      runbook: { ...update.runbook },
      argv: [...update.argv],
      attempt: run.record.attempt + 1,
    };
    return this.visibleRecord(run);
  }

  async listRuns(filter?: RunFilter): Promise<RunPage> {
    return paginate(this.runs.keys(), parseRunFilter(filter), (id) => {
      const run = this.runs.get(id);
      return run ? this.visibleRecord(run) : null;
    });
  }

  async resolveRunId(prefix: string): Promise<string> {
    return resolvePrefix(prefix, this.runs.keys());
  }

  async deleteRun(runId: string): Promise<void> {
    const run = this.run(runId);
    if (this.leaseLive(run)) throw leaseHeldError(runId, run.lease!);
    this.runs.delete(runId);
  }

  async acquireLease(runId: string, owner: LeaseOwner): Promise<Lease> {
    const run = this.run(runId);
    if (run.lease && run.lease.token !== owner.token && this.leaseLive(run)) {
      throw leaseHeldError(runId, run.lease);
    }
    run.lease = newLease(runId, owner);
    return { ...run.lease };
  }

  async heartbeat(runId: string, owner: LeaseOwner): Promise<void> {
    const run = this.run(runId);
    if (!run.lease || run.lease.token !== owner.token) throw leaseLostError(runId);
    run.lease = { ...run.lease, heartbeat_at: new Date().toISOString() };
  }

  async checkLease(runId: string, owner: LeaseOwner): Promise<void> {
    if (this.run(runId).lease?.token !== owner.token) throw leaseLostError(runId);
  }

  async releaseLease(runId: string, owner: LeaseOwner): Promise<void> {
    validateRunId(runId);
    const run = this.runs.get(runId);
    if (run?.lease?.token === owner.token) run.lease = null;
  }

  async getLease(runId: string): Promise<{ lease: Lease; live: boolean } | null> {
    const run = this.run(runId);
    return run.lease ? { lease: { ...run.lease }, live: this.leaseLive(run) } : null;
  }
}

/** Options of the in-memory execution store. */
export interface MemoryExecutionStoreOptions {
  /** A lease taken on another host is stale when its heartbeat is older than this; default 30 s. */
  leaseTtlMs?: number;
  /** A lease of a living process on this host is stale past this; default 10 × `leaseTtlMs`. */
  localLeaseStaleMs?: number;
}

/** An ExecutionStore that keeps everything in this process's memory. */
export function createMemoryExecutionStore(
  options: MemoryExecutionStoreOptions = {},
): ExecutionStore {
  return new MemoryExecutionStore(leaseLimits(options.leaseTtlMs, options.localLeaseStaleMs));
}
