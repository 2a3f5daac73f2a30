/**
 * @module The ArtifactStore interface (ARCHITECTURE §4.1): stateless and run-scoped, one instance
 * serves every run. Backends: `memory.ts`, `filesystem.ts`; every backend passes the conformance
 * suite in `test/stores/artifact-store-suite.ts`.
 */
import type { Message } from "../../message.js";

/** What a store reports about bytes it has durably written. */
export interface StoredArtifact {
  /** sha256 hex of the stored bytes (`serializeMessage(message)`). */
  sha256: string;
  /** Size of the stored bytes. */
  bytes: number;
}

/** A check that must pass right before a save replaces what is stored (see `save`). */
export type SaveGuard = () => Promise<void>;

export interface ArtifactStore {
  /** Backend name, for messages: `memory`, `filesystem`, `remote`. */
  readonly kind: string;
  /**
   * Stores a Message under (runId, key), replacing any previous one. Atomic: a reader sees the old
   * Message or the new one, never a torn one; on return the bytes are durable.
   * Throws `InvalidKeyError` for an unsafe run ID or key, before any I/O.
   * `guard` runs once the new bytes are ready (written aside and durable, for the filesystem),
   * right before they replace what is stored; when it throws, nothing is replaced and `save`
   * rejects with its error. The executor checks there that it still holds the run's lease.
   */
  save(runId: string, key: string, message: Message, guard?: SaveGuard): Promise<StoredArtifact>;
  /**
   * Reads a Message back. Throws `ArtifactNotFoundError` if absent and `CorruptDataError` (naming
   * the file) if the stored bytes are not a Message.
   */
  get(runId: string, key: string): Promise<Message>;
  /** The exact stored bytes (for hashing and export). Throws `ArtifactNotFoundError` if absent. */
  getBytes(runId: string, key: string): Promise<Buffer>;
  /**
   * sha256 and size of the stored bytes, computed where they lie (the filesystem store hashes the
   * file on a worker thread), so checking many artifacts does not hold up the caller. Throws
   * `ArtifactNotFoundError` if absent.
   */
  digest(runId: string, key: string): Promise<StoredArtifact>;
  /** Whether (runId, key) holds a Message. */
  exists(runId: string, key: string): Promise<boolean>;
  /** Removes one Message; a no-op if it is absent. */
  delete(runId: string, key: string): Promise<void>;
  /** Keys of the run's Messages that start with `prefix`, sorted. Empty for an unknown run. */
  listKeys(runId: string, prefix?: string): Promise<string[]>;
  /** Removes every Message of the run (system data of the execution store is not touched). */
  clear(runId: string): Promise<void>;
  /** Releases connections or handles, if the backend holds any. */
  close?(): Promise<void>;
}
