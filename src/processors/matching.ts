/**
 * @module Pattern matching of a detection ruleset over text, built for throughput: the text is
 * lowercased once, every keyword of every rule is found by one combined alternation with word
 * boundaries, and value detectors are anchored on cheap characters (see `detectors.ts`).
 * Semantics follow upstream: a keyword matches case-insensitively where it is not glued to a
 * letter or digit (`email` matches `user_email`, not `emails`); every pattern is counted on its
 * own, including keywords nested in longer ones (`email_address` counts `email` and `address`).
 */
import type { DetectionRuleset } from "../rulesets/model.js";
import { DETECTORS, type Detector, type Emit, forgetScannedText } from "./detectors.js";

/** How much text around a match an evidence snippet shows. */
export type EvidenceContextSize = "small" | "medium" | "large" | "full";

/** Characters on each side of a match, per context size (`full` = the whole text). */
export const EVIDENCE_CONTEXT_CHARS = { small: 50, medium: 100, large: 200 } as const;

export interface EvidenceOptions {
  contextSize: EvidenceContextSize;
  /** At most this many snippets per finding. */
  maximumEvidenceCount: number;
  /** Matches closer than this (in characters) share one snippet. */
  proximityThreshold: number;
}

/** One pattern of a finding and how often it matched. */
export interface PatternCount {
  pattern: string;
  match_count: number;
}

/** What one rule found in one text. */
export interface RuleMatch {
  /** Index of the rule in the ruleset. */
  rule: number;
  matchedPatterns: PatternCount[];
  /** Snippets around representative matches, in text order. */
  evidence: string[];
}

/** A keyword, detector or regex, shared by every rule that lists it. */
interface PatternSource {
  label: string;
  rules: number[];
}

interface KeywordEntry {
  source: number;
  /** Shorter keywords that also match where this one starts (`email` inside `email_address`). */
  impliedPrefixes: { source: number; length: number }[];
  /** Where a keyword nested after a separator could start; scanning resumes there. */
  resumeOffset: number;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function isAsciiAlnum(char: string): boolean {
  return /[a-z0-9]/.test(char);
}

/** Hits of one scan: parallel start/end lists per pattern source. */
class Hits {
  readonly starts: (number[] | undefined)[];
  readonly ends: (number[] | undefined)[];
  constructor(sourceCount: number) {
    this.starts = new Array(sourceCount);
    this.ends = new Array(sourceCount);
  }
  add(source: number, start: number, end: number): void {
    const starts = this.starts[source];
    if (starts) {
      starts.push(start);
      this.ends[source]!.push(end);
    } else {
      this.starts[source] = [start];
      this.ends[source] = [end];
    }
  }
}

/** A compiled detection ruleset; `scan` is pure and can run on any thread. */
export class PatternMatcher {
  private readonly sources: PatternSource[] = [];
  private readonly ruleSources: number[][];
  private readonly keywords = new Map<string, KeywordEntry>();
  private readonly keywordRegex: RegExp | undefined;
  /** For the rare text whose lowercase form has another length (some non-ASCII letters). */
  private readonly keywordRegexIgnoreCase: RegExp | undefined;
  private readonly longestKeyword: number = 0;
  /**
   * Each detector with the callback it reports hits to: made once, so that every scan calls the
   * same function (a new closure per scan makes V8 throw away the detector's optimised code).
   */
  private readonly detectors: { detector: Detector; emit: Emit }[] = [];
  /** The hits of the scan under way (`scan` is synchronous). */
  private hits: Hits | null = null;
  private readonly regexes: { regex: RegExp; source: number }[] = [];

