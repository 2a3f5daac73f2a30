/**
 * @module Filesystem ArtifactStore (ARCHITECTURE §4.2): one Message per file at
 * `<root>/runs/<run_id>/artifacts/<key>.json`, where `/` in a key makes nested folders. Every write
 * is atomic and durable (`durable-fs.ts`).
 */
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import type { WorkerRunner } from "../../components/types.js";
import { ArtifactNotFoundError } from "../../errors.js";
import { shareOut } from "../../execute/shared-list.js";
import { createWorkerPool, type WorkerPool } from "../../execute/worker-pool.js";
import { type Message, parseMessage, serializeMessage, sha256 } from "../../message.js";
import { moduleUrl } from "../../paths.js";
import {
  fsyncDir,
  hasErrorCode,
  isTempFileName,
  storeError,
  writeFileDurable,
} from "../durable-fs.js";
import {
  ARTIFACT_FILE_EXTENSION,
  rememberLastRun,
  resolveInside,
  validateArtifactKey,
  validateKeyPrefix,
  validateRunId,
} from "../keys.js";
import type { DigestOutcome } from "./digest-worker.js";
import type { ArtifactStore, SaveGuard, StoredArtifact } from "./store.js";

const MESSAGE_EXTENSION = ARTIFACT_FILE_EXTENSION;
const digestWorkerUrl = moduleUrl("stores/artifact/digest-worker");
/** Errors that mean "no artifact there" when a file is opened or read. */
const ABSENT = ["ENOENT", "ENOTDIR", "EISDIR"];

/** A `digest` call waiting for its batch. */
interface DigestCall {
  file: string;
  resolve(outcome: DigestOutcome): void;
  reject(error: unknown): void;
}

class FileSystemArtifactStore implements ArtifactStore {
  readonly kind = "filesystem";

  /** A thread of its own, started on the first `digest` when no `workers` were given. */
  #ownHasher: WorkerPool | undefined;
  /** `digest` calls waiting for this turn's batch. */
  readonly #digests: DigestCall[] = [];

  constructor(
    private readonly root: string,
    private readonly workers: WorkerRunner | undefined,
  ) {}

  private readonly artifactsDir = rememberLastRun((runId) =>
    resolveInside(this.root, path.join("runs", validateRunId(runId), "artifacts")),
  );

  private fileOf(runId: string, key: string): string {
    const dir = this.artifactsDir(runId);
    validateArtifactKey(key);
    return resolveInside(dir, key + MESSAGE_EXTENSION);
  }

  async save(
    runId: string,
    key: string,
    message: Message,
    guard?: SaveGuard,
  ): Promise<StoredArtifact> {
    const file = this.fileOf(runId, key);
    const bytes = serializeMessage(message);
    // The guard's own error is the caller's to see as it was thrown, not a failed write.
    let refused: { error: unknown } | undefined;
    const checked =
      guard &&
      (() =>
        Promise.resolve()
          .then(guard)
          .catch((error: unknown) => {
            refused = { error };
            throw error;
          }));
    try {
      await writeFileDurable(file, bytes, checked);
    } catch (error) {
      if (refused) throw refused.error;
      throw storeError("write artifact", file, error);
    }
    return { sha256: sha256(bytes), bytes: bytes.length };
  }

  async get(runId: string, key: string): Promise<Message> {
    const file = this.fileOf(runId, key);
    return parseMessage(await this.read(runId, key, file), file);
  }

  async getBytes(runId: string, key: string): Promise<Buffer> {
    return this.read(runId, key, this.fileOf(runId, key));
  }

