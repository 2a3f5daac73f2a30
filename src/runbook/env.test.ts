// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these tests are about ${VAR} placeholders
import { describe, expect, it } from "vitest";
import { hasPlaceholder, redactSubstitutions, substituteString } from "./env.js";

describe("substituteString", () => {
  const env = { HOST: "db.internal", PORT: "5432", EMPTY: "" };

  it("substitutes several partial placeholders in one string", () => {
    const result = substituteString("postgres://${HOST}:${PORT}/app", env);
    expect(result.value).toBe("postgres://db.internal:5432/app");
    expect(result.substitutions).toEqual([
      { name: "HOST", value: "db.internal" },
      { name: "PORT", value: "5432" },
    ]);
    expect(result.missing).toEqual([]);
  });

  it("uses the default only when the variable is unset, and does not record it", () => {
    expect(substituteString("${MISSING:-3306}", env)).toEqual({
      value: "3306",
      substitutions: [],
      missing: [],
    });
    expect(substituteString("${PORT:-3306}", env).value).toBe("5432");
    expect(substituteString("[${MISSING:-}]", env).value).toBe("[]");
  });

  it("substitutes placeholders inside a default when the default is used", () => {
    expect(substituteString("${MISSING:-${HOST}}", env)).toEqual({
      value: "db.internal",
      substitutions: [{ name: "HOST", value: "db.internal" }],
      missing: [],
    });
    expect(substituteString("${MISSING:-${ALSO_MISSING:-x}}/${PORT}", env).value).toBe("x/5432");
    expect(substituteString("${MISSING:-${HOST}:${PORT}}", env).value).toBe("db.internal:5432");
    // A default not used is not looked into.
    expect(substituteString("${PORT:-${ALSO_MISSING}}", env)).toEqual({
      value: "5432",
      substitutions: [{ name: "PORT", value: "5432" }],
      missing: [],
    });
    const unset = substituteString("${MISSING:-${ALSO_MISSING}}", env);
    expect(unset.missing).toEqual(["ALSO_MISSING"]);
  });

  it("keeps '${}' as text", () => {
    expect(substituteString("${}${HOST}", env).value).toBe("${}db.internal");
    expect(substituteString("${MISSING:-{x}}", env).value).toBe("{x}");
  });

  it("accepts an empty variable as set", () => {
    expect(substituteString("a${EMPTY}b", env)).toEqual({
      value: "ab",
      substitutions: [{ name: "EMPTY", value: "" }],
      missing: [],
    });
  });

  it("reports unset variables without a default and keeps their placeholder", () => {
    const result = substituteString("${A}-${HOST}-${B}", env);
    expect(result.missing).toEqual(["A", "B"]);
    expect(result.value).toBe("${A}-db.internal-${B}");
  });

  it("leaves text without placeholders alone", () => {
    expect(substituteString("$HOST and {PORT}", env).value).toBe("$HOST and {PORT}");
    expect(hasPlaceholder("$HOST")).toBe(false);
    expect(hasPlaceholder("x${HOST}")).toBe(true);
  });
});

describe("redactSubstitutions", () => {
  it("puts placeholders back in every string of a deep copy, keys included", () => {
    const value = {
      url: "mysql://admin:s3cret@db:3306/x",
      nested: [{ note: "password is s3cret" }, 42, true, null],
      "s3cret-key": "plain",
    };
    const redacted = redactSubstitutions(value, [
      { name: "PASSWORD", value: "s3cret" },
      { name: "USER", value: "admin" },
    ]);
    expect(redacted).toEqual({
      url: "mysql://${USER}:${PASSWORD}@db:3306/x",
      nested: [{ note: "password is ${PASSWORD}" }, 42, true, null],
      "${PASSWORD}-key": "plain",
    });
    expect(value.url).toBe("mysql://admin:s3cret@db:3306/x");
    expect((redacted as { nested: unknown[] }).nested).not.toBe(value.nested);
  });

  it("replaces the longest value first so that overlapping secrets are put back whole", () => {
    const subs = [
      { name: "SHORT", value: "abcd" },
      { name: "LONG", value: "abcdefgh" },
    ];
    expect(redactSubstitutions("x abcdefgh y abcd", subs)).toBe("x ${LONG} y ${SHORT}");
  });

  it("redacts even short values: nothing tells a secret from a setting", () => {
    const subs = [
      { name: "DIR", value: "xq7" },
      { name: "HOST", value: "db01" },
    ];
    expect(redactSubstitutions("path 'data/xq7' on db01", subs)).toBe(
      "path 'data/${DIR}' on ${HOST}",
    );
  });

  it("redacts a path value's normalised form too, only where it stands as a word", () => {
    const subs = [{ name: "DATA", value: "./data/" }];
    expect(
      redactSubstitutions(
        "path './data/' does not exist (looked for /base/data); personal_data in the database",
        subs,
      ),
    ).toBe(
      "path '${DATA}' does not exist (looked for /base/${DATA}); personal_data in the database",
    );
  });

  it("redacts values under 4 characters only as whole words, so messages stay readable", () => {
    const subs = [
      { name: "ID", value: "a" },
      { name: "CONC", value: "x" },
      { name: "EXT", value: "zq" },
    ];
    expect(
      redactSubstitutions("expected a positive integer, got a string ('x'); *.zq; zqa", subs),
    ).toBe("expected ${ID} positive integer, got ${ID} string ('${CONC}'); *.${EXT}; zqa");
    expect(redactSubstitutions("environment variable 'X' is not set", subs)).toBe(
      "environment variable 'X' is not set",
    );
  });

  it("keeps placeholders already in the text, so redacting twice changes nothing", () => {
    const subs = [{ name: "TOKEN", value: "{TOKEN}" }];
    expect(redactSubstitutions("a ${TOKEN} b {TOKEN}", subs)).toBe("a ${TOKEN} b ${TOKEN}");
  });

  it("does not replace inside a placeholder it has just inserted", () => {
    const subs = [
      { name: "A", value: "secret" },
      { name: "B", value: "A" },
    ];
    expect(redactSubstitutions("secret", subs)).toBe("${A}");
  });

  it("ignores empty values and escapes regular-expression characters", () => {
    const subs = [
      { name: "EMPTY", value: "" },
      { name: "PATTERN", value: "a.b*" },
    ];
    expect(redactSubstitutions("a.b* axbb", subs)).toBe("${PATTERN} axbb");
    expect(redactSubstitutions({ n: 1 }, [])).toEqual({ n: 1 });
  });
});