  constructor(readonly ruleset: DetectionRuleset) {
    const sourceByKey = new Map<string, number>();
    const sourceFor = (key: string, label: string, rule: number): number => {
      let index = sourceByKey.get(key);
      if (index === undefined) {
        index = this.sources.length;
        this.sources.push({ label, rules: [] });
        sourceByKey.set(key, index);
      }
      const source = this.sources[index]!;
      if (!source.rules.includes(rule)) source.rules.push(rule);
      return index;
    };
    this.ruleSources = ruleset.rules.map((rule, ruleIndex) => {
      const indexes: number[] = [];
      for (const keyword of rule.patterns) {
        const normalized = keyword.toLowerCase();
        indexes.push(sourceFor(`k:${normalized}`, keyword, ruleIndex));
      }
      for (const valuePattern of rule.value_patterns) {
        const key =
          "detector" in valuePattern ? `d:${valuePattern.detector}` : `r:${valuePattern.regex}`;
        const isNew = !sourceByKey.has(key);
        if ("detector" in valuePattern) {
          const source = sourceFor(key, `detector:${valuePattern.detector}`, ruleIndex);
          if (isNew) {
            this.detectors.push({
              detector: DETECTORS[valuePattern.detector],
              emit: (start, end) => this.hits!.add(source, start, end),
            });
          }
          indexes.push(source);
        } else {
          const source = sourceFor(key, valuePattern.regex, ruleIndex);
          if (isNew) this.regexes.push({ regex: new RegExp(valuePattern.regex, "gi"), source });
          indexes.push(source);
        }
      }
      return [...new Set(indexes)];
    });

    const keywordList = [...sourceByKey.entries()]
      .filter(([key]) => key.startsWith("k:"))
      .map(([key, source]) => ({ keyword: key.slice(2), source }));
    for (const { keyword, source } of keywordList) {
      // The keywords this one starts with, up to a separator (`email` in `email_address`).
      const impliedPrefixes: KeywordEntry["impliedPrefixes"] = [];
      for (let length = 1; length < keyword.length; length++) {
        if (isAsciiAlnum(keyword[length]!)) continue;
        const prefix = sourceByKey.get(`k:${keyword.slice(0, length)}`);
        if (prefix !== undefined) impliedPrefixes.push({ source: prefix, length });
      }
      let resumeOffset = keyword.length;
      for (let i = 1; i < keyword.length; i++) {
        if (!isAsciiAlnum(keyword[i - 1]!)) {
          resumeOffset = i;
          break;
        }
      }
      this.keywords.set(keyword, { source, impliedPrefixes, resumeOffset });
    }
    if (keywordList.length > 0) {
      // Longest first, so the alternation takes the longest keyword at each position.
      const alternation = keywordList
        .map((k) => k.keyword)
        .sort((a, b) => b.length - a.length || (a < b ? -1 : 1))
        .map(escapeRegExp)
        .join("|");
      // The leading boundary is a character matched, not a look-behind: V8 then skips quickly
      // to the characters that may precede a keyword (about a third faster on mixed text).
      const body = `[^a-z0-9](?:${alternation})(?![a-z0-9])`;
      this.keywordRegex = new RegExp(body, "g");
      this.longestKeyword = Math.max(...keywordList.map((k) => k.keyword.length));
      this.keywordRegexIgnoreCase = new RegExp(body, "gi");
    }
  }

  /** Finds every rule that matches `text`, with pattern counts and evidence snippets. */
  scan(text: string, options: EvidenceOptions): RuleMatch[] {
    const hits = new Hits(this.sources.length);
    this.scanKeywords(text, hits);
    this.hits = hits;
    try {
      for (const { detector, emit } of this.detectors) detector(text, emit);
    } finally {
      this.hits = null;
    }
    for (const { regex, source } of this.regexes) {
      regex.lastIndex = 0;
      for (let m = regex.exec(text); m !== null; m = regex.exec(text)) {
        if (m[0].length === 0) {
          regex.lastIndex++;
          continue;
        }
        hits.add(source, m.index, m.index + m[0].length);
      }
    }
    forgetScannedText();
    return this.collect(text, hits, options);
  }

