import { describe, expect, it } from "vitest";
import { loadDetectionRuleset } from "../rulesets/loader.js";
import type { DetectionRule, DetectionRuleset } from "../rulesets/model.js";
import { type EvidenceOptions, PatternMatcher } from "./matching.js";

const options: EvidenceOptions = {
  contextSize: "small",
  maximumEvidenceCount: 3,
  proximityThreshold: 200,
};

function ruleset(rules: Partial<DetectionRule>[]): DetectionRuleset {
  return {
    kind: "detection",
    name: "test",
    version: "1.0.0",
    description: "test",
    categories: ["email", "name", "phone"],
    rules: rules.map((r, i) => ({
      name: `rule ${i}`,
      description: "d",
      category: "email",
      patterns: [],
      value_patterns: [],
      ...r,
    })),
  };
}

function counts(matcher: PatternMatcher, text: string): Record<string, number> {
  const result: Record<string, number> = {};
  for (const match of matcher.scan(text, options)) {
    for (const p of match.matchedPatterns)
      result[p.pattern] = (result[p.pattern] ?? 0) + p.match_count;
  }
  return result;
}

describe("keywords", () => {
  it("match case-insensitively on word boundaries, with _ and punctuation as separators", () => {
    const matcher = new PatternMatcher(ruleset([{ patterns: ["email"] }]));
    expect(counts(matcher, "user_email; EMAIL: Email-Address")).toEqual({ email: 3 });
    expect(counts(matcher, "emails sendEmail email2 e-mail")).toEqual({});
  });

  it("count every keyword on its own, including nested ones", () => {
    const matcher = new PatternMatcher(
      ruleset([
        { patterns: ["email", "email_address", "address"] },
        { category: "name", patterns: ["first name", "name"] },
      ]),
    );
    expect(counts(matcher, "email_address, first name, name")).toEqual({
      email: 1,
      email_address: 1,
      address: 1,
      "first name": 1,
      name: 2,
    });
  });

  it("report a keyword shared by two rules in both", () => {
    const matcher = new PatternMatcher(
      ruleset([{ patterns: ["contact"] }, { category: "phone", patterns: ["contact", "phone"] }]),
    );
    const matches = matcher.scan("contact phone", options);
    expect(matches.map((m) => [m.rule, m.matchedPatterns])).toEqual([
      [0, [{ pattern: "contact", match_count: 1 }]],
      [
        1,
        [
          { pattern: "contact", match_count: 1 },
          { pattern: "phone", match_count: 1 },
        ],
      ],
    ]);
  });

  it("find a keyword at the text's start and keywords that share one separator", () => {
    const matcher = new PatternMatcher(ruleset([{ patterns: ["email", "phone", "no.", "-id"] }]));
    expect(counts(matcher, "email")).toEqual({ email: 1 });
    expect(counts(matcher, "Email,phone email phone-email")).toEqual({ email: 3, phone: 2 });
    // A keyword's last character may be the boundary before the next one.
    expect(counts(matcher, "no.-id, no.no.")).toEqual({ "no.": 2, "-id": 1 });
  });

  it("find keywords across the internal lowercasing windows of a long text", () => {
    const matcher = new PatternMatcher(ruleset([{ patterns: ["email_address", "address"] }]));
    for (const offset of [32 * 1024 - 20, 32 * 1024 - 6, 32 * 1024 - 1, 32 * 1024, 64 * 1024 - 3]) {
      const text = `${"x ".repeat(Math.floor(offset / 2))}${offset % 2 ? " " : ""}EMAIL_ADDRESS ${"y".repeat(70_000)}`;
      expect(text.indexOf("EMAIL_ADDRESS")).toBe(offset);
      expect(counts(matcher, text)).toEqual({ email_address: 1, address: 1 });
    }
  });

  it("keep positions right in text whose lowercase form has another length", () => {
    const matcher = new PatternMatcher(ruleset([{ patterns: ["email"] }]));
    const [match] = matcher.scan("İİİ email x", { ...options, contextSize: "small" });
    expect(match?.matchedPatterns).toEqual([{ pattern: "email", match_count: 1 }]);
    expect(match?.evidence).toEqual(["İİİ email x"]);
  });
});

