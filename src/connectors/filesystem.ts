/**
 * @module The `filesystem` connector: reads the text files under a folder (or one file) into a
 * `standard_input/1.0.0` document, one data item per file.
 *
 * The walk is sorted and therefore deterministic. Symlinks that resolve outside `path` are never
 * followed; symlinked files inside it are read; symlinked folders are not descended (their target
 * is inside `path`, so it is scanned anyway, and skipping them rules out cycles). Binary files,
 * files over `max_file_size` and files that cannot be read (vanished, no permission, broken
 * symlink, FIFO or other special file) are skipped and counted in the output's metadata. The
 * walk runs here; the files are read by `file-reader.ts`, on the worker threads but for the first
 * few small ones.
 */
import { type Dirent, readdirSync, statSync } from "node:fs";
import { readdir, realpath, stat } from "node:fs/promises";
import { basename, join, resolve, sep } from "node:path";
import { TextDecoder } from "node:util";
import picomatch from "picomatch";
import { checkExtractCall, checkProperties } from "../components/properties.js";
import type {
  ComponentContext,
  ComponentOutput,
  Connector,
  PropertyDoc,
} from "../components/types.js";
import { ComponentError, type Issue } from "../errors.js";
import { shareOut } from "../execute/shared-list.js";
import type { SchemaRef } from "../message.js";
import { moduleUrl } from "../paths.js";
import { type DecodeErrors, errorReason, type ReadOutcome, readSmallFiles } from "./file-reader.js";

const STANDARD_INPUT: SchemaRef = { name: "standard_input", version: "1.0.0" };

const DEFAULT_MAX_FILES = 1000;
const DEFAULT_MAX_FILE_SIZE = 10 * 1024 * 1024;
/**
 * The main thread reads the first files of a folder itself, up to this many, each of at most
 * `MAIN_THREAD_READ_BYTES`, and for no longer than `MAIN_THREAD_READ_MS`: for a few files a
 * round trip to a worker thread costs more than the blocking calls themselves. The rest, and
 * larger files, go to the worker threads, one thread per this many files.
 */
const FILES_PER_THREAD = 32;
const MAIN_THREAD_READ_BYTES = 1024 * 1024;
const MAIN_THREAD_READ_MS = 5;
/**
 * Subfolders of the folder being walked that are listed ahead of the one visited: the walk still
 * visits them in order, but their round trips through libuv's thread pool overlap. Per folder on
 * the walk's path, so what is listed ahead stays small however wide the tree.
 */
const LISTINGS_AHEAD = 8;
/**
 * A root folder at most this large on disk (`st_size`: a few hundred entries in one block on
 * ext4, proportional to the entries on most filesystems) is listed with one blocking call.
 */
export const BLOCKING_LISTING_BYTES = 16 * 1024;
/** Per-file warnings beyond this many are summarised in one line. */
const MAX_FILE_WARNINGS = 20;

const readerUrl = moduleUrl("connectors/file-reader");

const PROPERTIES: PropertyDoc[] = [
  {
    name: "path",
    type: "string",
    required: true,
    description: "File or folder to read; relative paths are relative to the runbook's folder.",
  },
  {
    name: "include_patterns",
    type: "string[]",
    required: false,
    description:
      "Globs relative to `path`, gitignore-like (a pattern without '/' matches at any depth); only matching files are read.",
  },
  {
    name: "exclude_patterns",
    type: "string[]",
    required: false,
    description:
      "Globs relative to `path`, applied after include_patterns; a matching folder is skipped whole (e.g. __pycache__, *.pyc).",
  },
  {
    name: "max_files",
    type: "integer",
    required: false,
    default: DEFAULT_MAX_FILES,
    description: "Stop after this many files (metadata.max_files_reached says so).",
  },
  {
    name: "max_file_size",
    type: "integer",
    required: false,
    default: DEFAULT_MAX_FILE_SIZE,
    description: "Files larger than this many bytes are skipped and counted.",
  },
  {
    name: "encoding",
    type: "string",
    required: false,
    default: "utf-8",
    description:
      "Text encoding of the files, any the WHATWG Encoding standard names (utf-8, latin1, utf-16le, ...).",
  },
  {
    name: "errors",
    type: "strict|replace|ignore",
    required: false,
    default: "replace",
    description:
      "Undecodable bytes: replace with U+FFFD, ignore (drop them), or strict (treat the file as binary and skip it). Upstream's default is strict.",
  },
  {
    name: "chunk_size",
    type: "integer",
    required: false,
    default: 8192,
    description: "Accepted for upstream compatibility; files are read whole.",
  },
];