  /**
   * Lowercases and scans the text in windows: V8 lowercases strings that fit its regular heap
   * (well under 128 KiB) about twenty times faster than larger ones. Each window carries the
   * character before it (for the leading boundary; a space before the text's first window) and
   * enough characters after it for the longest keyword and its trailing boundary; only matches
   * starting inside the window count.
   */
  private scanKeywords(text: string, hits: Hits): void {
    if (!this.keywordRegex || !this.keywordRegexIgnoreCase) return;
    for (let windowStart = 0; windowStart < text.length; windowStart += KEYWORD_WINDOW) {
      const windowEnd = windowStart + KEYWORD_WINDOW;
      // The segment's first character is the boundary before the window's first keyword.
      const from = windowStart - 1;
      const sliceEnd = Math.min(text.length, windowEnd + this.longestKeyword + 1);
      const segment =
        windowStart === 0 ? ` ${text.slice(0, sliceEnd)}` : text.slice(from, sliceEnd);
      const lower = segment.toLowerCase();
      // Some non-ASCII letters change length when lowercased; match those windows case-insensitively.
      const aligned = lower.length === segment.length;
      const regex = aligned ? this.keywordRegex : this.keywordRegexIgnoreCase;
      const haystack = aligned ? lower : segment;
      regex.lastIndex = 0;
      for (let m = regex.exec(haystack); m !== null; m = regex.exec(haystack)) {
        // The match starts with the boundary character.
        const start = from + m.index + 1;
        if (start >= windowEnd) break;
        const keyword = aligned ? m[0].slice(1) : m[0].slice(1).toLowerCase();
        const entry = this.keywords.get(keyword)!;
        hits.add(entry.source, start, start + keyword.length);
        for (const prefix of entry.impliedPrefixes) {
          hits.add(prefix.source, start, start + prefix.length);
        }
        // The next match starts at its boundary character: this keyword's last one (`no.` before
        // `-id`) or, for a keyword nested after a separator (`address` in `email_address`), that
        // separator (`resumeOffset` is the keyword's length when none is nested).
        regex.lastIndex = m.index + entry.resumeOffset;
      }
    }
  }

