import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, visit } from "yaml";
import { packageFile } from "../paths.js";
import { parseSimpleYaml, type SimpleDocument } from "./simple-yaml.js";

/**
 * What the runbook reader sees of a node tree: kinds, values (with their JS types), where each
 * node starts, and where each scalar ends (duplicate-key messages quote a key's text).
 */
function shape(node: unknown): unknown {
  if (isMap(node)) {
    return { map: node.range?.[0], items: node.items.map((p) => [shape(p.key), shape(p.value)]) };
  }
  if (isSeq(node)) return { seq: node.range?.[0], items: node.items.map(shape) };
  if (isScalar(node)) {
    const value = node.value;
    const typed = typeof value === "number" && Number.isNaN(value) ? "NaN" : value;
    return { scalar: typed, type: typeof value, at: node.range?.slice(0, 2) };
  }
  return node;
}

/** Start offsets of the keys that repeat an earlier key of their mapping, ascending. */
function duplicates(root: unknown): number[] {
  const found: number[] = [];
  if (!isNode(root)) return found;
  visit(root, {
    Map: (_key, map) => {
      const seen = new Set<unknown>();
      for (const { key } of map.items) {
        if (!isScalar(key)) continue;
        if (seen.has(key.value)) found.push(key.range![0]);
        else seen.add(key.value);
      }
    },
  });
  return found.sort((a, b) => a - b);
}

function library(text: string): unknown {
  const doc = parseDocument(text, { uniqueKeys: false, merge: true });
  expect(doc.errors).toEqual([]);
  return { tree: shape(doc.contents), duplicates: duplicates(doc.contents) };
}

function simpleShape(simple: SimpleDocument): unknown {
  return {
    tree: shape(simple.contents),
    duplicates: simple.duplicateKeys.map((key) => key.range![0]).sort((a, b) => a - b),
  };
}

/** The simple reader accepts `text` and builds what the library builds. */
function expectSame(text: string): void {
  const simple = parseSimpleYaml(text);
  expect(simple, `simple reader refused:\n${text}`).toBeDefined();
  expect(simpleShape(simple!), text).toEqual(library(text));
}

/** If the simple reader accepts `text`, it builds what the library builds; true if it did. */
function sameIfAccepted(text: string): boolean {
  const simple = parseSimpleYaml(text);
  if (simple) expect(simpleShape(simple), text).toEqual(library(text));
  return simple !== undefined;
}

/** A seeded PRNG (mulberry32). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SCALARS = [
  "plain text",
  "data/files",
  "local/personal_data_indicator/1.0.0",
  "Data Protection Team <dpo@example.com>",
  "a, b (c) d.",
  "http://example.com/x?y=1",
  "x#y",
  "10",
  "-3",
  "+7",
  "007",
  "0o17",
  "0x1F",
  "1.5",
  "-.5",
  "1e3",
  "2.5E-2",
  ".inf",
  "-.Inf",
  ".nan",
  "true",
  "False",
  "TRUE",
  "yes",
  "no",
  "on",
  "null",
  "Null",
  "~",
  "1_000",
  "12:30",
  "-x",
  '"double \\"quoted\\" \\u00e9 \\n\\t\\\\ \\/"',
  "'single ''quoted'' # not a comment'",
  '""',
  "''",
  "${STORE_DIR}/data",
  "${MAX:-10}",
  "Zoë Ørsted",
  "[]",
  "{}",
  "[a, b, 3, true, null, 'x y', \"z\"]",
  "{ path: data/x, max_files: 100, exclude_patterns: ['*.pyc', __pycache__] }",
  "{a: [1, {b: c}], d: -1}",
];

/** A runbook-like document of nested mappings, lists, flows, block scalars and comments. */
function generate(next: () => number): string {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const lines: string[] = [];
  let keyCount = 0;
  const key = () => pick(["name", "type", "path", "a", "b_c", "x.y", "k9", "1", "on"]) + keyCount++;
  const block = (indent: number, depth: number): void => {
    const pad = " ".repeat(indent);
    const count = 1 + Math.floor(next() * 4);
    for (let i = 0; i < count; i++) {
      const roll = next();
      if (roll < 0.1) lines.push(`${pad}# a comment`);
      if (roll < 0.15) lines.push("");
      const k = key();
      const kind = depth > 2 ? 0 : Math.floor(next() * 6);
      if (kind <= 1) {
        const comment = next() < 0.2 ? "   # trailing" : "";
        lines.push(`${pad}${k}: ${pick(SCALARS)}${comment}`);
      } else if (kind === 2) {
        lines.push(`${pad}${k}:`);
        block(indent + pick([2, 4]), depth + 1);
      } else if (kind === 3) {
        lines.push(`${pad}${k}:`);
        const dashPad = next() < 0.5 ? pad : `${pad}  `;
        const items = 1 + Math.floor(next() * 3);
        for (let j = 0; j < items; j++) {
          if (next() < 0.4) {
            lines.push(`${dashPad}- ${key()}: ${pick(SCALARS)}`);
            lines.push(`${dashPad}  ${key()}: ${pick(SCALARS)}`);
          } else {
            lines.push(`${dashPad}- ${pick(SCALARS)}`);
          }
        }
      } else if (kind === 4) {
        const header = pick(["|", "|-", ">", ">-"]);
        lines.push(`${pad}${k}: ${header}`);
        const inner = `${pad}  `;
        const body = 1 + Math.floor(next() * 4);
        for (let j = 0; j < body; j++) {
          if (j > 0 && next() < 0.25) lines.push("");
          lines.push(
            `${inner}${pick(["Line of text", "# not a comment here", "key: value", "x"])} ${j}`,
          );
        }
        if (next() < 0.3) lines.push("");
      } else {
        lines.push(
          `${pad}${k}: ${pick(SCALARS.filter((s) => s.startsWith("{") || s.startsWith("[")))}`,
        );
      }
    }
  };
  block(0, 0);
  return `${lines.join("\n")}${next() < 0.8 ? "\n" : ""}`;
}

