/**
 * The ArtifactStore conformance suite (ARCHITECTURE §4.1): every backend runs it, through
 * `describeArtifactStore(name, factory)`.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { ArtifactNotFoundError, InvalidKeyError } from "../../src/errors.js";
import { type Message, serializeMessage, sha256 } from "../../src/message.js";
import type { ArtifactStore } from "../../src/stores/artifact/store.js";
import { newRunId } from "../../src/stores/keys.js";

/** A Message with the given content, as the executor would store it. */
export function sampleMessage(id: string, content: Record<string, unknown> = {}): Message {
  return {
    id,
    content: { items: [{ value: id }], ...content },
    schema: { name: "standard_input", version: "1.0.0" },
    context: null,
    run_id: null,
    source: "connector:filesystem",
    timestamp: "2026-01-01T00:00:00.000Z",
    extensions: {
      execution: {
        status: "success",
        error: null,
        duration_seconds: 0.5,
        origin: "parent",
        alias: null,
      },
    },
  };
}

/** Run IDs that must be rejected before any I/O. */
export const UNSAFE_RUN_IDS = [
  "../x",
  "/etc/passwd",
  "a\\b",
  "a\u0000b",
  "..",
  ".",
  "",
  "a/b",
  "x".repeat(201),
];

/** Artifact keys that must be rejected before any I/O. */
export const UNSAFE_KEYS = [
  "../x",
  "a/../../x",
  "/etc/passwd",
  "a\\b",
  "a\u0000b",
  "a\nb",
  "..",
  ".",
  "",
  "a//b",
  "a/",
  "./a",
  "C:/x",
  "x".repeat(513),
];

