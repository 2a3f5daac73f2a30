/**
 * @module `${VAR}` / `${VAR:-default}` substitution in runbook string values, and the two ways
 * back before anything derived from a runbook is persisted (ARCHITECTURE §4.4): runbook values
 * as written (by their path), and redaction of free text.
 */
import { posix } from "node:path";
import type { Issue } from "../errors.js";
import type { Substitution } from "./model.js";

const PLACEHOLDER = /\$\{([^}]+)\}/g;

/** The result of substituting one string. */
export interface SubstitutedString {
  value: string;
  /** Values taken from the environment (defaults written in the runbook are not secrets). */
  substitutions: Substitution[];
  /** Variables that are unset and have no default. */
  missing: string[];
}

/**
 * Replaces every `${NAME}` and `${NAME:-default}` in `text`. An empty variable counts as set
 * (upstream accepts it); the default applies only when the variable is unset. A default may hold
 * placeholders of its own (`${A:-${B}}`, as in the shell), substituted only when it is used.
 */
export function substituteString(
  text: string,
  env: Record<string, string | undefined>,
): SubstitutedString {
  const substitutions: Substitution[] = [];
  const missing: string[] = [];
  const substitute = (from: string): string => {
    let value = "";
    let at = 0;
    for (const [start, end] of placeholderSpans(from)) {
      value += from.slice(at, start);
      at = end + 1;
      const placeholder = from.slice(start, at);
      const body = from.slice(start + 2, end);
      const separator = body.indexOf(":-");
      const name = separator === -1 ? body : body.slice(0, separator);
      const fromEnv = env[name];
      if (fromEnv !== undefined) {
        substitutions.push({ name, value: fromEnv });
        value += fromEnv;
      } else if (separator !== -1) {
        value += substitute(body.slice(separator + 2));
      } else {
        missing.push(name);
        value += placeholder;
      }
    }
    return value + from.slice(at);
  };
  return { value: substitute(text), substitutions, missing };
}

/**
 * Where the placeholders of `text` are, outermost only (a default's own are inside its span):
 * the offsets of each one's `${` and of the `}` that closes it, in order. A `${` never closed is
 * text, and so is `${}`.
 */
function placeholderSpans(text: string): [number, number][] {
  const spans: [number, number][] = [];
  const open: number[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "$" && text[i + 1] === "{") {
      open.push(i);
      i++;
    } else if (text[i] === "}" && open.length > 0) {
      const start = open.pop()!;
      if (i === start + 2) continue;
      // A span inside this one was the default's: only the outermost remain.
      while (spans.length > 0 && spans.at(-1)![0] > start) spans.pop();
      spans.push([start, i]);
    }
  }
  return spans;
}

/** Whether `text` contains a `${...}` placeholder. */
export function hasPlaceholder(text: string): boolean {
  return text.search(PLACEHOLDER) !== -1;
}

/**
 * Deep-copies a JSON value, replacing in every string (keys included) each substituted value by
 * its `${NAME}` placeholder. Only for free text (error messages, warnings, argv), where the
 * structure is unknown: a runbook's own values are persisted as written instead (see
 * `withWrittenPlaceholders`). Longest value first, so that a value containing another is put back
 * whole; placeholders already in the text are left alone, so redacting twice changes nothing.
 * Every non-empty value is redacted, however short: nothing tells a secret from a setting, and a
 * message reading `line ${N}` is a small price for never storing one. Values of fewer than four
 * characters are redacted where they stand as a word (see `WHOLE_WORD_BELOW`).
 */
