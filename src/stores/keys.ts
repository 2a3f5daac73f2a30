/**
 * @module Run ID and artifact key validation (ARCHITECTURE §4.3) and run ID generation. Every store
 * method validates its IDs with these before any I/O, so an ID from a user (CLI argument,
 * `reuse.from_run`, HTTP path) can never name a file outside the store.
 */
import { randomBytes } from "node:crypto";
import path from "node:path";
import { InvalidKeyError } from "../errors.js";

/** Longest accepted run ID. */
export const MAX_RUN_ID_LENGTH = 200;
/** Longest accepted artifact key. */
export const MAX_ARTIFACT_KEY_LENGTH = 512;

const RUN_ID_CHARS = /^[A-Za-z0-9._-]+$/;
// C0 controls, DEL and C1 controls: never valid in a file name we create.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

/** Quotes an untrusted value for an error message without echoing control characters. */
function show(value: string): string {
  const shown = value.length > 60 ? `${value.slice(0, 60)}...` : value;
  return JSON.stringify(shown);
}

/**
 * Checks a run ID: 1-200 characters of `[A-Za-z0-9._-]`, not starting with `.` (names starting
 * with a dot are the stores' temporary files). Returns it; throws `InvalidKeyError`.
 */
export function validateRunId(id: string): string {
  if (typeof id !== "string" || id.length === 0) {
    throw new InvalidKeyError("Invalid run ID: it is empty.");
  }
  if (id.length > MAX_RUN_ID_LENGTH) {
    throw new InvalidKeyError(
      `Invalid run ID ${show(id)}: longer than ${MAX_RUN_ID_LENGTH} characters.`,
    );
  }
  if (!RUN_ID_CHARS.test(id)) {
    throw new InvalidKeyError(
      `Invalid run ID ${show(id)}: only letters, digits, '.', '_' and '-' are allowed.`,
    );
  }
  if (id.startsWith(".")) {
    throw new InvalidKeyError(`Invalid run ID ${show(id)}: it must not start with '.'.`);
  }
  return id;
}

function checkKeyText(what: string, key: string, maxLength: number): void {
  if (key.length > maxLength) {
    throw new InvalidKeyError(`Invalid ${what} ${show(key)}: longer than ${maxLength} characters.`);
  }
  if (CONTROL_CHARS.test(key)) {
    throw new InvalidKeyError(`Invalid ${what} ${show(key)}: control characters are not allowed.`);
  }
  if (key.includes("\\")) {
    throw new InvalidKeyError(`Invalid ${what} ${show(key)}: backslashes are not allowed.`);
  }
  if (key.startsWith("/")) {
    throw new InvalidKeyError(`Invalid ${what} ${show(key)}: absolute paths are not allowed.`);
  }
  if (/^[A-Za-z]:/.test(key)) {
    throw new InvalidKeyError(
      `Invalid ${what} ${show(key)}: a letter and ':' at the start reads as a Windows drive (an absolute path).`,
    );
  }
}

function checkSegment(what: string, key: string, segment: string): void {
  if (segment === "..") {
    throw new InvalidKeyError(`Invalid ${what} ${show(key)}: '..' segments are not allowed.`);
  }
  if (segment === "" || segment === ".") {
    throw new InvalidKeyError(
      `Invalid ${what} ${show(key)}: empty or '.' path segments are not allowed.`,
    );
  }
}

/**
 * Checks an artifact key: 1-512 characters, `/`-separated segments that are neither empty, `.` nor
 * `..`; no backslash, control character or absolute path. Returns it; throws `InvalidKeyError`.
 */
export function validateArtifactKey(key: string): string {
  if (typeof key !== "string" || key.length === 0) {
    throw new InvalidKeyError("Invalid artifact key: it is empty.");
  }
  checkKeyText("artifact key", key, MAX_ARTIFACT_KEY_LENGTH);
  for (const segment of key.split("/")) checkSegment("artifact key", key, segment);
  return key;
}

/** The filesystem artifact store keeps the artifact of key `k` in the file `k.json`. */
export const ARTIFACT_FILE_EXTENSION = ".json";

/**
 * Tracks the keys of one run and tells which key stands in another's way on disk: `a` is kept in
 * the file `a.json`, where `a.json/b` needs a folder of that name, so the two cannot both be stored.
 */