interface Options {
  path: string;
  includePatterns: string[];
  excludePatterns: string[];
  maxFiles: number;
  maxFileSize: number;
  encoding: string;
  errors: DecodeErrors;
}

/** A file the walk selected, in walk order. */
interface Candidate {
  absolutePath: string;
  /** Relative to the scanned root, '/'-separated. */
  relativePath: string;
}

interface Counters {
  skippedBinary: number;
  skippedTooLarge: number;
  unreadable: number;
  skippedOutsideRoot: number;
  totalSizeBytes: number;
}

/** Reads text files into `standard_input/1.0.0`. */
export const filesystemConnector: Connector = {
  kind: "connector",
  type: "filesystem",
  description: "Reads the text files under a folder (or one file) into standard_input",
  properties: PROPERTIES,
  outputSchemas: [STANDARD_INPUT],

  validateProperties(properties: Record<string, unknown>): Issue[] {
    const issues = checkProperties(properties, PROPERTIES);
    const { path, max_files, max_file_size, chunk_size, encoding } = properties;
    if (path === "") issues.push({ path: "path", message: "must not be empty" });
    for (const [name, value] of Object.entries({ max_files, max_file_size, chunk_size })) {
      if (Number.isInteger(value) && (value as number) <= 0) {
        issues.push({ path: name, message: `must be greater than 0, got ${value}` });
      }
    }
    if (typeof encoding === "string" && !isSupportedEncoding(encoding)) {
      issues.push({
        path: "encoding",
        message: `unsupported encoding '${encoding}' (try utf-8, latin1, utf-16le, windows-1252, ...)`,
      });
    }
    for (const name of ["include_patterns", "exclude_patterns"]) {
      const patterns = properties[name];
      if (!Array.isArray(patterns)) continue;
      patterns.forEach((pattern, index) => {
        if (typeof pattern === "string" && normalisePattern(pattern).glob === "") {
          issues.push({ path: `${name}.${index}`, message: "must not be an empty pattern" });
        }
      });
    }
    return issues;
  },

  async extract(
    properties: Record<string, unknown>,
    outputSchema: SchemaRef,
    context: ComponentContext,
  ): Promise<ComponentOutput> {
    checkExtractCall(filesystemConnector, properties, outputSchema);
    const options = readOptions(properties);
    return extractFiles(options, context);
  },
};

function readOptions(properties: Record<string, unknown>): Options {
  return {
    path: properties.path as string,
    includePatterns: (properties.include_patterns as string[] | undefined) ?? [],
    excludePatterns: (properties.exclude_patterns as string[] | undefined) ?? [],
    maxFiles: (properties.max_files as number | undefined) ?? DEFAULT_MAX_FILES,
    maxFileSize: (properties.max_file_size as number | undefined) ?? DEFAULT_MAX_FILE_SIZE,
    encoding: (properties.encoding as string | undefined) ?? "utf-8",
    errors: (properties.errors as DecodeErrors | undefined) ?? "replace",
  };
}

function isSupportedEncoding(encoding: string): boolean {
  try {
    new TextDecoder(encoding);
    return true;
  } catch {
    return false;
  }
}

function rootError(written: string, root: string, error: NodeJS.ErrnoException): ComponentError {
  return new ComponentError(
    error.code === "ENOENT"
      ? `filesystem: path '${written}' does not exist (looked for ${root})`
      : `filesystem: cannot read path '${written}' (${root}): ${error.message}`,
    { cause: error },
  );
}

