/**
 * @module The Message: the stored form of every artifact (ARCHITECTURE §3).
 */
import { createHash, webcrypto } from "node:crypto";
import pLimit from "p-limit";
import { ComponentError, CorruptDataError } from "./errors.js";

/** A named, versioned JSON Schema. */
export interface SchemaRef {
  name: string;
  version: string;
}

/** How an artifact came to be; stored under `extensions.execution`. */
export interface ExecutionContext {
  status: "pending" | "success" | "error";
  error: string | null;
  duration_seconds: number | null;
  /** `parent`, or `child:<namespace>` for artifacts that came from a child runbook. */
  origin: string;
  alias: string | null;
}

/** A schema-validated JSON document produced by a connector or processor. */
export interface Message {
  id: string;
  content: Record<string, unknown>;
  schema: SchemaRef;
  context: Record<string, unknown> | null;
  run_id: string | null;
  /** `connector:<type>`, `processor:<type>` or `reuse:<run>/<artifact>`. */
  source: string | null;
  /** ISO 8601 UTC. */
  timestamp: string;
  extensions: { execution: ExecutionContext | null } | null;
}

/** `name/x.y.z` (a bare name means version 1.0.0; split on the last `/`). */
export function parseSchemaRef(text: string): SchemaRef {
  const slash = text.lastIndexOf("/");
  if (slash === -1) return { name: text, version: "1.0.0" };
  return { name: text.slice(0, slash), version: text.slice(slash + 1) };
}

/** `name/x.y.z`. */
export function formatSchemaRef(schema: SchemaRef): string {
  return `${schema.name}/${schema.version}`;
}

export function sameSchema(a: SchemaRef, b: SchemaRef): boolean {
  return a.name === b.name && a.version === b.version;
}

/**
 * The exact bytes every store persists for a Message; the sha256 recorded in events is of these.
 * A Message whose JSON is longer than the longest string V8 makes (about 512 M characters) fails
 * its artifact with a `ComponentError` saying so.
 */
export function serializeMessage(message: Message): Buffer {
  let text: string;
  try {
    text = JSON.stringify(message);
  } catch (error) {
    // "Invalid string length"; another RangeError (a stack overflow on deep nesting) is not that.
    if (!(error instanceof RangeError) || !/invalid string length/i.test(error.message))
      throw error;
    throw new ComponentError(
      "the output is too large to store: its JSON is longer than the longest string Node.js can hold (about 512 M characters); read less into one artifact (max_files, max_file_size, include_patterns, max_rows_per_table)",
      { cause: error },
    );
  }
  return Buffer.from(text, "utf8");
}

/** sha256 hex digest of some bytes. */
export function sha256(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** From this size on, `sha256Off` hashes on the thread pool: the main thread stays free. */
const OFF_THREAD_HASH_BYTES = 1024 * 1024;
/** Two at a time: the thread pool's other threads stay free for the run's fsyncs and reads. */
const offThreadHashes = pLimit(2);

/**
 * `sha256`, computed on libuv's thread pool (WebCrypto) for large inputs, so that checking many
 * stored artifacts (resume, verify) does not hold up the event loop; small inputs are hashed at
 * once, which costs less than the round trip.
 */
export async function sha256Off(bytes: Uint8Array): Promise<string> {
  if (bytes.length < OFF_THREAD_HASH_BYTES) return sha256(bytes);
  const digest = await offThreadHashes(() => webcrypto.subtle.digest("SHA-256", bytes));
  return Buffer.from(digest).toString("hex");
}

/** Whether a parsed JSON value has the shape of a Message (structure only, not content schema). */
export function isMessage(value: unknown): value is Message {
  if (typeof value !== "object" || value === null) return false;
  const m = value as Record<string, unknown>;
  const schema = m.schema as Record<string, unknown> | undefined;
  return (
    typeof m.id === "string" &&
    typeof m.content === "object" &&
    m.content !== null &&
    typeof schema === "object" &&
    schema !== null &&
    typeof schema.name === "string" &&
    typeof schema.version === "string"
  );
}

/** Parses stored bytes back into a Message; `CorruptDataError` naming `location` if they are not one. */
export function parseMessage(bytes: Uint8Array, location: string): Message {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch (error) {
    throw new CorruptDataError(location, "not valid JSON (truncated or damaged)", { cause: error });
  }
  if (!isMessage(value))
    throw new CorruptDataError(location, "not a Message (missing id, content or schema)");
  return value;
}