/** Every runbook YAML file of the project: the example and the test fixtures. */
function projectRunbooks(): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (/\.ya?ml$/.test(name)) found.push(full);
    }
  };
  walk(packageFile("examples"));
  walk(packageFile("test", "fixtures", "runbooks"));
  return found;
}

describe("parseSimpleYaml", () => {
  it("builds the library's nodes for every scalar form it reads, in blocks and flows", () => {
    let flows = 0;
    for (const scalar of SCALARS) {
      expectSame(`key: ${scalar}\n`);
      expectSame(`list:\n  - ${scalar}\n`);
      if (sameIfAccepted(`flow: [${scalar}]\n`)) flows++;
      if (sameIfAccepted(`flow: {k: ${scalar}, "q": 1}\n`)) flows++;
    }
    expect(flows).toBeGreaterThan(SCALARS.length);
  });

  it("builds the library's nodes for block structure, empty values, comments and block scalars", () => {
    expectSame(
      [
        "# header comment",
        "name: Example",
        "description: >-",
        "  Finds personal data in a folder of mixed files,",
        "  then classifies each finding.",
        "",
        "  Second paragraph.",
        "empty:",
        "config:",
        "    timeout: 30   # seconds",
        "    template_paths:",
        "    - templates",
        "    - 'other dir'",
        "artifacts:",
        "  files:",
        "    source: {type: filesystem, properties: {path: data/files}}",
        "    notes: |",
        "      line one",
        "        indented two",
        "      # kept as text",
        "",
        "  scan:",
        "    inputs: [files]",
        "    items:",
        "      - id: 1",
        "        name: first",
        "      - plain item",
        "last:",
      ].join("\n"),
    );
  });

  it("agrees with the library on generated runbook-like documents", () => {
    const next = random(20261203);
    let accepted = 0;
    for (let i = 0; i < 400; i++) if (sameIfAccepted(generate(next))) accepted++;
    // The generator writes only what the reader supports: it must accept nearly all of them.
    expect(accepted).toBeGreaterThan(380);
  });

  it("either refuses or agrees with the library on tricky inputs", () => {
    const tricky = [
      "a: b # c: d\n",
      "a: 'x' # c\n",
      'a: "x"y\n',
      "a:   \nb: 1\n",
      "a: b   \n",
      "a:b\n",
      "a : b\n",
      "- a\n- b\n",
      "a:\n- b\n- c\nd: 1\n",
      "a:\n  - b\n  c: 1\n",
      "a: {b: c} d\n",
      "key with spaces: v\n",
      "a: b\n  # indented comment\nc: d\n",
      "a:\n  b: 1\n # less indented comment\n  c: 2\n",
      "a: 1\n\n\n",
      "a: -0\n",
      "a: 9007199254740993\n",
      "a: 1e400\n",
      "a: 1.0.0\n",
      "a: 0b101\n",
      "a: +.inf\n",
      "a: [a#b, ' # ']\n",
      "a: [ ]\nb: {  }\n",
      'a: ["x": y]\n',
      "a: {x: y, x: z}\nb: 1\nb: 2\n",
      "a:\n  k: 1\n  k: 2\n  '1': 3\n  1: 4\n  01: 5\nb: [{x: 1, x: 2}]\n",
      "- a: 1\n  a: 2\n- a: 3\n",
      "{a: 1}\n",
      "null: a\n1: b\ntrue: c\n",
      "a:\n  -   b\n  -  c: 1\n     d: 2\n",
      "a:\n  - b: 1\n   c: 2\n",
      "a: |\n  x\n  y\n b: 1\n",
      "a: |\n  x\n   \n  y\n",
      "a: |\n  x  \n  y\n",
      "a: >\n  x\n  # y\n",
      "a: |\n  x",
      "a: >-\n  x\n\n",
      "a: |\n  x\n\n\nb: 1\n",
      "a: >\n  x\n\n\n  y\n",
      "a: |\n x\n",
      "a: b\nc: |\n  last",
      "a: 'x'",
      "a: [1, 2]",
      "k: 1\u00a0\n",
      "a: true\u3000 # c\n",
      "a: null\u2000",
      "a: b\u2028\n",
      "list:\n  - x\u202f\n",
      "a: [x\u00a0, y]\n",
      `${"k".repeat(1024)}: v\n`,
      "a:",
      "a:\n",
      "a: x:y\n",
      "a: -\n",
      "a: -- x\n",
      "a: '' # e\n",
      'a: "\\""\n',
      "url: http://x:80/p#frag\n",
      "a: [http://x:80/p]\n",
      "a: {u: http://x}\n",
      "a: [-1, -x, - y]\n",
      "a: ~x\n",
      "a: x ~\n",
      "a:\n  {b: 1}\n  c: 2\n",
      "a:\n  [1, 2]\nb:\n  - [3]\n",
      "[1, 2]\n",
      "{a: 1}\nb: 2\n",
    ];
    let accepted = 0;
    for (const text of tricky) if (sameIfAccepted(text)) accepted++;
    expect(accepted).toBeGreaterThan(tricky.length / 2);
  });

  it("reads the README's runbook as the library does", () => {
    const readme = readFileSync(packageFile("README.md"), "utf8");
    const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThan(0);
    for (const text of blocks) expectSame(text);
  });

  it("reads the project's runbooks as the library does", () => {
    const files = projectRunbooks();
    expect(files.length).toBeGreaterThan(3);
    let accepted = 0;
    for (const file of files) {
      const text = readFileSync(file, "utf8");
      if (sameIfAccepted(text)) accepted++;
    }
    expect(accepted).toBeGreaterThan(files.length / 2);
  });

  it("records line starts so that offsets map to the library's line and column", () => {
    const text = "a: 1\n\n# c\nb:\n  c: 'x'\nd: [1, 2]";
    const counter = new LineCounter();
    parseDocument(text, { lineCounter: counter });
    const simple = parseSimpleYaml(text)!;
    for (let offset = 0; offset < text.length; offset++) {
      expect(simple.lineCounter.linePos(offset)).toEqual(counter.linePos(offset));
    }
  });

  it("reads a document of comments only as empty", () => {
    expect(parseSimpleYaml("# nothing\n\n")?.contents).toBeNull();
    expect(parseDocument("# nothing\n\n").contents).toBeNull();
  });

  it.each([
    ["an anchor and an alias", "a: &x 1\nb: *x\n"],
    ["a merge key", "base: {a: 1}\nc:\n  <<: {a: 2}\n"],
    ["a merge key in a flow", "c: {<<: {a: 2}}\n"],
    ["a tag", "a: !!str 1\n"],
    ["a multi-line plain scalar", "a: first\n  second\n"],
    ["a quoted scalar over two lines", 'a: "first\n  second"\n'],
    ["a flow collection over two lines", "a: [1,\n  2]\n"],
    ["a complex key", "? a\n: b\n"],
    ["a quoted key", '"a b": 1\n'],
    ["several documents", "a: 1\n---\nb: 2\n"],
    ["a directive", "%YAML 1.2\n---\na: 1\n"],
    ["tabs", "a:\n\tb: 1\n"],
    ["CRLF line ends", "a: 1\r\nb: 2\r\n"],
    ["a byte order mark", "\uFEFFa: 1\n"],
    ["a next-line character", "a: b\u0085c\n"],
    ["a key longer than the library allows", `${"k".repeat(1025)}: v\n`],
    ["a flow key longer than the library allows", `a: {${"k".repeat(1025)}: v}\n`],
    ["deeply nested flows", `a: ${"[".repeat(2000)}${"]".repeat(2000)}\n`],
    [
      "deeply nested mappings",
      Array.from({ length: 150 }, (_, i) => `${" ".repeat(i * 2)}k${i}:`).join("\n"),
    ],
    ["a keep chomping indicator", "a: |+\n  text\n\n"],
    ["an indentation indicator", "a: |2\n  text\n"],
    ["a folded scalar with a more indented line", "a: >\n  one\n    two\n"],
    ["a comment after an empty value", "a: # nothing\nb: 1\n"],
    ["an indented root", "  a: 1\n"],
    ["a scalar root", "just text\n"],
    ["an unusual escape", 'a: "\\x41"\n'],
    ["a trailing comma in a flow", "a: [1, 2, ]\n"],
    ["a mapping in a compact value", "a: b: c\n"],
    ["bad indentation", "a:\n    b: 1\n  c: 2\n"],
    ["a sequence after a value", "a: 1\n- b\n"],
    ["an empty list item", "a:\n  -\n  - b\n"],
  ])("leaves %s to the library", (_what, text) => {
    expect(parseSimpleYaml(text)).toBeUndefined();
  });
});
