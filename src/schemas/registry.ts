/**
 * @module The JSON Schemas artifacts are validated against. Files live at
 * `schemas/<name>/<version>/<name>.json` in the package root (draft-07, upstream-compatible shapes);
 * each gets a validator once, on first use: the build's precompiled one (`precompiled.ts`) when it
 * was made from the same file, else one Ajv compiles (Ajv itself is loaded only then).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { Ajv, Options as AjvOptions, ErrorObject, ValidateFunction } from "ajv";
import type { FormatsPlugin } from "ajv-formats";
import { CorruptDataError, type Issue, NotFoundError } from "../errors.js";
import { formatSchemaRef, type SchemaRef, sha256 } from "../message.js";
import { packageFile } from "../paths.js";
import { PRECOMPILED_DIR, precompiledFile } from "../precompiled.js";

const require = createRequire(import.meta.url);

const BUNDLED_SCHEMAS_DIR = packageFile("schemas");

// Checked before touching the disk, so a schema reference from a runbook cannot name a path.
const SCHEMA_NAME = /^[a-z][a-z0-9_]*$/;
const SCHEMA_VERSION = /^\d+\.\d+\.\d+$/;

/** A document with thousands of mistakes gets the first ones and a count, not a wall of text. */
const MAX_ISSUES = 50;

/**
 * The Ajv instance content is validated with. `checkSchemas`: validate each schema against the
 * meta-schema when it is compiled. `code`: Ajv's code options (the build step asks for source).
 */
export function createContentAjv({
  checkSchemas,
  code,
}: {
  checkSchemas: boolean;
  code?: AjvOptions["code"];
}): Ajv {
  const { Ajv } = require("ajv") as typeof import("ajv");
  // ajv-formats is CommonJS; the plugin is its `default` property.
  const addFormats = (require("ajv-formats") as { default: FormatsPlugin }).default;
  const ajv = new Ajv({
    allErrors: true,
    strict: true,
    allowUnionTypes: true,
    validateSchema: checkSchemas,
    ...(code ? { code } : {}),
  });
  // Upstream schemas carry a top-level `version`; declare it so strict mode accepts it.
  ajv.addVocabulary(["version"]);
  addFormats(ajv);
  return ajv;
}

/** A validator the build step wrote, stamped with the sha256 of the schema file it compiled. */
type PrecompiledValidator = ValidateFunction & { sourceSha256?: unknown };

/** Schemas in one folder laid out as `<name>/<version>/<name>.json`. */
export class SchemaRegistry {
  readonly #dir: string;
  /** Where the build's precompiled validators live, if this registry has any. */
  readonly #precompiledDir: string | undefined;
  readonly #documents = new Map<string, Record<string, unknown>>();
  /** sha256 of each loaded schema file's text, by `name/version`. */
  readonly #sourceSha256 = new Map<string, string>();
  readonly #validators = new Map<string, ValidateFunction>();
  readonly #exists = new Map<string, boolean>();
  #ajv: Ajv | undefined;

  constructor(dir: string, { precompiledDir }: { precompiledDir?: string } = {}) {
    this.#dir = dir;
    this.#precompiledDir = precompiledDir;
  }

  /** Whether the schema exists (a malformed name or version never does). Asked per artifact: cached. */
  hasSchema(ref: SchemaRef): boolean {
    if (!isWellFormed(ref)) return false;
    const file = this.schemaFile(ref);
    let exists = this.#exists.get(file);
    if (exists === undefined) {
      exists = existsSync(file);
      this.#exists.set(file, exists);
    }
    return exists;
  }