async function extractFiles(options: Options, context: ComponentContext): Promise<ComponentOutput> {
  const root = resolve(context.baseDir, options.path);
  const rootEntries = await listRoot(root, options.path);
  const rootIsFile = rootEntries === null;

  const counters: Counters = {
    skippedBinary: 0,
    skippedTooLarge: 0,
    unreadable: 0,
    skippedOutsideRoot: 0,
    totalSizeBytes: 0,
  };
  const warnings = new FileWarnings(context);
  let candidates: Candidate[];
  let maxFilesReached = false;
  if (rootIsFile) {
    candidates = [{ absolutePath: root, relativePath: basename(root) }];
  } else {
    const walk = new Walk(root, options, counters, warnings, context.signal);
    await walk.run(rootEntries);
    candidates = walk.candidates;
    maxFilesReached = walk.maxFilesReached;
  }

  const outcomes = await readAll(candidates, options, context);
  const data: Record<string, unknown>[] = [];
  outcomes.forEach((outcome, index) => {
    const candidate = candidates[index]!;
    switch (outcome.kind) {
      case "text":
        counters.totalSizeBytes += outcome.size;
        data.push({
          content: outcome.text,
          metadata: {
            source: candidate.relativePath,
            connector_type: "filesystem_connector",
            file_path: candidate.relativePath,
          },
        });
        break;
      case "binary":
        counters.skippedBinary++;
        break;
      case "too_large":
        counters.skippedTooLarge++;
        break;
      case "unreadable":
        counters.unreadable++;
        warnings.add(`cannot read '${candidate.relativePath}': ${outcome.reason}`);
        break;
    }
  });
  warnings.flush();
  reportSkipped(counters, options, context);

  if (data.length === 0) {
    throw new ComponentError(
      `filesystem: no readable text files under '${options.path}' (${root}); ${describeSkipped(counters) || "no files matched"}`,
    );
  }
  if (maxFilesReached) {
    context.warn(`filesystem: stopped at max_files (${options.maxFiles}) in '${options.path}'`);
  }

  // Properties are echoed as written: a substituted `${VAR}` value must not reach the stored
  // artifact.
  const asWritten = <T>(name: string, value: T): T =>
    (context.writtenProperties[name] as T | undefined) ?? value;
  const written = asWritten("path", options.path);
  const name = basename(written);
  return {
    schema: STANDARD_INPUT,
    content: {
      schemaVersion: "1.0.0",
      name: `standard_input_from_${name}`,
      description: rootIsFile ? `Text of file '${written}'` : `Text files under '${written}'`,
      source: written,
      metadata: {
        file_count: data.length,
        total_size_bytes: counters.totalSizeBytes,
        skipped_binary: counters.skippedBinary,
        skipped_too_large: counters.skippedTooLarge,
        unreadable: counters.unreadable,
        skipped_symlinks_outside_path: counters.skippedOutsideRoot,
        max_files_reached: maxFilesReached,
        include_patterns: asWritten("include_patterns", options.includePatterns),
        exclude_patterns: asWritten("exclude_patterns", options.excludePatterns),
        encoding: asWritten("encoding", options.encoding),
        source_type: "filesystem",
      },
      data,
    },
  };
}

/**
 * The root's entries, or null when it is a file. It is looked at with blocking calls: a stat,
 * then, for a folder that is small on disk (see `BLOCKING_LISTING_BYTES`), its listing, which
 * costs less than a thread-pool round trip; a larger folder is listed asynchronously.
 */
async function listRoot(root: string, written: string): Promise<Dirent[] | null> {
  try {
    const stats = statSync(root);
    if (stats.isFile()) return null;
    if (!stats.isDirectory()) {
      throw new ComponentError(
        `filesystem: path '${written}' (${root}) is neither a file nor a folder`,
      );
    }
    return stats.size <= BLOCKING_LISTING_BYTES
      ? readdirSync(root, { withFileTypes: true })
      : await readdir(root, { withFileTypes: true });
  } catch (error) {
    if (error instanceof ComponentError) throw error;
    throw rootError(written, root, error as NodeJS.ErrnoException);
  }
}

/** A folder's entries, or why it could not be listed. */
type Listing = { entries: Dirent[] } | { error: unknown };

/** Depth-first, name-sorted walk that collects the files to read. */
class Walk {
  readonly candidates: Candidate[] = [];
  maxFilesReached = false;
  readonly #isIncluded: (relativePath: string) => boolean;
  readonly #isExcluded: (relativePath: string) => boolean;
  readonly #includeAll: boolean;
  /** The root with symlinks resolved: only needed once a symlink is met. */
  #realRoot: Promise<string> | undefined;

