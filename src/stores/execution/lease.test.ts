import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import { isLeaseLive, isProcessAlive, newLease } from "./lease.js";

describe("isLeaseLive", () => {
  const owner = { pid: process.pid, host: hostname(), token: "t" };

  it("holds for a fresh lease of a living process", () => {
    expect(isLeaseLive(newLease("r", owner), 30_000)).toBe(true);
  });

  it("expires when the heartbeat is older than the TTL", () => {
    const lease = newLease("r", owner, new Date(Date.now() - 31_000));
    expect(isLeaseLive(lease, 30_000)).toBe(false);
    expect(isLeaseLive({ ...lease, heartbeat_at: "garbage" }, 30_000)).toBe(false);
  });

  it("ends with its process on this host, but trusts other hosts until the TTL", () => {
    const missingPid = 2 ** 22 + 12345;
    expect(isProcessAlive(missingPid)).toBe(false);
    expect(isLeaseLive(newLease("r", { ...owner, pid: missingPid }), 30_000)).toBe(false);
    expect(
      isLeaseLive(newLease("r", { ...owner, pid: missingPid, host: "elsewhere" }), 30_000),
    ).toBe(true);
  });
});