export function redactSubstitutions(value: unknown, subs: readonly Substitution[]): unknown {
  const byValue = new Map<string, { name: string; wholeWord: boolean }>();
  const forms = subs.flatMap((sub) => valueForms(sub.value).map((form) => ({ ...form, sub })));
  for (const { form, wholeWord, sub } of forms.sort((a, b) => b.form.length - a.form.length)) {
    if (!byValue.has(form)) byValue.set(form, { name: sub.name, wholeWord });
  }
  // The placeholder alternative comes first: where one starts, it is matched and kept as it is.
  const alternatives = [...byValue].map(([form, { wholeWord }]) => valuePattern(form, wholeWord));
  const pattern =
    byValue.size === 0 ? null : new RegExp([PLACEHOLDER.source, ...alternatives].join("|"), "gu");
  const redactText = (text: string): string =>
    pattern
      ? text.replace(pattern, (match) => {
          const form = byValue.get(match);
          return form === undefined ? match : `\${${form.name}}`;
        })
      : text;
  const walk = (node: unknown): unknown => {
    if (typeof node === "string") return redactText(node);
    if (Array.isArray(node)) return node.map(walk);
    if (node !== null && typeof node === "object") {
      return Object.fromEntries(
        Object.entries(node).map(([key, child]) => [redactText(key), walk(child)]),
      );
    }
    return node;
  };
  return walk(value);
}

/**
 * A value as it is substituted, and as messages may show it once it was used as a path: a path
 * is normalised before it is resolved (`./exports/` is looked for as `/base/exports`), so its
 * normalised form, without `./` and trailing slashes, is redacted too, but only where it stands
 * as a word of its own (`./data/` must not turn `personal_data` into `personal_${DATA}`).
 */
function valueForms(value: string): { form: string; wholeWord: boolean }[] {
  if (value === "") return [];
  const normal = posix
    .normalize(value)
    .replace(/^(?:\.\/)+/, "")
    .replace(/(?<=.)\/+$/, "");
  const trimmed = value.replace(/(?<=.)\/+$/, "");
  const variants = [...new Set([trimmed, normal])].filter(
    (form) => form !== value && form !== "" && form !== ".",
  );
  return [
    { form: value, wholeWord: value.length < WHOLE_WORD_BELOW },
    ...variants.map((form) => ({ form, wholeWord: true })),
  ];
}

/**
 * Values shorter than this are redacted only where they stand as a word of their own: replacing
 * `a` or `x` inside every word would garble the message (`e${X}pected`) and, by where the
 * placeholders land, show the value anyway. Longer values are redacted wherever they appear.
 */
const WHOLE_WORD_BELOW = 4;
const WORD_CHAR = "[\\p{L}\\p{N}_]";
const STARTS_WITH_WORD_CHAR = new RegExp(`^${WORD_CHAR}`, "u");
const ENDS_WITH_WORD_CHAR = new RegExp(`${WORD_CHAR}$`, "u");

function valuePattern(value: string, wholeWord: boolean): string {
  const escaped = escapeRegExp(value);
  if (!wholeWord) return escaped;
  const starts = STARTS_WITH_WORD_CHAR.test(value) ? `(?<!${WORD_CHAR})` : "";
  const ends = ENDS_WITH_WORD_CHAR.test(value) ? `(?!${WORD_CHAR})` : "";
  return `${starts}${escaped}${ends}`;
}

/** `issues` with substituted values in their messages put back as placeholders. */
export function redactIssues(issues: readonly Issue[], subs: readonly Substitution[]): Issue[] {
  return issues.map((issue) => ({
    ...issue,
    message: redactSubstitutions(issue.message, subs) as string,
  }));
}

/**
 * Deep-copies a JSON value found at the dotted path `valuePath` of a runbook file, putting back
 * the text as written (`${VAR}` placeholders intact) wherever `placeholders` (the file's
 * `LoadedRunbook.placeholders`) records one, even where the parser made a number or a boolean
 * of it. Nothing is searched for or replaced inside strings.
 */
export function withWrittenPlaceholders(
  value: unknown,
  valuePath: string,
  placeholders: ReadonlyMap<string, string>,
): unknown {
  const written = placeholders.get(valuePath);
  if (written !== undefined) return written;
  const child = (key: string | number): string => (valuePath ? `${valuePath}.${key}` : `${key}`);
  if (Array.isArray(value)) {
    return value.map((item, index) => withWrittenPlaceholders(item, child(index), placeholders));
  }
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [
        key,
        withWrittenPlaceholders(item, child(key), placeholders),
      ]),
    );
  }
  return value;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
