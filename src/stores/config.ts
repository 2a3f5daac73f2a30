/**
 * @module Store selection (ARCHITECTURE §5): command-line flags override `WAIVERN_STORE_*`
 * environment variables, which override the defaults (filesystem store in `./.waivern`).
 */
import path from "node:path";
import type { WorkerRunner } from "../components/types.js";
import { InputError } from "../errors.js";
import { createFileSystemArtifactStore } from "./artifact/filesystem.js";
import { createMemoryArtifactStore } from "./artifact/memory.js";
import type { ArtifactStore } from "./artifact/store.js";
import { createFileSystemExecutionStore } from "./execution/filesystem.js";
import { createMemoryExecutionStore } from "./execution/memory.js";
import type { ExecutionStore } from "./execution/store.js";

/** The store backends a user can choose. */
export const STORE_TYPES = ["filesystem", "memory", "remote"] as const;
export type StoreType = (typeof STORE_TYPES)[number];

/** Store folder when neither `--store-path` nor `WAIVERN_STORE_PATH` is given. */
export const DEFAULT_STORE_PATH = "./.waivern";

/** Store choices from the command line; each overrides its environment variable. */
export interface StoreOptions {
  type?: string;
  path?: string;
  url?: string;
  apiKey?: string;
  /** Threads a store may hash on (the run's worker pool); see `FileSystemArtifactStoreOptions`. */
  workers?: WorkerRunner;
}

/** The stores a command works with, and a phrase saying where they are, for messages. */
export interface ResolvedStores {
  artifacts: ArtifactStore;
  executions: ExecutionStore;
  describe: string;
  /** Whether runs outlive this process (false for the memory store): a later command sees them. */
  persistent: boolean;
  /**
   * The folders that only the store writes in (absolute): a connector never reads them, though
   * the data it scans may hold the store (`path: .` and the default `./.waivern`).
   */
  ownFolders: string[];
}

function pick(flag: string | undefined, variable: string | undefined): string | undefined {
  if (flag !== undefined && flag !== "") return flag;
  if (variable !== undefined && variable !== "") return variable;
  return undefined;
}

/**
 * Builds the stores from flags and environment (`WAIVERN_STORE_TYPE`, `WAIVERN_STORE_PATH`,
 * `WAIVERN_STORE_URL`, `WAIVERN_STORE_API_KEY`). Throws `InputError` for an unknown type or one that
 * is not available.
 */
export function resolveStores(
  options: StoreOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): ResolvedStores {
  const type = pick(options.type, env.WAIVERN_STORE_TYPE) ?? "filesystem";
  if (!STORE_TYPES.includes(type as StoreType)) {
    throw new InputError(
      `Unknown store type '${type}' (from ${options.type ? "--store-type" : "WAIVERN_STORE_TYPE"}): expected one of ${STORE_TYPES.join(", ")}.`,
    );
  }
  switch (type as StoreType) {
    case "memory":
      return {
        artifacts: createMemoryArtifactStore(),
        executions: createMemoryExecutionStore(),
        describe: "memory store (nothing is kept after this process exits)",
        persistent: false,
        ownFolders: [],
      };
    case "remote":
      throw new InputError("the remote store is not available yet");
    case "filesystem": {
      const root = path.resolve(pick(options.path, env.WAIVERN_STORE_PATH) ?? DEFAULT_STORE_PATH);
      return {
        artifacts: createFileSystemArtifactStore({
          root,
          ...(options.workers ? { workers: options.workers } : {}),
        }),
        executions: createFileSystemExecutionStore({ root }),
        describe: `filesystem store at ${root}`,
        ownFolders: [path.join(root, "runs")],
        persistent: true,
      };
    }
  }
}
