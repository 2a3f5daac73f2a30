/**
 * @module Lease rules shared by the execution store backends: when a lease is stale, and the
 * conflict message naming who holds a live one.
 */
import { hostname } from "node:os";
import { ConflictError } from "../../errors.js";
import type { Lease, LeaseOwner } from "./store.js";

/** A lease whose heartbeat is older than this is stale. */
export const DEFAULT_LEASE_TTL_MS = 30_000;

/** Whether a process with this pid exists on this host. */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * A lease is live unless its heartbeat is older than `ttlMs`, or it was taken on this host by a
 * process that no longer exists.
 */
export function isLeaseLive(lease: Lease, ttlMs: number, now = Date.now()): boolean {
  const heartbeat = Date.parse(lease.heartbeat_at);
  if (!Number.isFinite(heartbeat) || now - heartbeat > ttlMs) return false;
  if (lease.host === hostname() && !isProcessAlive(lease.pid)) return false;
  return true;
}

/** A fresh lease for `owner`. */
export function newLease(runId: string, owner: LeaseOwner, now = new Date()): Lease {
  const at = now.toISOString();
  return {
    run_id: runId,
    pid: owner.pid,
    host: owner.host,
    token: owner.token,
    acquired_at: at,
    heartbeat_at: at,
  };
}

/** The error for a run that another live process holds. */
export function leaseHeldError(runId: string, lease: Lease): ConflictError {
  return new ConflictError(
    `run ${runId} is being executed by pid ${lease.pid} on ${lease.host} (heartbeat ${lease.heartbeat_at})`,
    { code: "lease_held" },
  );
}

/** The error for a heartbeat on a lease that is no longer ours. */
export function leaseLostError(runId: string): ConflictError {
  return new ConflictError(`run ${runId}: this process no longer holds its lease`, {
    code: "lease_lost",
  });
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