describe("value patterns", () => {
  it("run detectors and upstream-style regular expressions", () => {
    const matcher = new PatternMatcher(
      ruleset([{ value_patterns: [{ detector: "email" }, { regex: "\\bcust-\\d{4}\\b" }] }]),
    );
    expect(counts(matcher, "a@example.com, CUST-1234, cust-99")).toEqual({
      "detector:email": 1,
      "\\bcust-\\d{4}\\b": 1,
    });
  });
});

describe("evidence", () => {
  const matcher = new PatternMatcher(ruleset([{ patterns: ["email", "phone"] }]));
  const filler = (n: number) => "lorem ipsum dolor sit amet ".repeat(n);

  it("shows ±N characters with ... where the text goes on", () => {
    const text = `${filler(10)}email ${filler(10)}`;
    const [small] = matcher.scan(text, { ...options, contextSize: "small" });
    const start = text.indexOf("email");
    expect(small?.evidence).toEqual([`...${text.slice(start - 50, start + 5 + 50)}...`]);
    const short = `${filler(5)}email ${filler(5)}`;
    const [large] = matcher.scan(short, { ...options, contextSize: "large" });
    expect(large?.evidence).toEqual([short]);
    const [medium] = matcher.scan(short, { ...options, contextSize: "medium" });
    expect(medium?.evidence[0]).toMatch(/^\.\.\..{205}\.\.\.$/);
    const [full] = matcher.scan(text, { ...options, contextSize: "full" });
    expect(full?.evidence).toEqual([text]);
  });

  it("never cuts an emoji in half at a snippet's edges", () => {
    // 😀 is two UTF-16 units: "email" at 63 puts both edges, 50 units away, in mid-pair.
    const text = `${"😀".repeat(30)}xy email ${"😀".repeat(30)}`;
    const [small] = matcher.scan(text, { ...options, contextSize: "small" });
    const snippet = small!.evidence[0]!;
    // A lone surrogate does not survive UTF-8 (it becomes U+FFFD).
    expect(Buffer.from(snippet).toString()).toBe(snippet);
    expect(snippet).toBe(`...${text.slice(12, 119)}...`);
  });

  it("gives nearby matches one snippet and caps the snippets", () => {
    const close = `email ${filler(1)} email`;
    expect(matcher.scan(close, options)[0]?.evidence).toHaveLength(1);
    const far = Array.from({ length: 8 }, (_, i) => `email ${i} ${filler(12)}`).join("");
    const [match] = matcher.scan(far, { ...options, maximumEvidenceCount: 5 });
    expect(match?.evidence).toHaveLength(5);
    expect(match?.matchedPatterns).toEqual([{ pattern: "email", match_count: 8 }]);
    expect(matcher.scan(far, { ...options, proximityThreshold: 1000 })[0]?.evidence).toHaveLength(
      1,
    );
  });

  it("never shows a credential found beside the match", () => {
    const text =
      'DATABASE_URL=postgres://admin:hunter2@db.internal/app email ops@example.com password=hunter2 {"api_key": "sk-live-42"} Pwd=s3;';
    for (const contextSize of ["large", "full"] as const) {
      const [match] = matcher.scan(text, { ...options, contextSize });
      const evidence = match!.evidence.join(" ");
      expect(evidence).toContain("email ops@example.com");
      expect(evidence).toContain("postgres://admin:***@db.internal");
      expect(evidence).toContain('password=*** {"api_key": "***"} Pwd=***;');
      expect(evidence).not.toMatch(/hunter2|sk-live|s3;/);
    }
    const named =
      'DB_PASSWORD=hunter2 dbPassword: "correct horse" GITHUB_TOKEN=ghp_x1 AWS_SECRET_ACCESS_KEY=wJalr postgres://u:p@ss@host email';
    const [match] = matcher.scan(named, { ...options, contextSize: "full" });
    expect(match!.evidence[0]).toBe(
      'DB_PASSWORD=*** dbPassword: "***" GITHUB_TOKEN=*** AWS_SECRET_ACCESS_KEY=*** postgres://u:***@host email',
    );
    const more = [
      "SECRET_KEY=abc123",
      "password: correct horse battery staple, user: bob",
      '{"password": "ab\\"cd efg", "id": 1}',
      "https://shop.example.com:8443?to=alice@example.org",
    ].join("\n");
    const [other] = matcher.scan(`${more}\nemail`, { ...options, contextSize: "full" });
    expect(other!.evidence[0]).toBe(
      [
        "SECRET_KEY=***",
        "password: ***, user: bob",
        '{"password": "***", "id": 1}',
        // A port and a query are no password: the address stays evidence.
        "https://shop.example.com:8443?to=alice@example.org",
        "email",
      ].join("\n"),
    );
    // A run of name characters is tried once, not from each of its characters (was quadratic).
    const run = `${"_".repeat(300_000)} email`;
    expect(matcher.scan(run, { ...options, contextSize: "full" })[0]!.evidence[0]).toBe(run);
    // A quoted value whose closing quote lies beyond the reach is hidden up to it.
    const long = `email password: "${"x".repeat(400)}"`;
    const [cut2] = matcher.scan(long, { ...options, contextSize: "small" });
    expect(cut2!.evidence[0]).toBe('email password: "***...');
    // A snippet whose edge cuts the field's name still hides its value.
    const cut = `${"x".repeat(10)}password=hunter2${" ".repeat(40)}email`;
    const [small] = matcher.scan(cut, { ...options, contextSize: "small" });
    expect(small!.evidence[0]).toBe(`...rd=***${" ".repeat(40)}email`);
  });

  it("never shows a bearer token, an XML element's password or a --password argument", () => {
    const text = [
      "GET /api/me Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig email",
      'curl -H "Authorization: Basic YWRhOmh1bnRlcjI=" -H "X-Trace: 1"',
      '{"headers": {"authorization": "bearer abc.def.ghi"}} token sent as bearer ghp_0123456789abcdef',
      "<server><username>ada</username><password>hunter2</password></server>",
      '<db:password encrypted="false">s3cr3t</db:password>',
      "mysqldump --user ada --password hunter2 --host db",
      "passphrase: correct horse battery, next",
      "MYSQL_PASS=mysqlpass1 SMTP_PASS='smtpSecret99' db.pass = dotpassval credentials: ada:credpw",
      "mysql -u ada -pmysqlcli123 app; sshpass -p sshpassval ssh ada@db; curl -s -u admin:curlpw1 https://x",
      "proxy=alice:S3cretPw@proxy.example.com:3128 url=jdbc:oracle:thin:scott/tiger@db01.example.com:1521/ORCL",
      // Not credentials: prose, and a tag or flag that only names passwords.
      "the bearer of this card; <passwordPolicy>strict</passwordPolicy> --password-file /etc/pw",
      "bypass=true compass: north; mysql -p; curl -u admin https://x",
    ].join("\n");
    const [match] = matcher.scan(text, { ...options, contextSize: "full" });
    expect(match!.evidence[0]).toBe(
      [
        "GET /api/me Authorization: Bearer *** email",
        'curl -H "Authorization: Basic ***" -H "X-Trace: 1"',
        '{"headers": {"authorization": "bearer ***"}} token sent as bearer ***',
        "<server><username>ada</username><password>***</password></server>",
        '<db:password encrypted="false">***</db:password>',
        "mysqldump --user ada --password *** --host db",
        "passphrase: ***, next",
        "MYSQL_PASS=*** SMTP_PASS='***' db.pass = *** credentials: ***",
        "mysql -u ada -p*** app; sshpass -p *** ssh ada@db; curl -s -u admin:*** https://x",
        "proxy=alice:***@proxy.example.com:3128 url=jdbc:oracle:thin:scott/***@db01.example.com:1521/ORCL",
        "the bearer of this card; <passwordPolicy>strict</passwordPolicy> --password-file /etc/pw",
        "bypass=true compass: north; mysql -p; curl -u admin https://x",
      ].join("\n"),
    );
  });

  it("picks snippets round-robin across patterns", () => {
    const text = `${Array.from({ length: 5 }, (_, i) => `email ${i} ${filler(12)}`).join("")}phone`;
    const [match] = matcher.scan(text, { ...options, maximumEvidenceCount: 2 });
    expect(match?.evidence).toHaveLength(2);
    expect(match?.evidence[1]).toContain("phone");
  });
});