  private collect(text: string, hits: Hits, options: EvidenceOptions): RuleMatch[] {
    const matches: RuleMatch[] = [];
    this.ruleSources.forEach((sources, rule) => {
      const matched = sources.filter((s) => hits.starts[s] !== undefined);
      if (matched.length === 0) return;
      matches.push({
        rule,
        matchedPatterns: matched.map((s) => ({
          pattern: this.sources[s]!.label,
          match_count: hits.starts[s]!.length,
        })),
        evidence: evidenceFor(text, hits, matched, options),
      });
    });
    return matches;
  }
}

/** Characters lowercased and scanned at a time (see `scanKeywords`). */
const KEYWORD_WINDOW = 32 * 1024;

/**
 * Clusters the matches of one rule by proximity (a new cluster starts when a match begins more
 * than `proximityThreshold` after the current cluster ends), takes each cluster's first match,
 * and picks representatives round-robin across patterns so one frequent keyword does not hide
 * the others. Each source's hits are already in text order, so they are merged, not sorted.
 */
function evidenceFor(
  text: string,
  hits: Hits,
  sources: number[],
  options: EvidenceOptions,
): string[] {
  if (options.contextSize === "full") return [maskedSlice(text, 0, text.length)];
  const limit = options.maximumEvidenceCount;
  const cursors = sources.map(() => 0);
  // Round-robin never takes more than `limit` representatives of one source.
  const representatives: { start: number; end: number }[][] = sources.map(() => []);
  let clusterEnd = Number.NEGATIVE_INFINITY;
  for (;;) {
    let next = -1;
    let nextStart = Number.POSITIVE_INFINITY;
    for (let i = 0; i < sources.length; i++) {
      const start = hits.starts[sources[i]!]![cursors[i]!];
      if (start !== undefined && start < nextStart) {
        next = i;
        nextStart = start;
      }
    }
    if (next === -1) break;
    const end = hits.ends[sources[next]!]![cursors[next]!]!;
    cursors[next]!++;
    if (nextStart > clusterEnd + options.proximityThreshold) {
      const list = representatives[next]!;
      if (list.length < limit) list.push({ start: nextStart, end });
      clusterEnd = end;
    } else if (end > clusterEnd) {
      clusterEnd = end;
    }
  }

  const queues = representatives
    .filter((list) => list.length > 0)
    .sort((a, b) => a[0]!.start - b[0]!.start);
  const picked: { start: number; end: number }[] = [];
  for (let round = 0; picked.length < limit; round++) {
    let any = false;
    for (const queue of queues) {
      const hit = queue[round];
      if (hit && picked.length < limit) {
        picked.push(hit);
        any = true;
      }
    }
    if (!any) break;
  }
  picked.sort((a, b) => a.start - b.start);

  const context = EVIDENCE_CONTEXT_CHARS[options.contextSize];
  const snippets: string[] = [];
  for (const { start, end } of picked) {
    // Never cut between the two halves of a surrogate pair (an emoji): the stored JSON would
    // hold a lone surrogate, which strict readers (PostgreSQL jsonb) refuse.
    let from = Math.max(0, start - context);
    let to = Math.min(text.length, end + context);
    if (from > 0 && isLowSurrogate(text.charCodeAt(from))) from--;
    if (to < text.length && isLowSurrogate(text.charCodeAt(to))) to++;
    const snippet = `${from > 0 ? "..." : ""}${maskedSlice(text, from, to)}${to < text.length ? "..." : ""}`;
    if (!snippets.includes(snippet)) snippets.push(snippet);
  }
  return snippets;
}

/** The end of a field name that holds a secret (`password`, `DB_PASSWORD`, `client_secret`, ...). */
const SECRET_NAME =
  "(?:password|passwd|passphrase|pwd|(?<![a-z])pass|credentials?|secret(?:[_-]?key)?|token|api[_-]?key|access[_-]?key|private[_-]?key)";
/** A quoted value whole (its closing quote may lie beyond the window), or one word. */
const QUOTED_OR_WORD = String.raw`("(?:[^"\\\n]|\\.)*"?|'[^'\n]*'?|[^\s"'&,;]+)`;

/**
 * Credentials that evidence never shows: a URL's password (`postgres://app:s3cr3t@db`, group 1),
 * and the value of a field whose name ends in a secret's (`password=`, `DB_PASSWORD: "…"`,
 * `dbPassword=`, `"api_key": "…"`, `Pwd=…;`, `GITHUB_TOKEN=`, `SECRET_KEY=`): after `:` a quoted
 * value or the words up to the line's next `,` or `;` (group 2), after `=` a quoted value or one
 * word (group 3); an XML element's text (`<password>…</password>`, group 4); a command line's
 * `--password …` (group 5); the credentials of an `Authorization:` header (`Bearer …`,
 * `Basic …`, group 6) and a bearer token anywhere (group 7); the password of a command line
 * that takes one after a short flag: `mysql -pS3cret` (group 8), `sshpass -p S3cret` (group 9),
 * `curl -u ada:S3cret` (group 10); a proxy setting's `user:password@` without a scheme
 * (`proxy=ada:S3cret@proxy:3128`, group 11), and an Oracle JDBC URL's `user/password@` (group
 * 12). A name ends in `pass` only after a non-letter (`SMTP_PASS=`,
 * `db.pass`, not `bypass`). A quoted value whose closing quote lies beyond the window runs to
 * its end. A name is tried only where a run of name characters starts, so a long run costs one
 * pass.
 */
const CREDENTIAL = new RegExp(
  [
    String.raw`\/\/[^\s/:@?#]*:([^\s/?#]*)@`,
    String.raw`(?<![\w-])[\w-]*?${SECRET_NAME}["']?[ \t]*(?::[ \t]*("(?:[^"\\\n]|\\.)*"?|'[^'\n]*'?|[^\s"'&,;]+(?:[ \t]+[^\s"'&,;]+)*)|=[ \t]*${QUOTED_OR_WORD})`,
    String.raw`<[\w.:-]*?${SECRET_NAME}(?:\s[^<>]*)?>([^<\n]*)`,
    String.raw`(?<![\w-])--[\w-]*?${SECRET_NAME}[ \t]+(?!-)${QUOTED_OR_WORD}`,
    String.raw`(?<![\w-])(?:proxy-)?authorization["']?[ \t]*[:=][ \t]*["']?(?:(?:bearer|basic|digest|token|negotiate|ntlm)[ \t]+)?([^\s"',;]+)`,
    String.raw`(?<![\w-])bearer[ \t]+([\w.~+/-]{8,}=*)`,
    String.raw`(?<![\w-])(?:mysql|mysqldump|mysqladmin|mariadb|mariadb-dump)(?:[ \t]+[^\s|;&]+)*?[ \t]+-p([^\s"'|;&]+)`,
    String.raw`(?<![\w-])sshpass[ \t]+-p[ \t]*${QUOTED_OR_WORD}`,
    String.raw`(?<![\w-])curl(?:[ \t]+[^\s|;&]+)*?[ \t]+(?:-u|--user)[ \t]+["']?[^\s:"']+:([^\s"']+)`,
    String.raw`(?<![\w-])[\w-]*proxy["']?[ \t]*[:=][ \t]*["']?[^\s:@/"']+:([^\s@/"']+)@`,
    String.raw`jdbc:oracle:\w+:@?[^\s/@:"']+\/([^\s@"']+)@`,
  ].join("|"),
  "gi",
);

/**
 * What every credential `CREDENTIAL` finds holds: a URL's `//`, a secret's name (`pass…`, `pwd`,
 * `secret…`, `token`, `…key`, `credential…`), `authorization`, `bearer` or a command's name. Most snippets hold none of these,
 * and this test is many times faster than `CREDENTIAL`, whose names may start at any word.
 */
const CREDENTIAL_HINT =
  /\/\/|pass|pwd|secret|token|key|credential|authorization|bearer|mysql|mariadb|curl|proxy|jdbc/i;

/** Characters around a snippet searched for a credential that the snippet's edge cuts. */
const CREDENTIAL_REACH = 256;

/**
 * `text.slice(from, to)` with every credential in it (or reaching into it from within
 * `CREDENTIAL_REACH` characters) replaced by `***`, a quoted value keeping its quotes: evidence
 * shows where personal data is, never a credential found beside it.
 */
export function maskedSlice(text: string, from: number, to: number): string {
  const reach = Math.max(0, from - CREDENTIAL_REACH);
  const window = text.slice(reach, Math.min(text.length, to + CREDENTIAL_REACH));
  if (!CREDENTIAL_HINT.test(window)) return text.slice(from, to);
  let out = "";
  let at = from;
  CREDENTIAL.lastIndex = 0;
  for (let m = CREDENTIAL.exec(window); m !== null; m = CREDENTIAL.exec(window)) {
    const value = m.slice(1).find((group) => group !== undefined)!;
    // A password before a host (`//u:pw@`, `proxy=u:pw@`, `u/pw@`): the match ends in its `@`.
    const beforeHost = m[0].endsWith("@") && !value.endsWith("@");
    let start = reach + m.index + m[0].length - value.length - (beforeHost ? 1 : 0);
    let end = start + value.length;
    const quote = beforeHost ? "" : value[0];
    if (quote === '"' || quote === "'") {
      start++;
      if (value.length > 1 && value.endsWith(quote)) end--;
    }
    if (end <= at || start >= to || end <= start) continue;
    out += `${text.slice(at, Math.max(at, start))}***`;
    at = Math.min(to, end);
  }
  return out + text.slice(at, to);
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

const compiled = new WeakMap<DetectionRuleset, PatternMatcher>();

/** The matcher for `ruleset`, compiled once per ruleset object. */
export function compileMatcher(ruleset: DetectionRuleset): PatternMatcher {
  let matcher = compiled.get(ruleset);
  if (!matcher) {
    matcher = new PatternMatcher(ruleset);
    compiled.set(ruleset, matcher);
  }
  return matcher;
}
