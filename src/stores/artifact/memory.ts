/**
 * @module In-memory ArtifactStore: for tests and `WAIVERN_STORE_TYPE=memory`. Stores the serialized
 * bytes, so callers can never mutate a stored Message, and reads behave exactly like the
 * filesystem backend's.
 */
import { ArtifactNotFoundError } from "../../errors.js";
import { type Message, parseMessage, serializeMessage, sha256 } from "../../message.js";
import { validateArtifactKey, validateKeyPrefix, validateRunId } from "../keys.js";
import type { ArtifactStore, SaveGuard, StoredArtifact } from "./store.js";

class MemoryArtifactStore implements ArtifactStore {
  readonly kind = "memory";
  private readonly runs = new Map<string, Map<string, Buffer>>();

  private bytesOf(runId: string, key: string): Buffer | undefined {
    validateRunId(runId);
    validateArtifactKey(key);
    return this.runs.get(runId)?.get(key);
  }

  async save(
    runId: string,
    key: string,
    message: Message,
    guard?: SaveGuard,
  ): Promise<StoredArtifact> {
    validateRunId(runId);
    validateArtifactKey(key);
    const bytes = serializeMessage(message);
    await guard?.();
    let run = this.runs.get(runId);
    if (!run) {
      run = new Map();
      this.runs.set(runId, run);
    }
    run.set(key, bytes);
    return { sha256: sha256(bytes), bytes: bytes.length };
  }

  async get(runId: string, key: string): Promise<Message> {
    return parseMessage(await this.getBytes(runId, key), `memory:${runId}/${key}`);
  }

  async digest(runId: string, key: string): Promise<StoredArtifact> {
    const bytes = await this.getBytes(runId, key);
    return { sha256: sha256(bytes), bytes: bytes.length };
  }

  async getBytes(runId: string, key: string): Promise<Buffer> {
    const bytes = this.bytesOf(runId, key);
    if (!bytes) throw new ArtifactNotFoundError(runId, key);
    return Buffer.from(bytes);
  }

  async exists(runId: string, key: string): Promise<boolean> {
    return this.bytesOf(runId, key) !== undefined;
  }

  async delete(runId: string, key: string): Promise<void> {
    validateRunId(runId);
    validateArtifactKey(key);
    this.runs.get(runId)?.delete(key);
  }

  async listKeys(runId: string, prefix = ""): Promise<string[]> {
    validateRunId(runId);
    validateKeyPrefix(prefix);
    const keys = [...(this.runs.get(runId)?.keys() ?? [])];
    return keys.filter((key) => key.startsWith(prefix)).sort();
  }

  async clear(runId: string): Promise<void> {
    validateRunId(runId);
    this.runs.delete(runId);
  }
}

/** An ArtifactStore that keeps everything in this process's memory. */
export function createMemoryArtifactStore(): ArtifactStore {
  return new MemoryArtifactStore();
}