describe("the shipped ruleset on text without personal data", () => {
  const matcher = new PatternMatcher(loadDetectionRuleset("local/personal_data_indicator/1.0.0"));
  const scan = (text: string) => matcher.scan(text, options).map((m) => m.matchedPatterns);

  it("finds nothing in ordinary source code", () => {
    const code = `import { readFile } from "node:fs/promises";
import type { Config } from "./config.js";

/** Loads the configuration and merges defaults (see docs/config.md, v2.3.1). */
export async function loadConfig(path: string, name = "default"): Promise<Config> {
  const text = await readFile(path, "utf8");
  const parsed = JSON.parse(text) as Partial<Config>;
  const title = parsed.title ?? name;
  const retries = Math.min(parsed.retries ?? 3, 10);
  for (let i = 0; i < retries; i++) {
    if (parsed.timeoutMs && parsed.timeoutMs > 30_000) throw new RangeError(\`timeout \${i}\`);
  }
  return { ...parsed, title, retries, id: "9f86d081884c7d659a2feaa0c55ad015", version: "1.2.3.4" } as Config;
}
`;
    expect(scan(code)).toEqual([]);
  });

  it("finds nothing in words that only look like special-category or identity data", () => {
    const text = [
      "const passport = require('passport'); app.use(passport.initialize());",
      "// a genetic algorithm breeds the schedule; the team's DNA is shipping",
      "coin_denomination = 50  # the denomination of the banknote, accepted in good faith",
      "MEDICAL_DEVICE_CLASS = 'IIa'",
      "import gpsd  # the gps daemon",
      "__version__ = '4.0.2.1'; listen 127.0.0.1 and 0.0.0.0, netmask 255.255.255.0",
      "Retro: we took on technical debt; in the interests of the team, the symptoms were p99 spikes.",
      'import { Subscriber } from "rxjs"; const subscribers = new Set<Subscriber<Event>>(); drawHeatmap();',
    ].join("\n");
    expect(scan(text)).toEqual([]);
  });

  it("finds nothing in an application log with versions, UUIDs and timestamps", () => {
    const lines: string[] = [];
    for (let i = 0; i < 200; i++) {
      const uuid = `${(0x10000000 + i * 7919).toString(16)}-${(0x1000 + i).toString(16)}-4a5b-9c8d-${(0x100000000000 + i * 104729).toString(16)}`;
      lines.push(
        `2024-03-${String(1 + (i % 28)).padStart(2, "0")}T10:${String(i % 60).padStart(2, "0")}:00.${String(i).padStart(3, "0")}Z INFO [worker-${i % 4}] request ${uuid} GET /api/v1/items?page=${i} 200 ${120 + i}ms bytes=${4096 + i * 13} build 1.4.${i} node v20.20.2 pid=${31337 + i} ts=${1700000000 + i * 61}`,
      );
    }
    expect(scan(lines.join("\n"))).toEqual([]);
  });

  it("finds nothing in technical documentation", () => {
    const markdown = `# Release notes

## 2.4.0 (2024-05-02)

- The scheduler now retries failed jobs up to 3 times with exponential back-off.
- \`--max-workers\` defaults to the number of CPU cores; see [configuration](docs/configuration.md).
- Fixed a race in the cache that could return stale entries after 10:30:00 UTC rollover.

| Option | Default | Description |
|--------|---------|-------------|
| timeout | 30s | How long a job may run |
| retries | 3 | Attempts before a job fails |

Install with \`npm install scheduler@2.4.0\` and run \`scheduler start --port 8080\`.
`;
    expect(scan(markdown)).toEqual([]);
  });

  it("finds the common compound field names written in camelCase", () => {
    const dto = `export interface CustomerDto {
  givenName: string;
  familyName: string;
  contactEmail: string;
  mobileNumber: string;
  homePhone?: string;
  streetAddress: string;
  billingAddress: Address;
  shippingAddress: Address;
  postalCode: string;
  nationalInsuranceNumber?: string;
  socialSecurityNumber?: string;
  passportNumber?: string;
  nhsNumber?: string;
  customerName: string;
  faxNumber?: string;
  mailingAddress?: Address;
  bankAccount?: string;
  macAddress?: string;
  clientIp?: string;
}`;
    const found = new Set(
      matcher.scan(dto, options).map((m) => matcher.ruleset.rules[m.rule]!.category),
    );
    expect(found).toEqual(
      new Set([
        "name",
        "email",
        "phone",
        "address",
        "government_id",
        "financial",
        "device",
        "network",
      ]),
    );
    const patterns = matcher.scan(dto, options).flatMap((m) => m.matchedPatterns);
    expect(patterns.map((p) => p.pattern)).toEqual(
      expect.arrayContaining([
        "givenname",
        "familyname",
        "contactemail",
        "mobilenumber",
        "homephone",
        "streetaddress",
        "billingaddress",
        "shippingaddress",
        "postalcode",
        "nationalinsurancenumber",
        "socialsecuritynumber",
        "passportnumber",
        "nhsnumber",
        "bankaccount",
        "macaddress",
        "clientip",
        "customername",
        "faxnumber",
        "mailingaddress",
      ]),
    );
  });

  it("finds the special categories' field names in camelCase and in prose", () => {
    const dto = `class PatientRecord {
  bloodType; medicalHistory; healthCondition; mentalHealth; sickLeave;
  politicalParty; tradeUnion; ethnicOrigin; religiousBelief; dnaSample;
  fingerprintTemplate; facialRecognition; sexualOrientation; genderIdentity;
  medicalConditions; healthStatus; politicalViews; ethnicBackground; religiousAffiliation;
  dnaResults; faceEmbedding; political_views; religious_beliefs;
}
Notes: medical history of asthma, sick leave since May.`;
    const found = new Set(
      matcher.scan(dto, options).map((m) => matcher.ruleset.rules[m.rule]!.category),
    );
    expect(found).toEqual(
      new Set([
        "health",
        "political",
        "racial_ethnic",
        "religious",
        "genetic",
        "biometric",
        "sexual_orientation",
      ]),
    );
    const patterns = matcher.scan(dto, options).flatMap((m) => m.matchedPatterns);
    expect(patterns.map((p) => p.pattern)).toEqual(
      expect.arrayContaining([
        "bloodtype",
        "sickleave",
        "medical history",
        "sick leave",
        "politicalviews",
        "political_views",
        "religious_beliefs",
        "faceembedding",
      ]),
    );
  });

  it("finds demographic fields apart from the special categories", () => {
    const records = `row,gender,nationality,marital_status,country_of_birth
1042,F,Irish,married,IE
class Citizen(Base):
    citizenship = Column(String(100))
    maritalStatus = Column(String(20))
Marital status: single. Nationality: Portuguese.`;
    const byCategory = new Map(
      matcher
        .scan(records, options)
        .map((m) => [matcher.ruleset.rules[m.rule]!.category, m.matchedPatterns] as const),
    );
    expect([...byCategory.keys()]).toEqual(["demographic"]);
    expect(byCategory.get("demographic")).toEqual([
      { pattern: "gender", match_count: 1 },
      { pattern: "nationality", match_count: 2 },
      { pattern: "citizenship", match_count: 1 },
      { pattern: "marital_status", match_count: 1 },
      { pattern: "marital status", match_count: 1 },
      { pattern: "maritalstatus", match_count: 1 },
      { pattern: "country_of_birth", match_count: 1 },
    ]);
    // Gender identity is a special category of its own, not a demographic field.
    const identity = matcher.scan("genderIdentity: string", options);
    expect(identity.map((m) => matcher.ruleset.rules[m.rule]!.category)).toEqual([
      "sexual_orientation",
    ]);
  });

  it("finds the personal data in a realistic customer record", () => {
    const record = `Customer: Jane Doe (first_name: Jane, last_name: Doe)
Email: jane.doe@example.com, phone +44 20 7946 0958
IBAN GB82 WEST 1234 5698 7654 32, card 4111 1111 1111 1111
Date of birth: 12/03/1985, NI number AB123456C, NHS number 943 476 5919
Diagnosis: asthma; religion: none declared. Last login from 203.0.113.42`;
    const categories = matcher
      .scan(record, options)
      .map((m) => matcher.ruleset.rules[m.rule]!.category);
    expect(new Set(categories)).toEqual(
      new Set([
        "name",
        "email",
        "phone",
        "financial",
        "payment",
        "date_of_birth",
        "government_id",
        "health",
        "religious",
        "network",
      ]),
    );
  });
});