  constructor(
    private readonly root: string,
    private readonly options: Options,
    private readonly counters: Counters,
    private readonly warnings: FileWarnings,
    private readonly signal: AbortSignal,
  ) {
    this.#includeAll = options.includePatterns.length === 0;
    this.#isIncluded = compilePatterns(options.includePatterns);
    this.#isExcluded = compilePatterns(options.excludePatterns);
  }

  /** Walks the root folder, whose entries the caller has listed. */
  run(rootEntries: Dirent[]): Promise<void> {
    return this.#visitEntries(rootEntries, this.root, "", this.#includeAll);
  }

  #list(folder: string): Promise<Listing> {
    return readdir(folder, { withFileTypes: true }).then(
      (entries) => ({ entries }),
      (error: unknown) => ({ error }),
    );
  }

  /** `included`: an ancestor folder matched an include pattern (or there are none). */
  async #visitFolder(
    listing: Promise<Listing>,
    folder: string,
    relativeFolder: string,
    included: boolean,
  ): Promise<void> {
    const listed = await listing;
    if ("error" in listed) {
      this.counters.unreadable++;
      this.warnings.add(`cannot list '${relativeFolder}': ${errorReason(listed.error)}`);
      return;
    }
    await this.#visitEntries(listed.entries, folder, relativeFolder, included);
  }

  async #visitEntries(
    entries: Dirent[],
    folder: string,
    relativeFolder: string,
    included: boolean,
  ): Promise<void> {
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const visits = entries.flatMap((entry) => {
      const relativePath = relativeFolder ? `${relativeFolder}/${entry.name}` : entry.name;
      if (this.#isExcluded(relativePath)) return [];
      const absolutePath = join(folder, entry.name);
      return [{ entry, relativePath, absolutePath }];
    });
    // Subfolders are listed a few ahead of the one visited, in order.
    const folders = visits.filter((visit) => visit.entry.isDirectory());
    const listings: (Promise<Listing> | undefined)[] = [];
    const listAhead = (upTo: number) => {
      while (listings.length < Math.min(upTo, folders.length)) {
        listings.push(this.#list(folders[listings.length]!.absolutePath));
      }
    };
    listAhead(LISTINGS_AHEAD);
    let folderIndex = 0;
    for (const { entry, relativePath, absolutePath } of visits) {
      if (this.maxFilesReached) return;
      this.signal.throwIfAborted();
      if (entry.isDirectory()) {
        const listing = listings[folderIndex]!;
        // Dropped once visited: a wide folder does not keep every listing of its subfolders.
        listings[folderIndex] = undefined;
        folderIndex++;
        listAhead(folderIndex + LISTINGS_AHEAD);
        await this.#visitFolder(
          listing,
          absolutePath,
          relativePath,
          included || this.#isIncluded(relativePath),
        );
      } else if (included || this.#isIncluded(relativePath)) {
        await this.#considerFile(entry, absolutePath, relativePath);
      }
    }
  }

  async #considerFile(entry: Dirent, absolutePath: string, relativePath: string): Promise<void> {
    if (entry.isSymbolicLink()) {
      let target: string;
      try {
        target = await realpath(absolutePath);
      } catch (error) {
        this.counters.unreadable++;
        this.warnings.add(`cannot follow symlink '${relativePath}': ${errorReason(error)}`);
        return;
      }
      this.#realRoot ??= realpath(this.root).catch((error: NodeJS.ErrnoException) => {
        throw rootError(this.options.path, this.root, error);
      });
      const realRoot = await this.#realRoot;
      if (target !== realRoot && !target.startsWith(realRoot + sep)) {
        this.counters.skippedOutsideRoot++;
        this.warnings.add(`not following symlink '${relativePath}': it points outside the path`);
        return;
      }
      const targetStats = await stat(target).catch(() => undefined);
      if (targetStats?.isDirectory()) return;
      if (!targetStats?.isFile()) {
        this.counters.unreadable++;
        this.warnings.add(`skipping '${relativePath}': not a regular file`);
        return;
      }
    } else if (!entry.isFile()) {
      this.counters.unreadable++;
      this.warnings.add(`skipping '${relativePath}': not a regular file`);
      return;
    }
    if (this.candidates.length === this.options.maxFiles) {
      this.maxFilesReached = true;
      return;
    }
    this.candidates.push({ absolutePath, relativePath });
  }
}

/**
 * A predicate for gitignore-like globs: a pattern without '/' matches a name at any depth; one
 * with a '/' (other than a trailing one) is relative to the root.
 */