export class KeyFolders {
  readonly #keys = new Set<string>();
  /** Folder (`a.json`) -> the first key that needs it. */
  readonly #folders = new Map<string, string>();

  /** Adds `key`; returns the key already added whose file or folder clashes with it, if any. */
  add(key: string): string | undefined {
    let clash = this.#folders.get(key + ARTIFACT_FILE_EXTENSION);
    const segments = key.split("/");
    for (let end = 1; end < segments.length; end++) {
      const folder = segments.slice(0, end).join("/");
      if (!this.#folders.has(folder)) this.#folders.set(folder, key);
      if (clash !== undefined || !folder.endsWith(ARTIFACT_FILE_EXTENSION)) continue;
      const owner = folder.slice(0, -ARTIFACT_FILE_EXTENSION.length);
      if (this.#keys.has(owner)) clash = owner;
    }
    this.#keys.add(key);
    return clash;
  }
}

/**
 * Checks a `listKeys` prefix: empty, or like a key whose last segment may be partial or empty
 * (`child/` lists a nested folder). Returns it; throws `InvalidKeyError`.
 */
export function validateKeyPrefix(prefix: string): string {
  if (typeof prefix !== "string") throw new InvalidKeyError("Invalid key prefix: not a string.");
  if (prefix === "") return prefix;
  checkKeyText("key prefix", prefix, MAX_ARTIFACT_KEY_LENGTH);
  const segments = prefix.split("/");
  const last = segments.pop() ?? "";
  for (const segment of segments) checkSegment("key prefix", prefix, segment);
  if (last === "..") checkSegment("key prefix", prefix, last);
  return prefix;
}

/**
 * `path.resolve(root, relative)`, asserting that the result stays inside `root` (defence in depth
 * behind the validators). Throws `InvalidKeyError`.
 */
export function resolveInside(root: string, relative: string): string {
  const base = path.resolve(root);
  const resolved = path.resolve(base, relative);
  if (resolved !== base && !resolved.startsWith(base + path.sep)) {
    throw new InvalidKeyError(`Invalid path ${show(relative)}: it leaves the store.`);
  }
  return resolved;
}

/**
 * `folderOf(runId)` (which validates the ID), remembered for the last run ID asked about: a run's
 * writes ask for its folder again and again, and one run's calls come in a row.
 */
export function rememberLastRun(folderOf: (runId: string) => string): (runId: string) => string {
  let lastId: string | undefined;
  let lastFolder = "";
  return (runId) => {
    if (runId !== lastId) {
      lastFolder = folderOf(runId);
      lastId = runId;
    }
    return lastFolder;
  };
}

const RANDOM_BITS = 74n;
const RANDOM_LIMIT = 1n << RANDOM_BITS;
let lastMs = -1;
let lastRandom = 0n;

function randomCounterStart(): bigint {
  // The top bit stays clear so that increments within one millisecond rarely overflow.
  const bytes = randomBytes(10);
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return value & ((RANDOM_LIMIT >> 1n) - 1n);
}

/**
 * A new run ID: a UUID version 7 (RFC 9562), so sorting IDs as strings sorts them by creation
 * time. Monotonic within the process: IDs created in the same millisecond (or after the clock
 * went back) still sort in creation order.
 */
export function newRunId(): string {
  let ms = Date.now();
  if (ms <= lastMs) {
    ms = lastMs;
    lastRandom += 1n;
    if (lastRandom >= RANDOM_LIMIT) {
      ms += 1;
      lastRandom = randomCounterStart();
    }
  } else {
    lastRandom = randomCounterStart();
  }
  lastMs = ms;
  const randA = lastRandom >> 62n;
  const randB = lastRandom & ((1n << 62n) - 1n);
  const time = ms.toString(16).padStart(12, "0");
  const a = (0x7000n | randA).toString(16).padStart(4, "0");
  const b = ((2n << 62n) | randB).toString(16).padStart(16, "0");
  return `${time.slice(0, 8)}-${time.slice(8)}-${a}-${b.slice(0, 4)}-${b.slice(4)}`;
}

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The creation time (ms since the epoch) encoded in a UUIDv7 run ID, or null for other IDs. */
export function runIdTimestamp(id: string): number | null {
  if (!UUID_V7.test(id)) return null;
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
