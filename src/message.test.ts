import { describe, expect, it } from "vitest";
import { ComponentError } from "./errors.js";
import { type Message, serializeMessage } from "./message.js";

const message = (content: Record<string, unknown>): Message => ({
  id: "m",
  content,
  schema: { name: "standard_input", version: "1.0.0" },
  context: null,
  run_id: "r",
  source: "connector:filesystem",
  timestamp: "2026-12-04T00:00:00.000Z",
  extensions: null,
});

describe("serializeMessage", () => {
  it("writes the Message as compact UTF-8 JSON", () => {
    const bytes = serializeMessage(message({ text: "café" }));
    expect(JSON.parse(bytes.toString("utf8")).content).toEqual({ text: "café" });
    expect(bytes.length).toBe(Buffer.byteLength(JSON.stringify(message({ text: "café" }))));
  });

  it("says an output is too large to store where V8 cannot make its JSON", () => {
    // What JSON.stringify throws past V8's longest string, without making 1 GB of text.
    const tooLong = {
      toJSON() {
        throw new RangeError("Invalid string length");
      },
    };
    expect(() => serializeMessage(message({ data: tooLong }))).toThrow(ComponentError);
    expect(() => serializeMessage(message({ data: tooLong }))).toThrow(/too large to store/);
    // Other errors are not taken for that.
    const broken = {
      toJSON() {
        throw new TypeError("boom");
      },
    };
    expect(() => serializeMessage(message({ data: broken }))).toThrow(TypeError);
    // Nor is a stack overflow, which is a RangeError too.
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 100_000; i++) deep = { d: deep };
    expect(() => serializeMessage(message(deep))).toThrow(/Maximum call stack size exceeded/);
  });
});