function compilePatterns(patterns: string[]): (relativePath: string) => boolean {
  if (patterns.length === 0) return () => false;
  const anywhere: string[] = [];
  const anchored: string[] = [];
  for (const pattern of patterns) {
    const { glob, isAnchored } = normalisePattern(pattern);
    (isAnchored ? anchored : anywhere).push(glob);
  }
  const nameMatchers = anywhere.map(globMatcher);
  const pathMatchers = anchored.map(globMatcher);
  return (relativePath) => {
    const name = relativePath.slice(relativePath.lastIndexOf("/") + 1);
    return (
      nameMatchers.some((match) => match(name)) || pathMatchers.some((match) => match(relativePath))
    );
  };
}

/**
 * A glob's matcher: the name itself (`file (1).txt` is no group), or picomatch's expression for
 * it, where `.` also matches a line break: a file name may hold one, and `**` or a negated
 * pattern must not skip that file (picomatch writes `**` with `.`).
 */
function globMatcher(glob: string): (input: string) => boolean {
  const made = picomatch.makeRe(glob, { dot: true });
  const re = new RegExp(made.source, `${made.flags.replace("s", "")}s`);
  return (input) => input === glob || re.test(input);
}

/** Trailing slashes are dropped: folders match by path anyway, and their contents follow. */
function normalisePattern(pattern: string): { glob: string; isAnchored: boolean } {
  let glob = pattern.trim().replaceAll("\\", "/").replace(/\/+$/, "");
  if (glob.startsWith("./")) glob = glob.slice(2);
  const isAnchored = glob.includes("/");
  return { glob: glob.replace(/^\/+/, ""), isAnchored };
}

/**
 * Reads every candidate (`file-reader.ts`): the first small ones here, the rest on the worker
 * threads; outcomes are in candidate order.
 */
async function readAll(
  candidates: Candidate[],
  { maxFileSize, encoding, errors }: Options,
  { workers, signal }: ComponentContext,
): Promise<ReadOutcome[]> {
  const settings = { maxFileSize, encoding, errors };
  const paths = candidates.map((candidate) => candidate.absolutePath);
  const { read, rest } = readSmallFiles(paths, settings, {
    files: FILES_PER_THREAD,
    bytes: MAIN_THREAD_READ_BYTES,
    ms: MAIN_THREAD_READ_MS,
  });
  if (rest.length > 0) {
    const { answers, failure } = await shareOut<string, ReadOutcome>(
      workers,
      readerUrl,
      "readFiles",
      rest.map((index) => paths[index]!),
      settings,
      { perThread: FILES_PER_THREAD, signal },
    );
    // Files taken by a thread whose task failed (or was aborted) are unanswered.
    if (answers.size < rest.length) throw failure ?? new Error("a reading thread stopped");
    for (const [at, outcome] of answers) read.set(rest[at]!, outcome);
  }
  return candidates.map((_, index) => read.get(index)!);
}

/** Forwards per-file warnings to the context, summarising once there are too many. */
class FileWarnings {
  #count = 0;
  constructor(private readonly context: ComponentContext) {}

  add(message: string): void {
    this.#count++;
    if (this.#count <= MAX_FILE_WARNINGS) this.context.warn(`filesystem: ${message}`);
  }

  flush(): void {
    if (this.#count > MAX_FILE_WARNINGS) {
      this.context.warn(
        `filesystem: ... and ${this.#count - MAX_FILE_WARNINGS} more such warnings`,
      );
    }
  }
}

function describeSkipped(counters: Counters): string {
  return [
    [counters.skippedBinary, "binary"],
    [counters.skippedTooLarge, "larger than max_file_size"],
    [counters.unreadable, "unreadable"],
    [counters.skippedOutsideRoot, "symlinked from outside the path"],
  ]
    .filter(([count]) => (count as number) > 0)
    .map(([count, what]) => `${count} ${what}`)
    .join(", ");
}

function reportSkipped(counters: Counters, options: Options, context: ComponentContext): void {
  // Unreadable files and outside symlinks were already warned about one by one.
  const summary = describeSkipped({ ...counters, unreadable: 0, skippedOutsideRoot: 0 });
  if (summary) context.warn(`filesystem: skipped files in '${options.path}': ${summary}`);
}