export function describeArtifactStore(
  name: string,
  factory: () => ArtifactStore | Promise<ArtifactStore>,
): void {
  describe(`ArtifactStore conformance: ${name}`, () => {
    let store: ArtifactStore;
    let run: string;
    beforeEach(async () => {
      store = await factory();
      run = newRunId();
    });

    it("saves and reads back a Message, reporting the sha256 and size of the stored bytes", async () => {
      const message = sampleMessage("m1");
      const stored = await store.save(run, "scan", message);
      const expected = serializeMessage(message);
      expect(stored).toEqual({ sha256: sha256(expected), bytes: expected.length });
      expect(await store.get(run, "scan")).toEqual(message);
      expect((await store.getBytes(run, "scan")).equals(expected)).toBe(true);
      expect(await store.exists(run, "scan")).toBe(true);
    });

    it("digests the stored bytes where they lie, agreeing with what save reported", async () => {
      const big = sampleMessage("big", { text: "x".repeat(3 * 1024 * 1024 + 5) });
      const stored = await store.save(run, "nested/big", big);
      expect(await store.digest(run, "nested/big")).toEqual(stored);
      await store.save(run, "nested/big", sampleMessage("small"));
      const small = serializeMessage(sampleMessage("small"));
      expect(await store.digest(run, "nested/big")).toEqual({
        sha256: sha256(small),
        bytes: small.length,
      });
    });

    it("replaces a Message saved under the same key", async () => {
      await store.save(run, "scan", sampleMessage("old"));
      await store.save(run, "scan", sampleMessage("new"));
      expect((await store.get(run, "scan")).id).toBe("new");
      expect(await store.listKeys(run)).toEqual(["scan"]);
    });

    it("replaces nothing when the save's guard throws, and saves when it passes", async () => {
      await store.save(run, "scan", sampleMessage("old"));
      const refused = new Error("lease lost");
      await expect(
        store.save(run, "scan", sampleMessage("new"), async () => {
          throw refused;
        }),
      ).rejects.toBe(refused);
      await expect(
        store.save(run, "fresh", sampleMessage("new"), () => Promise.reject(refused)),
      ).rejects.toBe(refused);
      await expect(
        store.save(run, "fresh", sampleMessage("new"), () => {
          throw refused;
        }),
      ).rejects.toBe(refused);
      expect((await store.get(run, "scan")).id).toBe("old");
      expect(await store.exists(run, "fresh")).toBe(false);
      expect(await store.listKeys(run)).toEqual(["scan"]);
      let guarded = 0;
      await store.save(run, "scan", sampleMessage("new"), async () => {
        guarded++;
      });
      expect(guarded).toBe(1);
      expect((await store.get(run, "scan")).id).toBe("new");
    });

    it("keeps stored data apart from the caller's objects", async () => {
      const message = sampleMessage("m1");
      await store.save(run, "scan", message);
      message.content.items = [];
      const read = await store.get(run, "scan");
      read.content.extra = true;
      expect(await store.get(run, "scan")).toEqual(sampleMessage("m1"));
    });

    it("throws ArtifactNotFoundError for an absent artifact", async () => {
      await expect(store.get(run, "missing")).rejects.toBeInstanceOf(ArtifactNotFoundError);
      await expect(store.getBytes(run, "missing")).rejects.toBeInstanceOf(ArtifactNotFoundError);
      await expect(store.digest(run, "missing")).rejects.toBeInstanceOf(ArtifactNotFoundError);
      await expect(store.get(run, "missing")).rejects.toThrow(
        `Artifact 'missing' not found in run '${run}'.`,
      );
      expect(await store.exists(run, "missing")).toBe(false);
    });

    it("deletes one Message and treats deleting an absent one as a no-op", async () => {
      await store.save(run, "a", sampleMessage("a"));
      await store.save(run, "b", sampleMessage("b"));
      await store.delete(run, "a");
      await store.delete(run, "a");
      await store.delete(run, "never");
      expect(await store.exists(run, "a")).toBe(false);
      expect(await store.listKeys(run)).toEqual(["b"]);
    });

    it("lists keys sorted, nested keys included, filtered by prefix", async () => {
      for (const key of ["zeta", "child/b/deep", "alpha", "child/a", "childish", "é/unicode"]) {
        await store.save(run, key, sampleMessage(key));
      }
      expect(await store.listKeys(run)).toEqual([
        "alpha",
        "child/a",
        "child/b/deep",
        "childish",
        "zeta",
        "é/unicode",
      ]);
      expect(await store.listKeys(run, "child")).toEqual(["child/a", "child/b/deep", "childish"]);
      expect(await store.listKeys(run, "child/")).toEqual(["child/a", "child/b/deep"]);
      expect(await store.listKeys(run, "child/b/d")).toEqual(["child/b/deep"]);
      expect(await store.listKeys(run, "nothing")).toEqual([]);
      expect((await store.get(run, "child/b/deep")).id).toBe("child/b/deep");
    });

    it("lists nothing for an unknown run", async () => {
      expect(await store.listKeys(newRunId())).toEqual([]);
    });

    it("clears one run without touching another", async () => {
      const other = newRunId();
      await store.save(run, "a", sampleMessage("a"));
      await store.save(run, "nested/b", sampleMessage("b"));
      await store.save(other, "a", sampleMessage("other"));
      await store.clear(run);
      await store.clear(newRunId());
      expect(await store.listKeys(run)).toEqual([]);
      expect(await store.exists(run, "a")).toBe(false);
      expect((await store.get(other, "a")).id).toBe("other");
      await store.save(run, "a", sampleMessage("again"));
      expect(await store.listKeys(run)).toEqual(["a"]);
    });

    it("rejects unsafe run IDs in every method with InvalidKeyError", async () => {
      const message = sampleMessage("m");
      for (const bad of UNSAFE_RUN_IDS) {
        const calls = [
          () => store.save(bad, "a", message),
          () => store.get(bad, "a"),
          () => store.getBytes(bad, "a"),
          () => store.digest(bad, "a"),
          () => store.exists(bad, "a"),
          () => store.delete(bad, "a"),
          () => store.listKeys(bad),
          () => store.clear(bad),
        ];
        for (const call of calls) {
          await expect(call(), JSON.stringify(bad)).rejects.toBeInstanceOf(InvalidKeyError);
        }
      }
    });

    it("rejects unsafe keys in every method with InvalidKeyError", async () => {
      const message = sampleMessage("m");
      for (const bad of UNSAFE_KEYS) {
        const calls = [
          () => store.save(run, bad, message),
          () => store.get(run, bad),
          () => store.getBytes(run, bad),
          () => store.digest(run, bad),
          () => store.exists(run, bad),
          () => store.delete(run, bad),
        ];
        for (const call of calls) {
          await expect(call(), JSON.stringify(bad)).rejects.toBeInstanceOf(InvalidKeyError);
        }
      }
      for (const bad of ["../", "a/../", "/etc", "a\\", "a\u0000"]) {
        await expect(store.listKeys(run, bad), JSON.stringify(bad)).rejects.toBeInstanceOf(
          InvalidKeyError,
        );
      }
      expect(await store.listKeys(run)).toEqual([]);
    });
  });
}
