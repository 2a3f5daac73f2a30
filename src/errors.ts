/**
 * @module The project's error hierarchy. Every error a user can cause is a `WctError` with a
 * stable `code`; the CLI maps errors to exit codes in one place (`cli/main.ts`), the server maps
 * them to HTTP statuses in one place.
 */

/** Where in a file a problem is. Lines and columns are 1-based. */
export interface SourcePosition {
  file: string;
  line?: number;
  column?: number;
}

/** One validation problem, returned as data; callers decide whether to throw. */
export interface Issue {
  /** Dotted path of the offending field, e.g. `artifacts.scan.process.type`. */
  path: string;
  message: string;
  position?: SourcePosition;
}

/** An error's message; anything thrown that is not an Error, as text. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Renders `file:line:column: path: message`, leaving out what is unknown. */
export function formatIssue(issue: Issue): string {
  const where = issue.position
    ? [issue.position.file, issue.position.line, issue.position.column]
        .filter((x) => x !== undefined)
        .join(":")
    : "";
  const field = issue.path ? `${issue.path}: ` : "";
  return `${where ? `${where}: ` : ""}${field}${issue.message}`;
}

/** Base of every error the project raises on purpose. */
export class WctError extends Error {
  override name = "WctError";
  /** Stable machine-readable code. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Invalid input from the user: bad runbook, bad argument, malformed ID. CLI exit 2, HTTP 400. */
export class InputError extends WctError {
  override name = "InputError";
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? "invalid_input", message, options);
  }
}

/**
 * Issues in the order of their places: file by file (in the order the files first appear), then
 * by line and column; those without a line first in their file, in the order they came.
 */
function inPlaceOrder(issues: Issue[]): Issue[] {
  const files = new Map<string, number>();
  for (const issue of issues) {
    const file = issue.position?.file ?? "";
    if (!files.has(file)) files.set(file, files.size);
  }
  const rank = (issue: Issue): [number, number, number] => [
    files.get(issue.position?.file ?? "")!,
    issue.position?.line ?? 0,
    issue.position?.column ?? 0,
  ];
  return [...issues].sort((a, b) => {
    const [x, y] = [rank(a), rank(b)];
    return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
  });
}

/** A runbook that failed validation; carries every issue found, in the order of their places. */
export class RunbookError extends InputError {
  override name = "RunbookError";
  readonly issues: Issue[];
  constructor(issues: Issue[], options?: { cause?: unknown }) {
    const ordered = inPlaceOrder(issues);
    super(ordered.map(formatIssue).join("\n"), { ...options, code: "invalid_runbook" });
    this.issues = ordered;
  }
}

/** A run ID or artifact key that is unsafe or malformed. CLI exit 2, HTTP 400. */
export class InvalidKeyError extends InputError {
  override name = "InvalidKeyError";
  constructor(message: string) {
    super(message, { code: "invalid_key" });
  }
}

/** Something the user named does not exist (run, artifact, file). CLI exit 2, HTTP 404. */
export class NotFoundError extends WctError {
  override name = "NotFoundError";
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? "not_found", message, options);
  }
}

/** A stored artifact that does not exist. */
export class ArtifactNotFoundError extends NotFoundError {
  override name = "ArtifactNotFoundError";
  constructor(runId: string, key: string) {
    super(`Artifact '${key}' not found in run '${runId}'.`, { code: "artifact_not_found" });
  }
}

/** A run that does not exist in the execution store. */
export class RunNotFoundError extends NotFoundError {
  override name = "RunNotFoundError";
  constructor(runId: string) {
    super(`Run '${runId}' not found.`, { code: "run_not_found" });
  }
}

/** The operation conflicts with the current state (run still active, lease held, runbook changed). CLI exit 2, HTTP 409. */
export class ConflictError extends WctError {
  override name = "ConflictError";
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? "conflict", message, options);
  }
}

/** Stored data that cannot be read back as written (bad JSON, hash mismatch, torn file). CLI exit 1. */
export class CorruptDataError extends WctError {
  override name = "CorruptDataError";
  /** The file or object that is corrupt. */
  readonly location: string;
  /** What is wrong with it (the message without the location). */
  readonly reason: string;
  constructor(location: string, reason: string, options?: { cause?: unknown }) {
    super("corrupt_data", `${location}: ${reason}`, options);
    this.location = location;
    this.reason = reason;
  }
}

/** A store backend that cannot be reached or failed (I/O error, dropped connection). CLI exit 1. */
export class StoreError extends WctError {
  override name = "StoreError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("store_error", message, options);
  }
}

/** A connector or processor failed while producing an artifact; recorded on the artifact. */
export class ComponentError extends WctError {
  override name = "ComponentError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("component_error", message, options);
  }
}
