/**
 * @module The `filesystem` connector: reads the text files under a folder (or one file) into a
 * `standard_input/1.0.0` document, one data item per file.
 *
 * The walk is sorted and therefore deterministic. Symlinks that resolve outside `path` are never
 * followed; symlinked files inside it are read (by their real paths) unless the walk leaves their
 * target out; symlinked folders are not descended (their target is inside `path`, so it is
 * scanned anyway, and skipping them rules out cycles). Binary files,
 * files over `max_file_size` and files that cannot be read (vanished, no permission, broken
 * symlink, FIFO or other special file) are skipped and counted in the output's metadata.
 * Folders the context says are never read (wct's store) are left out of the walk. The walk runs
 * here; the files are read by `file-reader.ts`, on the worker threads but for the first
 * few small ones.
 */
import { type Dirent, readdirSync, statSync } from "node:fs";
import { readdir, realpath, stat } from "node:fs/promises";
import { basename, join, resolve, sep } from "node:path";
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
import {
  type DecodeErrors,
  decoderEncoding,
  errorReason,
  type ReadOutcome,
  readSmallFiles,
} from "./file-reader.js";

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
      "Globs relative to `path`, gitignore-like (a pattern without '/' matches at any depth); only matching files are read, and every file of a matching folder (one ending in '/' matches folders only). The last matching pattern decides: a '!pattern' takes out what it matches (only '!' patterns: every file but those).",
  },
  {
    name: "exclude_patterns",
    type: "string[]",
    required: false,
    description:
      "Globs relative to `path`, applied after include_patterns; a matching folder is skipped whole (e.g. __pycache__, *.pyc; one ending in '/' matches folders only). A later '!pattern' includes again what it matches (the last matching pattern wins), but nothing inside an excluded folder.",
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
      "Text encoding of the files: a WHATWG Encoding standard label or a Python codec name (utf-8, latin-1, utf-16-le, cp1252, ascii, ...). A byte order mark (UTF-8, UTF-16LE or BE) overrides it.",
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

/**
 * A path to open: a Buffer for one whose names are not all UTF-8 (Node reads such a name with
 * U+FFFD for its bad bytes, which names no file).
 */
type FsPath = string | Buffer;

/** A folder entry: its name, read as UTF-8, and its bytes where they are not UTF-8. */
interface Entry extends Pick<Dirent, "isDirectory" | "isFile" | "isSymbolicLink"> {
  name: string;
  bytes?: Buffer;
}

/** A file the walk selected, in walk order. */
interface Candidate {
  /** The path to read it by: for a symlink, its target's real path. */
  absolutePath: FsPath;
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
    if (typeof encoding === "string" && decoderEncoding(encoding) === undefined) {
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

const withSep = (dir: string) => (dir.endsWith(sep) ? dir : dir + sep);

/**
 * The real paths of `dirs` (undefined for one that does not exist, which cannot be met); refuses
 * a `path` whose real path `realRoot` is one of them or lies inside one (wct's store).
 */
async function refuseIgnored(
  realRoot: string,
  dirs: readonly string[],
  written: string,
  root: string,
): Promise<(string | undefined)[]> {
  const realDirs = await Promise.all(dirs.map((dir) => realpath(dir).catch(() => undefined)));
  for (const dir of realDirs) {
    if (dir && (dir === realRoot || realRoot.startsWith(withSep(dir)))) {
      throw new ComponentError(
        `filesystem: path '${written}' (${root}) is in wct's store, which is never read`,
      );
    }
  }
  return realDirs;
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
    // Read by its real path: files are opened without following a symlink.
    const real = await realpath(root).catch((error: NodeJS.ErrnoException) => {
      throw rootError(options.path, root, error);
    });
    if (context.ignoreDirs?.length) {
      await refuseIgnored(real, context.ignoreDirs, options.path, root);
    }
    // Named as written: a file named by a `${VAR}` must not put the value in the artifact.
    const writtenPath = context.writtenProperties.path;
    const shown = basename(typeof writtenPath === "string" ? writtenPath : root);
    candidates = [{ absolutePath: real, relativePath: shown }];
  } else {
    const walk = new Walk(root, options, counters, warnings, context);
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
    // The path as written and, when it differs, as resolved.
    const where = options.path === root ? `'${root}'` : `'${options.path}' (${root})`;
    const limit = maxFilesReached
      ? `; max_files (${options.maxFiles}) was used up by these before any text file: raise it`
      : "";
    throw new ComponentError(
      `filesystem: no readable text files under ${where}; ${describeSkipped(counters) || "no files matched"}${limit}`,
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
      // As upstream names them: a folder's text is `…_directory`.
      name: `standard_input_from_${name}${rootIsFile ? "" : "_directory"}`,
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
  readonly #isExcluded: (relativePath: string, isFolder: boolean) => boolean;
  readonly #isIncluded: (relativePath: string) => boolean;
  /** The root with symlinks resolved: only needed once a symlink is met, or folders are ignored. */
  #realRoot: Promise<string> | undefined;
  /** The folders under the root that are never read (`ComponentContext.ignoreDirs`), by path. */
  #ignored: ReadonlySet<string> = new Set();
  /** Whether the walk leaves out a folder (excluded, or ignored): nothing in it is read. */
  readonly #leavesOut = (relativePath: string): boolean =>
    this.#isExcluded(relativePath, true) || this.#ignored.has(relativePath);

  constructor(
    private readonly root: string,
    private readonly options: Options,
    private readonly counters: Counters,
    private readonly warnings: FileWarnings,
    private readonly context: ComponentContext,
  ) {
    this.#isExcluded = excludeDecider(options.excludePatterns.map(normalisePattern));
    this.#isIncluded = includeDecider(options.includePatterns.map(normalisePattern));
  }

  /** Walks the root folder, whose entries the caller has listed. */
  async run(rootEntries: Dirent[]): Promise<void> {
    const { ignoreDirs } = this.context;
    if (ignoreDirs?.length) this.#ignored = await this.#ignoredFolders(ignoreDirs);
    return this.#visitEntries(rootEntries, this.root, "");
  }

  /**
   * The ignored folders that lie under the root, by their path from it. The walk descends no
   * symlink, so a folder's real path is the real root's joined with its path: comparing the
   * paths takes no system call per folder.
   */
  async #ignoredFolders(dirs: readonly string[]): Promise<Set<string>> {
    const realRoot = await this.#realRootPath();
    const realDirs = await refuseIgnored(realRoot, dirs, this.options.path, this.root);
    const prefix = withSep(realRoot);
    const ignored = new Set<string>();
    for (const dir of realDirs) {
      if (dir?.startsWith(prefix)) ignored.add(dir.slice(prefix.length).replaceAll(sep, "/"));
    }
    return ignored;
  }

  #realRootPath(): Promise<string> {
    this.#realRoot ??= realpath(this.root).catch((error: NodeJS.ErrnoException) => {
      throw rootError(this.options.path, this.root, error);
    });
    return this.#realRoot;
  }

  #list(folder: FsPath): Promise<Listing> {
    return readdir(folder, { withFileTypes: true }).then(
      (entries) => ({ entries }),
      (error: unknown) => ({ error }),
    );
  }

  /**
   * The entries of a folder whose listing holds a name that is not UTF-8 (read with U+FFFD), with
   * the bytes of such names: listed again, by bytes. Only such folders cost the second listing.
   */
  async #byBytes(listed: Dirent[], folder: FsPath): Promise<Entry[]> {
    if (!listed.some((entry) => entry.name.includes("\uFFFD"))) return listed;
    let raw: Dirent<Buffer>[];
    try {
      raw = await readdir(folder, { withFileTypes: true, encoding: "buffer" });
    } catch {
      return listed; // Gone since: its files are unreadable, and said so.
    }
    return raw.map((entry) => {
      const name = entry.name.toString();
      return {
        name,
        ...(Buffer.from(name).equals(entry.name) ? {} : { bytes: entry.name }),
        isDirectory: () => entry.isDirectory(),
        isFile: () => entry.isFile(),
        isSymbolicLink: () => entry.isSymbolicLink(),
      };
    });
  }

  async #visitFolder(
    listing: Promise<Listing>,
    folder: FsPath,
    relativeFolder: string,
  ): Promise<void> {
    const listed = await listing;
    if ("error" in listed) {
      this.counters.unreadable++;
      this.warnings.add(`cannot list '${relativeFolder}': ${errorReason(listed.error)}`);
      return;
    }
    await this.#visitEntries(listed.entries, folder, relativeFolder);
  }

  async #visitEntries(listed: Dirent[], folder: FsPath, relativeFolder: string): Promise<void> {
    const entries = await this.#byBytes(listed, folder);
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const visits = entries.flatMap((entry) => {
      const relativePath = relativeFolder ? `${relativeFolder}/${entry.name}` : entry.name;
      // An excluded folder is not even listed: nothing in it is read, as in gitignore.
      if (this.#isExcluded(relativePath, entry.isDirectory())) return [];
      if (entry.isDirectory() && this.#ignored.has(relativePath)) return [];
      const absolutePath = childPath(folder, entry);
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
      this.context.signal.throwIfAborted();
      if (entry.isDirectory()) {
        const listing = listings[folderIndex]!;
        // Dropped once visited: a wide folder does not keep every listing of its subfolders.
        listings[folderIndex] = undefined;
        folderIndex++;
        listAhead(folderIndex + LISTINGS_AHEAD);
        await this.#visitFolder(listing, absolutePath, relativePath);
      } else if (this.#isIncluded(relativePath)) {
        await this.#considerFile(entry, absolutePath, relativePath);
      }
    }
  }

  async #considerFile(entry: Entry, absolutePath: FsPath, relativePath: string): Promise<void> {
    if (entry.isSymbolicLink()) {
      let target: FsPath;
      try {
        // By bytes where the link's path is not UTF-8: so may its target's be.
        target =
          typeof absolutePath === "string"
            ? await realpath(absolutePath)
            : await realpath(absolutePath, { encoding: "buffer" });
      } catch (error) {
        this.counters.unreadable++;
        this.warnings.add(`cannot follow symlink '${relativePath}': ${errorReason(error)}`);
        return;
      }
      // With a separator after each: the root may be '/'.
      const rootPrefix = withSep(await this.#realRootPath());
      const shownTarget = target.toString();
      if (!withSep(shownTarget).startsWith(rootPrefix)) {
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
      // A file the walk leaves out (excluded, in an excluded folder, in wct's store) is not read
      // through a symlink either.
      const targetPath = shownTarget.slice(rootPrefix.length).replaceAll(sep, "/");
      if (this.#isExcluded(targetPath, false) || folderOf(targetPath).some(this.#leavesOut)) {
        this.warnings.add(`not following symlink '${relativePath}': its target is left out`);
        return;
      }
      // Read by its target's path: the reader opens no symlink.
      absolutePath = target;
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

/** The path of an entry of `folder`: by bytes where either is not UTF-8. */
function childPath(folder: FsPath, entry: Entry): FsPath {
  if (typeof folder === "string" && !entry.bytes) return join(folder, entry.name);
  return Buffer.concat([
    Buffer.from(folder),
    Buffer.from(sep),
    entry.bytes ?? Buffer.from(entry.name),
  ]);
}

/** The folders a path lies in, outermost first: `a/b/c.txt` is in `a` and `a/b`. */
function folderOf(relativePath: string): string[] {
  const parts = relativePath.split("/");
  return parts.slice(0, -1).map((_, index) => parts.slice(0, index + 1).join("/"));
}

/** A gitignore-like glob, as `normalisePattern` reads it. */
interface Pattern {
  glob: string;
  /** It holds a '/' (other than a trailing one): it matches paths from the root, not names. */
  isAnchored: boolean;
  /** Written `!glob`. */
  isNegated: boolean;
  /** Written `glob/`: it names folders. */
  isFolder: boolean;
}

/**
 * Whether exclude patterns exclude a path, as gitignore reads them: the last pattern that matches
 * decides, a `!pattern` including again what an earlier one excluded; `build/` matches folders
 * only.
 */
function excludeDecider(patterns: Pattern[]): (relativePath: string, isFolder: boolean) => boolean {
  if (patterns.length === 0) return () => false;
  const rules = patterns.map((pattern, index) => ({
    ...pattern,
    matches: pathMatcher(pattern),
    // `tmp/**` matches what `tmp` holds, not the folder itself (picomatch's does): with a later
    // `!` pattern (`!tmp/keep.md`), the folder is walked so that it can include a file of it
    // again; without one, skipping the folder whole comes to the same.
    itself:
      pattern.glob.endsWith("/**") && patterns.slice(index + 1).some((later) => later.isNegated)
        ? pathMatcher({ ...pattern, glob: pattern.glob.slice(0, -3) })
        : undefined,
  }));
  return (relativePath, isFolder) => {
    const name = relativePath.slice(relativePath.lastIndexOf("/") + 1);
    for (let index = rules.length - 1; index >= 0; index--) {
      const rule = rules[index]!;
      if (!isFolder && rule.isFolder) continue;
      if (isFolder && rule.itself?.(relativePath, name)) continue;
      if (rule.matches(relativePath, name)) return !rule.isNegated;
    }
    return false;
  };
}

/**
 * Whether include patterns select a file, as upstream's (gitwildmatch) patterns do: the last
 * pattern that matches the file or a folder it lies in decides, a `!pattern` taking out what an
 * earlier one selected; `docs/` matches folders only. With only `!` patterns, every file but
 * theirs is selected; with none, every file.
 */
function includeDecider(patterns: Pattern[]): (relativePath: string) => boolean {
  if (patterns.length === 0) return () => true;
  const rules = patterns.map((pattern) => ({ ...pattern, matches: pathMatcher(pattern) }));
  const unmatched = rules.every((rule) => rule.isNegated);
  return (relativePath) => {
    const parts = relativePath.split("/");
    const matches = (rule: (typeof rules)[number]): boolean => {
      if (!rule.isFolder && rule.matches(relativePath, parts.at(-1)!)) return true;
      for (let depth = 1; depth < parts.length; depth++) {
        if (rule.matches(parts.slice(0, depth).join("/"), parts[depth - 1]!)) return true;
      }
      return false;
    };
    for (let index = rules.length - 1; index >= 0; index--) {
      if (matches(rules[index]!)) return !rules[index]!.isNegated;
    }
    return unmatched;
  };
}

/** A pattern without '/' matches a name at any depth; one with a '/' is relative to the root. */
function pathMatcher(pattern: Pattern): (relativePath: string, name: string) => boolean {
  const glob = globMatcher(pattern.glob);
  // `a/b/**/`: the folders under `a/b`, as in git, not `a/b` itself (picomatch's `**` also
  // matches nothing), whose own files it would take along.
  const parent =
    pattern.isFolder && pattern.glob.endsWith("/**")
      ? globMatcher(pattern.glob.slice(0, -3))
      : null;
  const match = parent ? (input: string) => glob(input) && !parent(input) : glob;
  return pattern.isAnchored ? (relativePath) => match(relativePath) : (_, name) => match(name);
}

/**
 * A glob's matcher: the name itself (`file (1).txt` is no group), or picomatch's expression for
 * it, where `.` also matches a line break: a file name may hold one, and `**` or a negated
 * pattern must not skip that file (picomatch writes `**` with `.`).
 */
function globMatcher(glob: string): (input: string) => boolean {
  // `nonegate`: a '!' left at its start is a name's (written '\!important.txt'), not a negation.
  const made = picomatch.makeRe(glob, { dot: true, nonegate: true });
  const re = new RegExp(made.source, `${made.flags.replace("s", "")}s`);
  return (input) => input === glob || re.test(input);
}

/**
 * Reads a pattern: a leading '!' negates it, and as in gitignore `\!` and `\#` at its start
 * are those characters; trailing slashes make it a folder pattern, and a leading './' or '/' is
 * dropped (a '/' anchors it anyway). Other backslashes are separators, as Windows writes them.
 */
function normalisePattern(pattern: string): Pattern {
  let glob = pattern.trim();
  const isNegated = glob.startsWith("!");
  if (isNegated) glob = glob.slice(1);
  if (/^\\[!#]/.test(glob)) glob = glob.slice(1);
  glob = glob.replaceAll("\\", "/");
  const isFolder = glob.endsWith("/");
  glob = glob.replace(/\/+$/, "");
  // `./docs` names the top-level `docs`, as `/docs` does (git matches nothing for it).
  const dotSlash = glob.startsWith("./");
  if (dotSlash) glob = glob.slice(2);
  const isAnchored = dotSlash || glob.includes("/");
  return { glob: glob.replace(/^\/+/, ""), isAnchored, isNegated, isFolder };
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
    const { answers, failure } = await shareOut<FsPath, ReadOutcome>(
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