  /** Every schema in the folder, sorted by name then version. */
  listSchemas(): SchemaRef[] {
    if (!existsSync(this.#dir)) return [];
    const refs: SchemaRef[] = [];
    for (const name of readdirSync(this.#dir).sort()) {
      if (!SCHEMA_NAME.test(name)) continue;
      const versions = readdirSync(join(this.#dir, name)).filter((v) => SCHEMA_VERSION.test(v));
      for (const version of versions.sort(compareVersions)) {
        if (this.hasSchema({ name, version })) refs.push({ name, version });
      }
    }
    return refs;
  }

  /**
   * The parsed schema document.
   * @throws NotFoundError if there is no such schema; CorruptDataError if its file is not valid
   * JSON or declares another version.
   */
  loadSchema(ref: SchemaRef): Record<string, unknown> {
    const key = formatSchemaRef(ref);
    const cached = this.#documents.get(key);
    if (cached) return cached;
    if (!this.hasSchema(ref)) {
      throw new NotFoundError(this.#unknownMessage(ref), { code: "schema_not_found" });
    }
    const file = this.schemaFile(ref);
    let document: unknown;
    try {
      const text = readFileSync(file, "utf8");
      // Only a precompiled validator needs it, to check its stamp.
      if (this.#precompiledDir) this.#sourceSha256.set(key, sha256(text));
      document = JSON.parse(text);
    } catch (error) {
      throw new CorruptDataError(file, `not valid JSON: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (typeof document !== "object" || document === null || Array.isArray(document)) {
      throw new CorruptDataError(file, "a schema must be a JSON object");
    }
    const declared = (document as Record<string, unknown>).version;
    if (declared !== undefined && declared !== ref.version) {
      throw new CorruptDataError(
        file,
        `declares version '${String(declared)}' but is stored as version '${ref.version}'`,
      );
    }
    this.#documents.set(key, document as Record<string, unknown>);
    return document as Record<string, unknown>;
  }

  /**
   * Validates `content` against the schema; returns no issues when it conforms. Paths are
   * slash-separated (`findings/0/category`); an unknown schema is one issue saying so.
   */
  validateContent(ref: SchemaRef, content: unknown): Issue[] {
    if (!this.hasSchema(ref)) return [{ path: "", message: this.#unknownMessage(ref) }];
    const validate = this.#validatorFor(ref);
    if (validate(content)) return [];
    const errors = validate.errors ?? [];
    const issues = errors.slice(0, MAX_ISSUES).map(toIssue);
    if (errors.length > MAX_ISSUES) {
      issues.push({ path: "", message: `... and ${errors.length - MAX_ISSUES} more problems` });
    }
    return issues;
  }

  #validatorFor(ref: SchemaRef): ValidateFunction {
    const key = formatSchemaRef(ref);
    let validate = this.#validators.get(key);
    if (!validate) {
      const schema = this.loadSchema(ref);
      validate = this.#precompiled(ref) ?? this.#getAjv().compile(schema);
      this.#validators.set(key, validate);
    }
    return validate;
  }

  #getAjv(): Ajv {
    // The bundled schemas are checked against the meta-schema by a test; compiling the
    // meta-schema on every start would cost more than validating most runs' content.
    this.#ajv ??= createContentAjv({ checkSchemas: false });
    return this.#ajv;
  }

  /** The build's validator for a loaded schema, if it was compiled from the same file. */
  #precompiled(ref: SchemaRef): ValidateFunction | undefined {
    if (!this.#precompiledDir) return undefined;
    const file = precompiledFile(this.#precompiledDir, "schemas", ref.name, ref.version, ".cjs");
    let validate: PrecompiledValidator;
    try {
      // Missing or broken: compiled at run time instead.
      validate = require(file) as PrecompiledValidator;
    } catch {
      return undefined;
    }
    const stamp = this.#sourceSha256.get(formatSchemaRef(ref));
    return typeof validate === "function" && validate.sourceSha256 === stamp ? validate : undefined;
  }

  /** The file a schema lives in (it may not exist). */
  schemaFile(ref: SchemaRef): string {
    return join(this.#dir, ref.name, ref.version, `${ref.name}.json`);
  }

  #unknownMessage(ref: SchemaRef): string {
    const known = this.listSchemas().map(formatSchemaRef);
    return `Unknown schema '${formatSchemaRef(ref)}'${known.length > 0 ? ` (known: ${known.join(", ")})` : ""}.`;
  }
}

function isWellFormed(ref: SchemaRef): boolean {
  return SCHEMA_NAME.test(ref.name) && SCHEMA_VERSION.test(ref.version);
}

function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    const diff = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

function toIssue(error: ErrorObject): Issue {
  const segments = error.instancePath
    .split("/")
    .slice(1)
    .map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"));
  const params = error.params as Record<string, unknown>;
  if (error.keyword === "required") {
    return {
      path: [...segments, String(params.missingProperty)].join("/"),
      message: "is required but missing",
    };
  }
  if (error.keyword === "additionalProperties") {
    return {
      path: [...segments, String(params.additionalProperty)].join("/"),
      message: "is not an allowed property here",
    };
  }
  const allowed = error.keyword === "enum" ? `: ${JSON.stringify(params.allowedValues)}` : "";
  return { path: segments.join("/"), message: `${error.message ?? "is invalid"}${allowed}` };
}

/** The schemas shipped with wct (`schemas/` in the package root). */
export const bundledSchemas = new SchemaRegistry(
  BUNDLED_SCHEMAS_DIR,
  PRECOMPILED_DIR ? { precompiledDir: PRECOMPILED_DIR } : {},
);

/** Whether wct ships the schema. */
export function hasSchema(ref: SchemaRef): boolean {
  return bundledSchemas.hasSchema(ref);
}

/** Every schema wct ships, sorted. */
export function listSchemas(): SchemaRef[] {
  return bundledSchemas.listSchemas();
}

/** The parsed document of a shipped schema; throws NotFoundError if unknown. */
export function loadSchema(ref: SchemaRef): Record<string, unknown> {
  return bundledSchemas.loadSchema(ref);
}

/** Validates content against a shipped schema; see {@link SchemaRegistry.validateContent}. */
export function validateContent(ref: SchemaRef, content: unknown): Issue[] {
  return bundledSchemas.validateContent(ref, content);
}