  async digest(runId: string, key: string): Promise<StoredArtifact> {
    const file = this.fileOf(runId, key);
    const outcome = await new Promise<DigestOutcome>((resolve, reject) => {
      if (this.#digests.length === 0) {
        setImmediate(() => {
          const calls = this.#digests.splice(0);
          this.#digestBatch(calls).catch((error: unknown) => {
            for (const call of calls) call.reject(error);
          });
        });
      }
      this.#digests.push({ file, resolve, reject });
    });
    if (!("error" in outcome)) return outcome;
    const error = Object.assign(new Error(outcome.error.message), { code: outcome.error.code });
    throw this.readError(runId, key, file, error);
  }

  /**
   * Hashes the files of the `digest` calls made in one turn of the event loop (a resume checks
   * all its kept artifacts at once) on every worker thread, which share them out as they go.
   */
  async #digestBatch(calls: DigestCall[]): Promise<void> {
    const files = calls.map((call) => call.file);
    const { answers, failure } = await shareOut<string, DigestOutcome>(
      this.#hasher(),
      digestWorkerUrl,
      "digestFiles",
      files,
      {},
    );
    // A thread that could not run the task (closed pool, missing module) is not a bad file.
    calls.forEach((call, index) => {
      const outcome = answers.get(index);
      if (outcome) call.resolve(outcome);
      else call.reject(failure);
    });
  }

  #hasher(): WorkerRunner {
    if (this.workers) return this.workers;
    this.#ownHasher ??= createWorkerPool(1);
    return this.#ownHasher;
  }

  private async read(runId: string, key: string, file: string): Promise<Buffer> {
    try {
      return await fs.readFile(file);
    } catch (error) {
      throw this.readError(runId, key, file, error);
    }
  }

  private readError(runId: string, key: string, file: string, error: unknown): Error {
    if (hasErrorCode(error, ...ABSENT)) return new ArtifactNotFoundError(runId, key);
    return storeError("read artifact", file, error);
  }

  async exists(runId: string, key: string): Promise<boolean> {
    const file = this.fileOf(runId, key);
    try {
      return (await fs.stat(file)).isFile();
    } catch (error) {
      if (hasErrorCode(error, "ENOENT", "ENOTDIR")) return false;
      throw storeError("read artifact", file, error);
    }
  }

  async delete(runId: string, key: string): Promise<void> {
    const file = this.fileOf(runId, key);
    try {
      await fs.unlink(file);
      await fsyncDir(path.dirname(file));
    } catch (error) {
      if (hasErrorCode(error, ...ABSENT)) return;
      throw storeError("delete artifact", file, error);
    }
  }

  async listKeys(runId: string, prefix = ""): Promise<string[]> {
    const dir = this.artifactsDir(runId);
    validateKeyPrefix(prefix);
    // Only the folder the prefix points into can hold matches.
    const folder = prefix.includes("/") ? prefix.slice(0, prefix.lastIndexOf("/") + 1) : "";
    const keys: string[] = [];
    await this.collectKeys(resolveInside(dir, folder || "."), folder, keys);
    return keys.filter((key) => key.startsWith(prefix)).sort();
  }

  private async collectKeys(dir: string, keyPrefix: string, into: string[]): Promise<void> {
    let entries: import("node:fs").Dirent[];
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (hasErrorCode(error, "ENOENT", "ENOTDIR")) return;
      throw storeError("list artifacts in", dir, error);
    }
    await Promise.all(
      entries.map(async (entry) => {
        if (entry.isDirectory()) {
          await this.collectKeys(path.join(dir, entry.name), `${keyPrefix}${entry.name}/`, into);
        } else if (
          entry.isFile() &&
          entry.name.endsWith(MESSAGE_EXTENSION) &&
          !isTempFileName(entry.name)
        ) {
          into.push(keyPrefix + entry.name.slice(0, -MESSAGE_EXTENSION.length));
        }
      }),
    );
  }

  async clear(runId: string): Promise<void> {
    const dir = this.artifactsDir(runId);
    // Renamed away first so that readers see all the run's artifacts or none, never a part.
    const doomed = path.join(
      path.dirname(dir),
      `.artifacts.${randomBytes(6).toString("hex")}.deleting`,
    );
    try {
      await fs.rename(dir, doomed);
    } catch (error) {
      if (hasErrorCode(error, "ENOENT")) return;
      throw storeError("clear artifacts in", dir, error);
    }
    await fsyncDir(path.dirname(dir));
    await fs.rm(doomed, { recursive: true, force: true });
  }

  async close(): Promise<void> {
    // Kept, closed: a digest after close is refused rather than starting a thread nothing closes.
    await this.#ownHasher?.close();
  }
}

/** Options of the filesystem artifact store. */
export interface FileSystemArtifactStoreOptions {
  /** The store folder (`.waivern`); runs live in `<root>/runs/`. */
  root: string;
  /**
   * Threads `digest` hashes files on, e.g. the run's worker pool; by default a thread of the
   * store's own (idle, it keeps no process alive).
   */
  workers?: WorkerRunner;
}

/** An ArtifactStore keeping each Message in a file under `<root>/runs/<run_id>/artifacts/`. */
export function createFileSystemArtifactStore(
  options: FileSystemArtifactStoreOptions,
): ArtifactStore {
  return new FileSystemArtifactStore(path.resolve(options.root), options.workers);
}
