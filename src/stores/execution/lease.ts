/**
 * @module Lease rules shared by the execution store backends: when a lease is stale, and the
 * conflict message naming who holds a live one.
 */
import { hostname } from "node:os";
import { ConflictError } from "../../errors.js";
import type { Lease, LeaseOwner } from "./store.js";

/** A lease taken on another host whose heartbeat is older than this is stale. */
export const DEFAULT_LEASE_TTL_MS = 30_000;
/** How many TTLs a lease of a living process on this host may go without a heartbeat. */
export const LOCAL_STALE_TTLS = 10;

/** When leases go stale; see `isLeaseLive`. */
export interface LeaseLimits {
  /** Heartbeat age after which a lease taken on another host is stale. */
  ttlMs: number;
  /** Heartbeat age after which a lease of a living process on this host is stale. */
  localStaleMs: number;
}

/** The limits for a TTL, the local limit defaulting to `LOCAL_STALE_TTLS` TTLs (5 min for 30 s). */
export function leaseLimits(ttlMs = DEFAULT_LEASE_TTL_MS, localStaleMs?: number): LeaseLimits {
  return { ttlMs, localStaleMs: localStaleMs ?? ttlMs * LOCAL_STALE_TTLS };
}

/**
 * Whether a process with this pid exists on this host. Only a positive pid names one process:
 * `kill(0)` and `kill(-1)` reach a group and would pass for any lease (one damaged by hand).
 */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Whether a lease still protects its run. On this host the holder's pid decides: a dead pid frees
 * the run at once, while a living one keeps it even when heartbeats are late — a process whose
 * event loop is blocked by long synchronous work cannot heartbeat, but it is still executing the
 * run, and taking the run from it would have two processes execute it. Only a heartbeat older than
 * `localStaleMs` frees it. The trade-off: if the holder died and the OS gave its pid to an unrelated
 * process, the run stays held until `localStaleMs` passes. On another host the pid cannot be
 * checked, so a heartbeat older than `ttlMs` frees the run. A heartbeat more than `localStaleMs`
 * in the future is stale too.
 */
export function isLeaseLive(lease: Lease, limits: LeaseLimits, now = Date.now()): boolean {
  const heartbeat = Date.parse(lease.heartbeat_at);
  if (!Number.isFinite(heartbeat)) return false;
  const age = now - heartbeat;
  // Further ahead than a clock step or skew explains: no process wrote it, and it would hold the
  // run for as long as it stays ahead.
  if (age < -limits.localStaleMs) return false;
  if (lease.host === hostname()) {
    return isProcessAlive(lease.pid) && age <= limits.localStaleMs;
  }
  return age <= limits.ttlMs;
}

/** A fresh lease for `owner`. */
export function newLease(runId: string, owner: LeaseOwner, now = new Date()): Lease {
  const at = now.toISOString();
  return {
    run_id: runId,
    pid: owner.pid,
    host: owner.host,
    token: owner.token,
    ...(owner.purpose ? { purpose: owner.purpose } : {}),
    acquired_at: at,
    heartbeat_at: at,
  };
}

/** The error for a run that another live process holds. */
export function leaseHeldError(runId: string, lease: Lease): ConflictError {
  if (lease.purpose === "delete") {
    return new ConflictError(`run ${runId} is being deleted by pid ${lease.pid} on ${lease.host}`, {
      code: "run_deleting",
    });
  }
  return new ConflictError(
    `run ${runId} is being executed by pid ${lease.pid} on ${lease.host} (heartbeat ${lease.heartbeat_at})`,
    { code: "lease_held" },
  );
}

/** The error for a heartbeat on a lease that is no longer ours. */
export function leaseLostError(runId: string): ConflictError {
  return new ConflictError(
    `run ${runId}: this process no longer holds its lease (another process took the run over); it stopped writing to it`,
    {
      code: "lease_lost",
    },
  );
}

/** Whether a parsed JSON value has the shape of a Lease. */
export function isLease(value: unknown): value is Lease {
  if (typeof value !== "object" || value === null) return false;
  const lease = value as Record<string, unknown>;
  return (
    typeof lease.run_id === "string" &&
    typeof lease.pid === "number" &&
    typeof lease.host === "string" &&
    typeof lease.token === "string" &&
    typeof lease.acquired_at === "string" &&
    typeof lease.heartbeat_at === "string"
  );
}
