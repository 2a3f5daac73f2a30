/**
 * @module `${VAR}` / `${VAR:-default}` substitution in runbook string values, and the reverse
 * (redaction) applied before anything derived from a runbook is persisted (ARCHITECTURE §4.4).
 */
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
 * (upstream accepts it); the default applies only when the variable is unset.
 */
export function substituteString(
  text: string,
  env: Record<string, string | undefined>,
): SubstitutedString {
  const substitutions: Substitution[] = [];
  const missing: string[] = [];
  const value = text.replace(PLACEHOLDER, (placeholder, body: string) => {
    const separator = body.indexOf(":-");
    const name = separator === -1 ? body : body.slice(0, separator);
    const fallback = separator === -1 ? undefined : body.slice(separator + 2);
    const fromEnv = env[name];
    if (fromEnv !== undefined) {
      substitutions.push({ name, value: fromEnv });
      return fromEnv;
    }
    if (fallback !== undefined) return fallback;
    missing.push(name);
    return placeholder;
  });
  return { value, substitutions, missing };
}

/** Whether `text` contains a `${...}` placeholder. */
export function hasPlaceholder(text: string): boolean {
  return text.search(PLACEHOLDER) !== -1;
}

/**
 * Deep-copies a JSON value, replacing in every string (keys included) each substituted value by
 * its `${NAME}` placeholder, longest value first so that a value containing another is put back
 * whole. Empty values are left alone: they would match everywhere.
 */
export function redactSubstitutions(value: unknown, subs: Substitution[]): unknown {
  const byValue = new Map<string, string>();
  for (const sub of [...subs].sort((a, b) => b.value.length - a.value.length)) {
    if (sub.value !== "" && !byValue.has(sub.value)) byValue.set(sub.value, sub.name);
  }
  const pattern =
    byValue.size === 0 ? null : new RegExp([...byValue.keys()].map(escapeRegExp).join("|"), "g");
  const redactText = (text: string): string =>
    pattern ? text.replace(pattern, (secret) => `\${${byValue.get(secret)}}`) : text;
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

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
