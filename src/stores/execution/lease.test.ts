import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import { isLeaseLive, isProcessAlive, leaseLimits, newLease } from "./lease.js";

describe("isLeaseLive", () => {
  const owner = { pid: process.pid, host: hostname(), token: "t" };
  const limits = leaseLimits(30_000);
  const ago = (ms: number) => new Date(Date.now() - ms);
  const missingPid = 2 ** 22 + 12345;

  it("defaults the local limit to ten TTLs", () => {
    expect(leaseLimits()).toEqual({ ttlMs: 30_000, localStaleMs: 300_000 });
    expect(leaseLimits(1000, 5000)).toEqual({ ttlMs: 1000, localStaleMs: 5000 });
  });

  it("holds for a fresh lease of a living process", () => {
    expect(isLeaseLive(newLease("r", owner), limits)).toBe(true);
  });

  it("keeps a living local process's lease past the TTL, until the local limit", () => {
    // An event loop blocked for longer than the TTL must not lose its run.
    expect(isLeaseLive(newLease("r", owner, ago(31_000)), limits)).toBe(true);
    expect(isLeaseLive(newLease("r", owner, ago(299_000)), limits)).toBe(true);
    expect(isLeaseLive(newLease("r", owner, ago(301_000)), limits)).toBe(false);
  });

  it("ends at once with its process on this host", () => {
    expect(isProcessAlive(missingPid)).toBe(false);
    expect(isLeaseLive(newLease("r", { ...owner, pid: missingPid }), limits)).toBe(false);
  });

  it("trusts another host's lease until its heartbeat is older than the TTL", () => {
    const remote = { ...owner, pid: missingPid, host: "elsewhere" };
    expect(isLeaseLive(newLease("r", remote), limits)).toBe(true);
    expect(isLeaseLive(newLease("r", remote, ago(29_000)), limits)).toBe(true);
    expect(isLeaseLive(newLease("r", remote, ago(31_000)), limits)).toBe(false);
  });

  it("takes no pid but a positive one for a process", () => {
    // kill(0) and kill(-1) reach a process group: they succeed whatever the lease says.
    for (const pid of [0, -1, 1.5, Number.NaN]) {
      expect(isProcessAlive(pid)).toBe(false);
      expect(isLeaseLive(newLease("r", { ...owner, pid }), limits)).toBe(false);
    }
  });

  it("does not let a heartbeat far in the future hold a run", () => {
    const ahead = (ms: number) => new Date(Date.now() + ms);
    const remote = { ...owner, host: "elsewhere" };
    // A clock a little ahead (skew, a step back of this host's clock) keeps the lease.
    expect(isLeaseLive(newLease("r", owner, ahead(60_000)), limits)).toBe(true);
    expect(isLeaseLive(newLease("r", remote, ahead(60_000)), limits)).toBe(true);
    expect(isLeaseLive(newLease("r", owner, ahead(301_000)), limits)).toBe(false);
    expect(isLeaseLive(newLease("r", remote, ahead(86_400_000)), limits)).toBe(false);
  });

  it("treats an unreadable heartbeat as stale", () => {
    expect(isLeaseLive({ ...newLease("r", owner), heartbeat_at: "garbage" }, limits)).toBe(false);
  });
});
