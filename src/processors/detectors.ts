/**
 * @module Value detectors: recognise personal data values (emails, phone numbers, IBANs, card
 * numbers, national identifiers, dates of birth, IP addresses) and validate them (checksums,
 * number plans, context) so that source code and logs yield few false positives. Each detector
 * is anchored on a cheap character test so a scan costs little where nothing matches.
 */
import type { DetectorName } from "../rulesets/model.js";

/** Reports one detected value as the half-open range `[start, end)` of the original text. */
export type Emit = (start: number, end: number) => void;

/** Scans `text` and emits every valid value. */
export type Detector = (text: string, emit: Emit) => void;

// Character codes as constants: the hot loops compare with numbers, not with the fields of an
// enum object (each such field read needs type feedback, lacking which V8 drops optimised code).
const CODE_SPACE = 32;
const CODE_PERCENT = 37;
const CODE_APOSTROPHE = 39;
const CODE_OPEN_PAREN = 40;
const CODE_CLOSE_PAREN = 41;
const CODE_PLUS = 43;
const CODE_MINUS = 45;
const CODE_DOT = 46;
const CODE_SLASH = 47;
const CODE_ZERO = 48;
const CODE_NINE = 57;
const CODE_COLON = 58;
const CODE_GREATER = 62;
const CODE_UPPER_A = 65;
const CODE_UPPER_Z = 90;
const CODE_UNDERSCORE = 95;
const CODE_LOWER_A = 97;
const CODE_LOWER_F = 102;
const CODE_LOWER_Z = 122;

function isDigit(c: number): boolean {
  return c >= CODE_ZERO && c <= CODE_NINE;
}

function isAlnum(c: number): boolean {
  return (
    (c >= CODE_ZERO && c <= CODE_NINE) ||
    (c >= CODE_UPPER_A && c <= CODE_UPPER_Z) ||
    (c >= CODE_LOWER_A && c <= CODE_LOWER_Z)
  );
}

/** Letters, digits and `_`: a value glued to one of these is part of a longer token. */
function isWordChar(c: number): boolean {
  return isAlnum(c) || c === CODE_UNDERSCORE;
}

function isHex(c: number): boolean {
  return (
    (c >= CODE_ZERO && c <= CODE_NINE) ||
    (c >= CODE_UPPER_A && c <= CODE_UPPER_A + 5) ||
    (c >= CODE_LOWER_A && c <= CODE_LOWER_F)
  );
}

/**
 * True when the value at `[start, end)` stands alone: no word char or numeric continuation around
 * it (`1.2.3.4.5`, `/orders/4111…`), though it may follow a label's colon (`card:4111…`).
 */
function standsAlone(text: string, start: number, end: number, joiners: string): boolean {
  if (start > 0) {
    const before = text.charCodeAt(start - 1);
    if (isWordChar(before)) return false;
    // `card:4111…`: a label. Any other joiner (`/orders/4111…`, `x-4111…`) keeps the value part
    // of something else, as does a `:` between digits (`12:4111…`).
    const joiner = text[start - 1]!;
    if (joiners.includes(joiner) && (joiner !== ":" || isDigit(text.charCodeAt(start - 2)))) {
      return false;
    }
  }
  const after = text.charCodeAt(end);
  if (end >= text.length) return true;
  if (isWordChar(after)) return false;
  // `1.2.3.4.5` or `123-45-6789-1`: the value continues with another number.
  return !(joiners.includes(text[end]!) && isDigit(text.charCodeAt(end + 1)));
}

// ---------------------------------------------------------------------------------------------
// Email: find '@' with indexOf (nearly free) and expand around it.

/**
 * Latin letters beyond ASCII (U+00C0 to U+024F but `×` and `÷`): `jürgen.müller@firma.de`,
 * `info@bücher.de`. Other scripts are left out: CJK text runs into an address without a space.
 */
function isLatinLetter(c: number): boolean {
  return c >= 0xc0 && c <= 0x24f && c !== 0xd7 && c !== 0xf7;
}

function isEmailLocalChar(c: number): boolean {
  return (
    isAlnum(c) ||
    isLatinLetter(c) ||
    c === CODE_DOT ||
    c === CODE_UNDERSCORE ||
    c === CODE_MINUS ||
    c === CODE_PLUS ||
    c === CODE_PERCENT
  );
}

function isDomainChar(c: number): boolean {
  return isAlnum(c) || isLatinLetter(c) || c === CODE_DOT || c === CODE_MINUS;
}

// Asset names such as `logo@2x.png`, `Inter@1.ttf` and systemd's instances (`getty@tty1.service`)
// look like addresses; these file extensions are no TLD, or one hardly any address uses (`.zip`,
// `.mov`).
const FILE_EXTENSIONS = new Set([
  "service",
  "socket",
  "timer",
  "mount",
  "log",
  "tar",
  "gz",
  "conf",
  "tmp",
  "bak",
  "png",
  "jpg",
  "jpeg",
  "gif",
  "svg",
  "webp",
  "ico",
  "bmp",
  "js",
  "mjs",
  "cjs",
  "ts",
  "tsx",
  "jsx",
  "css",
  "scss",
  "map",
  "json",
  "yaml",
  "yml",
  "md",
  "txt",
  "html",
  "xml",
  "lock",
  "tgz",
  "zip",
  "avif",
  "heic",
  "tif",
  "tiff",
  "pdf",
  "ttf",
  "otf",
  "woff",
  "woff2",
  "eot",
  "webm",
  "mp4",
  "mov",
  "mp3",
  "wav",
]);

const detectEmail: Detector = (text, emit) => {
  const length = text.length;
  let at = text.indexOf("@");
  while (at !== -1) {
    let start = at;
    while (start > 0 && at - start <= 64) {
      const c = text.charCodeAt(start - 1);
      // `j.o'neil@`: an apostrophe after a name's initial is the name's; after `=`, a quote, a
      // string literal's prefix (`N'`, `u'`) or an elided article (`l'adresse@`) it is not.
      const apostrophe =
        c === CODE_APOSTROPHE &&
        isAlnum(text.charCodeAt(start)) &&
        isAlnum(text.charCodeAt(start - 2)) &&
        text.charCodeAt(start - 3) === CODE_DOT;
      if (!isEmailLocalChar(c) && !apostrophe) break;
      start--;
    }
    while (start < at && text.charCodeAt(start) === CODE_DOT) start++;
    let end = at + 1;
    while (end < length && isDomainChar(text.charCodeAt(end))) end++;
    while (end > at + 1 && !isAlnum(text.charCodeAt(end - 1))) end--;
    if (
      start < at &&
      text.charCodeAt(at - 1) !== CODE_DOT &&
      isValidDomain(text, at + 1, end) &&
      !isUrlCredentials(text, start) &&
      !isGitRemote(text, start, at, end) &&
      !isMessageIdHeader(text, start) &&
      !isRemoteLogin(text, start)
    ) {
      emit(start, end);
      at = text.indexOf("@", end);
    } else {
      at = text.indexOf("@", at + 1);
    }
  }
};

/**
 * `postgres://app:s3cr3t@db`, `https://user@host`: the text before `@` is a URL's user and
 * password, not a mailbox (and a password must not become evidence). Found by the `://` right
 * before the characters a URL's user and password may hold.
 */
function isUrlCredentials(text: string, localStart: number): boolean {
  let i = localStart;
  while (i > 0 && localStart - i < 256 && isUserInfoChar(text.charCodeAt(i - 1))) i--;
  return i >= 3 && text.startsWith("://", i - 3);
}

/** `git@github.com:acme/app.git`: an SSH remote of git's (a path right after `:`), no mailbox. */
function isGitRemote(text: string, start: number, at: number, end: number): boolean {
  return (
    at - start === 3 &&
    text.startsWith("git", start) &&
    text.charCodeAt(end) === CODE_COLON &&
    /\S/.test(text[end + 1] ?? " ")
  );
}

/**
 * `ssh deploy@build01.example.com`, `rsync -az dist/ www-data@web01:/srv`: a login on a host,
 * named on the command line of a remote shell or copy (its options and other arguments may come
 * between), not a mailbox.
 */
const REMOTE_COMMANDS = "ssh|scp|sftp|rsync|mosh|ssh-copy-id";
/** The cheap test first: most text before an address names none of these commands. */
const REMOTE_COMMAND = new RegExp(REMOTE_COMMANDS);
const REMOTE_COMMAND_BEFORE = new RegExp(
  `(?:^|[\\s;&|(\`$])(?:${REMOTE_COMMANDS})(?:[ \\t]+[^\\s;&|]+)*?[ \\t]+$`,
);

function isRemoteLogin(text: string, start: number): boolean {
  const before = text.slice(Math.max(0, start - 120), start);
  return REMOTE_COMMAND.test(before) && REMOTE_COMMAND_BEFORE.test(before);
}

/**
 * `Message-ID: <20240115.1234@mx.example.com>`, and `In-Reply-To`, `References` (folded over
 * several lines): mail headers whose values are message identifiers in `<>`, shaped like
 * addresses. Most texts hold no such header: that is found out once per text.
 */
const MESSAGE_ID_HEADER =
  /^(?:message-id|in-reply-to|references|content-id|resent-message-id):[ \t]*(?:\r?\n[ \t]+)?</i;
const ANY_MESSAGE_ID_HEADER = new RegExp(MESSAGE_ID_HEADER.source, "im");
/** RFC 5322 caps a header line at 998 characters: no longer look-behind is needed. */
const HEADER_LINE_CHARS = 1000;
let lastHeaders: { text: string; present: boolean } | undefined;

function isMessageIdHeader(text: string, start: number): boolean {
  if (lastHeaders?.text !== text) lastHeaders = { text, present: ANY_MESSAGE_ID_HEADER.test(text) };
  if (!lastHeaders.present) return false;
  // The header's first line: a folded value goes on in lines that start with white space.
  const lineStart = (end: number) => {
    const from = Math.max(0, end - HEADER_LINE_CHARS);
    return text.slice(from, end).lastIndexOf("\n") + 1 + from;
  };
  let line = lineStart(start);
  for (let folds = 0; folds < 20 && line > 0 && /[ \t]/.test(text[line] ?? ""); folds++) {
    line = lineStart(line - 1);
  }
  return MESSAGE_ID_HEADER.test(text.slice(line, line + HEADER_LINE_CHARS));
}

/** RFC 3986 userinfo: unreserved, percent-encoded, sub-delims and `:`. */
function isUserInfoChar(c: number): boolean {
  return isAlnum(c) || "-._~%!$&'()*+,;=:".includes(String.fromCharCode(c));
}

function isValidDomain(text: string, start: number, end: number): boolean {
  if (end - start < 4 || end - start > 253) return false;
  const domain = text.slice(start, end);
  const labels = domain.split(".");
  if (labels.length < 2) return false;
  for (const label of labels) {
    if (label.length === 0 || label.length > 63 || label.startsWith("-")) return false;
  }
  const tld = labels[labels.length - 1]!.toLowerCase();
  return /^[a-z]{2,24}$/.test(tld) && !FILE_EXTENSIONS.has(tld);
}

// ---------------------------------------------------------------------------------------------
// Phone numbers: international (+CC ...) or national numbers written in a phone-like grouping.

const PHONE_CANDIDATE = /[+(]?\d[\d ().-]{5,22}\d/g;

const detectPhone: Detector = (text, emit) => {
  PHONE_CANDIDATE.lastIndex = 0;
  for (let m = PHONE_CANDIDATE.exec(text); m !== null; m = PHONE_CANDIDATE.exec(text)) {
    let start = m.index;
    const end = start + m[0].length;
    // An opening '(' without its ')' belongs to the surrounding prose, not the number.
    if (text.charCodeAt(start) === CODE_OPEN_PAREN && !m[0].includes(")")) start++;
    else start = areaCodeBefore(text, start, end);
    if (
      isPhoneNumber(text, start, end) &&
      standsAlone(text, start, end, ".-/:+") &&
      !isArithmeticPlus(text, start) &&
      !inSvgGeometry(text, start) &&
      // A value is one thing: a number an NHS label names is not also a phone number.
      !isLabelledNhs(text, start, end) &&
      !insideIban(text, start, end)
    ) {
      emit(start, end);
    }
  }
};

/**
 * `030/12345678`, `0171 / 123 4567`, `0470/12.34.56`: a German or Belgian number with its area
 * code (a trunk `0` and two to four digits) before a `/`. Where the candidate starts then, or
 * `start` when no such code is there; `isPhoneNumber` takes the one `/` as a separator. After a
 * bare slash the number is one run of digits or pairs with dots: `0815/2024-001` is an invoice's
 * number, `0800/1200 1330` a shift's hours.
 */
const AFTER_BARE_SLASH = /^(?:\d+|\d\d(?:\.\d\d)+)$/;

function areaCodeBefore(text: string, start: number, end: number): number {
  const spaced = text.charCodeAt(start - 1) === CODE_SPACE;
  let i = spaced ? start - 2 : start - 1;
  if (text.charCodeAt(i) !== CODE_SLASH) return start;
  i--;
  if (text.charCodeAt(i) === CODE_SPACE) {
    i--;
  } else if (spaced || !AFTER_BARE_SLASH.test(text.slice(start, end))) {
    return start;
  }
  let first = i + 1;
  while (first > 0 && first > i - 5 && isDigit(text.charCodeAt(first - 1))) first--;
  const length = i + 1 - first;
  return length >= 3 &&
    length <= 5 &&
    text.charCodeAt(first) === CODE_ZERO &&
    text.charCodeAt(first + 1) !== CODE_ZERO
    ? first
    : start;
}

/**
 * `(c&1048575)+1072079006|0`: a `+` right after a closing bracket adds (asm.js, minified code); a
 * number's own `+` follows a space, a label or an opening bracket.
 */
function isArithmeticPlus(text: string, start: number): boolean {
  if (text.charCodeAt(start) !== CODE_PLUS) return false;
  const before = text[start - 1];
  return before === ")" || before === "]";
}

/**
 * `<path d="M11.1 12.08c-2.33 ... 3.51.98.32">`, `points="1040,277.764 1035,267.764"`: an SVG
 * shape's coordinates run together into addresses and phone numbers. Found by walking back from
 * a candidate over what such a value holds (path commands, numbers, separators) to its opening
 * quote: in code and prose the walk stops within a few characters.
 */
const SVG_GEOMETRY_CHARS = new Uint8Array(128);
for (const c of "MmLlHhVvCcSsQqTtAaZzEe0123456789 \t\r\n.,+-")
  SVG_GEOMETRY_CHARS[c.charCodeAt(0)] = 1;
/** How far back an SVG attribute's start is looked for. */
const SVG_GEOMETRY_WINDOW = 2000;
const SVG_GEOMETRY_ATTRIBUTE = /(?:^|[^\w-])(?:d|points)=$/;

/**
 * The text's last walk: every character after `stop` and before `from` is a geometry character.
 * A list of addresses or numbers is geometry characters throughout, and each candidate's walk
 * goes on from where the one before it stopped instead of walking the window again.
 */
let lastWalk: { text: string; from: number; stop: number } | undefined;

function inSvgGeometry(text: string, start: number): boolean {
  const floor = Math.max(0, start - SVG_GEOMETRY_WINDOW);
  let i = start - 1;
  while (i >= floor && SVG_GEOMETRY_CHARS[text.charCodeAt(i)] === 1) {
    if (i === lastWalk?.from && lastWalk.text === text) {
      i = Math.max(lastWalk.stop, floor - 1);
      break;
    }
    i--;
  }
  lastWalk = { text, from: start - 1, stop: i };
  const quote = text[i];
  return (
    (quote === '"' || quote === "'") &&
    SVG_GEOMETRY_ATTRIBUTE.test(text.slice(Math.max(0, i - 8), i))
  );
}

const groupSizes: number[] = [];

/** UK mobile numbers written without spaces (`07700900123`): the one bare run taken for a phone. */
const COMPACT_UK_MOBILE = /^07[1-57-9]\d{8}$/;

/**
 * International numbers (`+` or `00`, and 8-15 digits); trunk-prefixed national numbers (UK
 * `020 7946 0958`, FR `01 23 45 67 89`); North American `(NXX) NXX-XXXX`. Bare digit runs, dates
 * and times are not phone numbers, except a UK mobile number and a national number right after
 * `tel:`. Written as one pass over the characters: most candidates in logs fail early.
 */
function isPhoneNumber(text: string, start: number, end: number): boolean {
  const plus =
    text.charCodeAt(start) === CODE_PLUS ||
    // `0044 20 7946 0958`: the international prefix dialled, in groups (a bare run is an id).
    (text.charCodeAt(start) === CODE_ZERO &&
      text.charCodeAt(start + 1) === CODE_ZERO &&
      isDigit(text.charCodeAt(start + 2)) &&
      text.charCodeAt(start + 2) !== CODE_ZERO &&
      /\D/.test(text.slice(start, end)));
  const prefix = plus ? (text.charCodeAt(start) === CODE_PLUS ? 1 : 2) : 0;
  let digits = 0;
  let groups = 0;
  let current = 0;
  let dots = false;
  let dashes = false;
  let spaces = false;
  let slash = false;
  let previousWasSeparator = false;
  for (let i = start + prefix; i < end; i++) {
    const c = text.charCodeAt(i);
    if (isDigit(c)) {
      current++;
      digits++;
      previousWasSeparator = false;
      continue;
    }
    if (current > 0) groupSizes[groups++] = current;
    current = 0;
    if (c === CODE_OPEN_PAREN || c === CODE_CLOSE_PAREN) continue;
    // `030/12345678`, `030 / 123 456 78`: the candidate holds one, after the area code.
    if (c === CODE_SLASH) {
      slash = true;
      previousWasSeparator = false;
      continue;
    }
    if (previousWasSeparator) return false;
    previousWasSeparator = true;
    if (c === CODE_DOT) dots = true;
    else if (c === CODE_MINUS) dashes = true;
    else spaces = true;
  }
  if (current > 0) groupSizes[groups++] = current;
  if (digits < 8 || digits > 15) return false;
  const first = text.charCodeAt(start + prefix);
  // `+35236450.6`, `+51.5074123`: a signed decimal number (a quantity, a latitude).
  // But `+1.4155552671`, `+44.2079460958`: EPP's and WHOIS's `+CC.number` is a phone.
  if (plus && groups === 2 && dots && !dashes && !spaces) {
    if (prefix === 2 || groupSizes[0]! > 3 || groupSizes[1]! < 8) return false;
  }
  if (plus) return first !== CODE_ZERO && !slash;
  const firstDigit = text[text.charCodeAt(start) === CODE_OPEN_PAREN ? start + 1 : start];
  if (groups === 1) {
    if (firstDigit !== "0") return false;
    if (digits === 11 && COMPACT_UK_MOBILE.test(text.slice(start, end))) return true;
    return (
      digits >= 10 &&
      text.charCodeAt(start - 1) === CODE_COLON &&
      text.slice(Math.max(0, start - 4), start).toLowerCase() === "tel:"
    );
  }
  // Dots are a separator of their own (`555.123.4567`): `277.764 1035` is two coordinates.
  if (dots && (dashes || spaces)) return false;
  if (firstDigit === "0") {
    // `00 00 00 00 00`, `000 014 000 000`: bytes in a hex dump. A trunk prefix is one `0`, and
    // `00` dials abroad (read above, with a country code after it).
    if (text[text.charCodeAt(start) === CODE_OPEN_PAREN ? start + 2 : start + 1] === "0") {
      return false;
    }
    // Nine digits: Dublin's and Vienna's `01 234 5678`, Brussels' `02 123 45 67`, an area code
    // of two then three digits and more groups (not a ZIP+4 `02110-1301`, not a column of
    // numbers `05 10 15 200`, not `010.020.030`).
    if (digits < 9 || digits > 12 || groups > 5) return false;
    if (digits === 9 && !(groups >= 3 && groupSizes[0] === 2 && groupSizes[1] === 3)) return false;
    // `(0)20 7946 0958`: the trunk prefix in brackets, as written after a country code.
    const trunkInBrackets = text.startsWith("(0)", start);
    for (let g = trunkInBrackets ? 1 : 0; g < groups; g++) if (groupSizes[g]! < 2) return false;
    return true;
  }
  // North American Numbering Plan, optionally with a leading 1; dots only as NXX.NXX.XXXX.
  const offset = groups === 4 && groupSizes[0] === 1 && firstDigit === "1" ? 1 : 0;
  if (groups - offset !== 3) return false;
  if (groupSizes[offset] !== 3 || groupSizes[offset + 1] !== 3 || groupSizes[offset + 2] !== 4) {
    return false;
  }
  if (dots && offset === 1) return false;
  const areaCode = text.slice(start, end).replace(/\D/g, "")[offset]!;
  return areaCode >= "2";
}

// ---------------------------------------------------------------------------------------------
// Payment cards: 14-19 digits, bare or in groups, with a known issuer prefix and a valid Luhn sum.

/** 4-4-4-4 and its kin, bare, or as Amex (4-6-5) and Diners Club (4-6-4) group theirs. */
const CARD_CANDIDATE = /\d{4}(?:[ -]?\d{4}[ -]?\d{4}[ -]?\d{1,7}|[ -]\d{6}[ -]\d{4,5})/g;
/**
 * An identifier's label right before a value (`request_id=`, `"id": "`, `order ID `): a bare run
 * of digits there is a record's id, which passes the Luhn check one time in ten.
 */
const ID_LABEL_BEFORE = /[^a-z]id["']?[ \t]*[:=]?[ \t]*["']?$/i;

/**
 * Whether an id's label stands right before `start`: looked for in the 12 characters before it,
 * with a space for the text's start (not the cut's: `paid` cut to `id` is no label).
 */
function idLabelBefore(text: string, start: number): boolean {
  const from = Math.max(0, start - 12);
  return ID_LABEL_BEFORE.test(`${from === 0 ? " " : ""}${text.slice(from, start)}`);
}

const detectPaymentCard: Detector = (text, emit) => {
  CARD_CANDIDATE.lastIndex = 0;
  for (let m = CARD_CANDIDATE.exec(text); m !== null; m = CARD_CANDIDATE.exec(text)) {
    const start = m.index;
    const end = start + m[0].length;
    const digits = cardDigits(m[0]);
    if (
      digits !== undefined &&
      hasCardIssuerPrefix(digits) &&
      luhnValid(digits) &&
      standsAlone(text, start, end, ".-/:") &&
      !(digits.length === end - start && idLabelBefore(text, start))
    ) {
      emit(start, end);
    }
  }
};

/** The digits of a 13-19 digit candidate written with at most one kind of separator. */
function cardDigits(candidate: string): string | undefined {
  const count = candidate.length;
  let separator = 0;
  for (let i = 0; i < count; i++) {
    const c = candidate.charCodeAt(i);
    if (isDigit(c)) continue;
    if (separator !== 0 && c !== separator) return undefined;
    separator = c;
  }
  const digits =
    separator === 0 ? candidate : candidate.replaceAll(String.fromCharCode(separator), "");
  return digits.length >= 13 && digits.length <= 19 ? digits : undefined;
}

function hasCardIssuerPrefix(digits: string): boolean {
  const two = Number(digits.slice(0, 2));
  const four = Number(digits.slice(0, 4));
  const six = Number(digits.slice(0, 6));
  // Not 13 digits, which Visa no longer issues and an EAN-13 barcode has (Germany's start 40-44);
  // nor Maestro's shortest, which the barcodes of other countries (50, 57, 64, 69) would pass.
  if (digits[0] === "4") return digits.length === 16 || digits.length === 19;
  if ((two >= 51 && two <= 55) || (four >= 2221 && four <= 2720)) return digits.length === 16;
  if (two === 34 || two === 37) return digits.length === 15;
  if (four === 6011 || two === 65 || (six >= 644000 && six <= 649999)) return digits.length >= 16;
  if (four >= 3528 && four <= 3589) return digits.length >= 16;
  const three = Number(digits.slice(0, 3));
  if ((three >= 300 && three <= 305) || two === 36 || two === 38) return digits.length >= 14;
  if (two === 50 || (two >= 56 && two <= 69)) return digits.length >= 16;
  if (two === 62) return digits.length >= 16;
  return false;
}

/** The Luhn (mod 10) check used by payment cards. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - CODE_ZERO;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

// ---------------------------------------------------------------------------------------------
// IBAN: country code + check digits + BBAN, with the country's length and the mod-97 check.

const IBAN_LENGTHS: Record<string, number> = {
  AD: 24,
  AE: 23,
  AL: 28,
  AT: 20,
  AZ: 28,
  BA: 20,
  BE: 16,
  BG: 22,
  BH: 22,
  BR: 29,
  CH: 21,
  CR: 22,
  CY: 28,
  CZ: 24,
  DE: 22,
  DK: 18,
  DO: 28,
  EE: 20,
  EG: 29,
  ES: 24,
  FI: 18,
  FO: 18,
  FR: 27,
  GB: 22,
  GE: 22,
  GI: 23,
  GL: 18,
  GR: 27,
  GT: 28,
  HR: 21,
  HU: 28,
  IE: 22,
  IL: 23,
  IS: 26,
  IT: 27,
  JO: 30,
  KW: 30,
  KZ: 20,
  LB: 28,
  LI: 21,
  LT: 20,
  LU: 20,
  LV: 21,
  MC: 27,
  MD: 24,
  ME: 22,
  MK: 19,
  MR: 27,
  MT: 31,
  MU: 30,
  NL: 18,
  NO: 15,
  PK: 24,
  PL: 28,
  PS: 29,
  PT: 25,
  QA: 29,
  RO: 24,
  RS: 22,
  SA: 24,
  SE: 24,
  SI: 19,
  SK: 24,
  SM: 27,
  TN: 24,
  TR: 26,
  UA: 29,
  VG: 24,
  XK: 20,
};

const IBAN_CANDIDATE = /[A-Z]{2}\d\d(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?/g;
/**
 * An IBAN in lower or mixed case (`iban: de89 3704 …`, as typed into a form) is taken only right
 * after an `IBAN` label: lower-case letters and digits in groups are everywhere in code and logs.
 */
const LABELLED_IBAN = /\biban(?:[_ -]?(?:number|no|nr))?\b[^a-z0-9\n]{0,20}(?=[a-z]{2}\d\d)/gi;

/** The IBANs of the text scanned last, as [start, end] in text order. */
let lastIbans: { text: string; spans: Array<[number, number]> } | undefined;

function ibanSpans(text: string): Array<[number, number]> {
  if (lastIbans?.text === text) return lastIbans.spans;
  const spans: Array<[number, number]> = [];
  IBAN_CANDIDATE.lastIndex = 0;
  for (let m = IBAN_CANDIDATE.exec(text); m !== null; m = IBAN_CANDIDATE.exec(text)) {
    const end = ibanEnd(text, m.index);
    if (end !== undefined) spans.push([m.index, end]);
    IBAN_CANDIDATE.lastIndex = end ?? m.index + 1;
  }
  // Most texts have no label: a plain search for it, as it is usually written, comes first.
  if (text.includes("IBAN") || text.includes("iban") || text.includes("Iban")) {
    LABELLED_IBAN.lastIndex = 0;
    for (let m = LABELLED_IBAN.exec(text); m !== null; m = LABELLED_IBAN.exec(text)) {
      const start = m.index + m[0].length;
      if (spans.some(([from]) => from === start)) continue;
      const end = ibanEnd(text, start);
      if (end !== undefined) spans.push([start, end]);
    }
    spans.sort((a, b) => a[0] - b[0]);
  }
  lastIbans = { text, spans };
  return spans;
}

/** Where the IBAN starting at `start` ends (its country's length, checksum valid), if it is one. */
function ibanEnd(text: string, start: number): number | undefined {
  const expected = IBAN_LENGTHS[text.slice(start, start + 2).toUpperCase()];
  if (expected === undefined) return undefined;
  // The candidate's groups may run into a following word; keep exactly the country's length.
  let end = start;
  let kept = 0;
  while (end < text.length && kept < expected) {
    if (text[end] !== " ") kept++;
    end++;
  }
  const compact = text.slice(start, end).replace(/ /g, "").toUpperCase();
  return kept === expected &&
    /^[A-Z0-9]+$/.test(compact) &&
    ibanChecksumValid(compact) &&
    standsAlone(text, start, end, "")
    ? end
    : undefined;
}

/** Whether [start, end) lies within an IBAN of the text (`NL91 ABNA 0417 1643 00`'s digits). */
function insideIban(text: string, start: number, end: number): boolean {
  return ibanSpans(text).some(([from, to]) => start >= from && end <= to);
}

const detectIban: Detector = (text, emit) => {
  for (const [start, end] of ibanSpans(text)) emit(start, end);
};

/** ISO 13616 check: move the first four characters to the end, letters to numbers, mod 97 = 1. */
export function ibanChecksumValid(iban: string): boolean {
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (let i = 0; i < rearranged.length; i++) {
    const c = rearranged.charCodeAt(i);
    if (isDigit(c)) {
      remainder = (remainder * 10 + (c - CODE_ZERO)) % 97;
    } else {
      remainder = (remainder * 100 + (c - CODE_UPPER_A + 10)) % 97;
    }
  }
  return remainder === 1;
}

// ---------------------------------------------------------------------------------------------
// UK National Insurance number: two prefix letters (some never issued), six digits, suffix A-D.

const NINO_CANDIDATE = /[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d\d ?\d\d ?\d\d ?[A-D]/g;
const NINO_INVALID_PREFIXES = new Set(["BG", "GB", "KN", "NK", "NT", "TN", "ZZ"]);

const detectUkNino: Detector = (text, emit) => {
  NINO_CANDIDATE.lastIndex = 0;
  for (let m = NINO_CANDIDATE.exec(text); m !== null; m = NINO_CANDIDATE.exec(text)) {
    const start = m.index;
    const end = start + m[0].length;
    const spaces = m[0].split(" ").length - 1;
    if (
      !NINO_INVALID_PREFIXES.has(m[0].slice(0, 2)) &&
      // `AB123456C`, `AB 12 34 56 C`, or as HMRC prints it, `AB 123456 C`.
      (spaces === 0 || spaces === 4 || (spaces === 2 && m[0][2] === " " && m[0][9] === " ")) &&
      standsAlone(text, start, end, "")
    ) {
      emit(start, end);
    }
  }
};

// ---------------------------------------------------------------------------------------------
// Digit groups with one separator repeated: `AAA-GG-SSSS` (US SSN) and `NNN-NNN-NNNN` (NHS
// number), found in one pass over the text for both detectors. A text position starts at most
// one of the two shapes, and a candidate of one shape that overlaps one of the other starts right
// after a digit, which `standsAlone` rejects: one pass finds what two would.

const DIGIT_GROUPS = /\d{3}([- ])\d\d(\d?)\1\d{4}/g;

interface DigitGroup {
  start: number;
  value: string;
}

interface DigitGroups {
  text: string;
  ssn: DigitGroup[];
  nhs: DigitGroup[];
}

/** The candidates of the text scanned last: the two detectors run one after the other on it. */
let lastGroups: DigitGroups | undefined;

function digitGroups(text: string): DigitGroups {
  if (lastGroups?.text === text) return lastGroups;
  const groups: DigitGroups = { text, ssn: [], nhs: [] };
  DIGIT_GROUPS.lastIndex = 0;
  for (let m = DIGIT_GROUPS.exec(text); m !== null; m = DIGIT_GROUPS.exec(text)) {
    (m[2] ? groups.nhs : groups.ssn).push({ start: m.index, value: m[0] });
  }
  lastGroups = groups;
  return groups;
}

// US Social Security number: AAA-GG-SSSS with separators, or nine bare digits right after an
// SSN label (`SSN: 123456789`, `ssn_number=…`, `Social Security No. …`: how databases and forms
// keep them); area 000, 666 and 9xx, group 00 and serial 0000 are never issued.

/** Where `ssn` or `social security` stands in the text, in any of its usual spellings. */
const SSN_LABELS = [
  "ssn",
  "SSN",
  "Ssn",
  "social security",
  "Social Security",
  "SOCIAL SECURITY",
  "social_security",
];
/** After the label: an optional `number`/`no.`, a few marks (`: `, `='`, `#`), the nine digits. */
const BARE_SSN_AFTER_LABEL = /(?:[ _-]?(?:number|num|nr|no\.?))?[\s:=#'"(),;|>]{0,6}(\d{9})/iy;

function isIssuedSsn(area: string, group: string, serial: string): boolean {
  return area !== "000" && area !== "666" && area[0] !== "9" && group !== "00" && serial !== "0000";
}

const detectUsSsn: Detector = (text, emit) => {
  const found: Array<[number, number]> = [];
  for (const { start, value } of digitGroups(text).ssn) {
    const end = start + value.length;
    if (
      isIssuedSsn(value.slice(0, 3), value.slice(4, 6), value.slice(7, 11)) &&
      standsAlone(text, start, end, ".-/:")
    ) {
      found.push([start, end]);
    }
  }
  for (const spelling of SSN_LABELS) {
    for (let at = text.indexOf(spelling); at !== -1; at = text.indexOf(spelling, at + 1)) {
      const labelEnd = at + spelling.length;
      // `classname`, `SSNs`: part of another word.
      if ((at > 0 && isAlnum(text.charCodeAt(at - 1))) || isAlnum(text.charCodeAt(labelEnd))) {
        continue;
      }
      BARE_SSN_AFTER_LABEL.lastIndex = labelEnd;
      const m = BARE_SSN_AFTER_LABEL.exec(text);
      if (!m) continue;
      const start = BARE_SSN_AFTER_LABEL.lastIndex - 9;
      const end = start + 9;
      if (isBareIssuedSsn(m[1]!) && standsAlone(text, start, end, ".-/:")) {
        found.push([start, end]);
      }
    }
  }
  // A table's SSN column (`name,ssn\nJane Roe,219099999`): its bare nine-digit cells.
  const column = columnCells(text, SSN_IN_HEADER, SSN_COLUMN, (value) => isBareIssuedSsn(value));
  const labelled = new Set(found.map(([start]) => start));
  for (const span of column?.spans ?? []) if (!labelled.has(span[0])) found.push(span);
  if (found.length > 1) found.sort((a, b) => a[0] - b[0]);
  for (const [start, end] of found) emit(start, end);
};

/** What an SSN column's name holds: the cheap test made before a header is split. */
const SSN_IN_HEADER = /ssn|social/i;
/** A header cell that names an SSN: `ssn`, `SSN`, `employee_ssn`, `Social Security Number`. */
const SSN_COLUMN =
  /^\W*(?:[a-z]+[ _-])?(?:ssn|social[ _-]?security(?:[ _-]?(?:number|num|no\.?))?)\W*$/i;

function isBareIssuedSsn(value: string): boolean {
  return /^\d{9}$/.test(value) && isIssuedSsn(value.slice(0, 3), value.slice(3, 5), value.slice(5));
}

// NHS number: ten digits with its modulus 11 check digit. After an NHS label (`NHS no.`,
// `nhs_number`) it may be written 3-3-4 with spaces or dashes or bare; without one, only as the
// NHS prints it, 3-3-4 with spaces and not starting with 0: 3-3-4 with dashes is how North
// America writes phone numbers, and one in eleven of them passes modulus 11.

/** `+44 `, `+1-`, `(+353) `: the digits after it are a phone number's. */
const COUNTRY_CODE_BEFORE = /\(?\+\d{1,3}\)?[ -]?$/;
/** Where `nhs`, `NHS` or `Nhs` stands in the text: found with indexOf, far faster than `/nhs/gi`. */
function nhsLabels(text: string): number[] {
  const at: number[] = [];
  for (const spelling of ["nhs", "NHS", "Nhs"]) {
    for (let i = text.indexOf(spelling); i !== -1; i = text.indexOf(spelling, i + 3)) at.push(i);
  }
  return at.length > 1 ? at.sort((a, b) => a - b) : at;
}
/** How far after its label an NHS number is looked for. */
const NHS_WINDOW = 40;
const NHS_AFTER_LABEL = /\d{3}([- ]?)\d{3}\1\d{4}/g;

/**
 * The NHS numbers of the text scanned last, start -> end, and those an NHS label names: the phone
 * detector leaves those alone (an unlabelled one may be a North American number, and is both).
 */
interface NhsNumbers {
  text: string;
  spans: Map<number, number>;
  labelled: Set<number>;
}
let lastNhs: NhsNumbers | undefined;

function nhsNumbers(text: string): NhsNumbers {
  if (lastNhs?.text === text) return lastNhs;
  const spans = new Map<number, number>();
  const labelled = new Set<number>();
  const isNhs = (start: number, value: string) => {
    const end = start + value.length;
    const digits = value.replace(/[- ]/g, "");
    return (
      nhsChecksumValid(digits) &&
      // `000 000 0000` passes modulus 11, as does every ten-digit run of one digit.
      !/^(\d)\1{9}$/.test(digits) &&
      !COUNTRY_CODE_BEFORE.test(text.slice(Math.max(0, start - 7), start)) &&
      standsAlone(text, start, end, ".-/:")
    );
  };
  for (const label of nhsLabels(text)) {
    if (label > 0 && isAlnum(text.charCodeAt(label - 1))) continue;
    const from = label + 3;
    const window = text.slice(from, from + NHS_WINDOW);
    NHS_AFTER_LABEL.lastIndex = 0;
    for (let v = NHS_AFTER_LABEL.exec(window); v !== null; v = NHS_AFTER_LABEL.exec(window)) {
      if (isNhs(from + v.index, v[0])) {
        spans.set(from + v.index, from + v.index + v[0].length);
        labelled.add(from + v.index);
        break;
      }
    }
  }
  for (const { start, value } of digitGroups(text).nhs) {
    if (!spans.has(start) && value[3] === " " && value[0] !== "0" && isNhs(start, value)) {
      spans.set(start, start + value.length);
    }
  }
  lastNhs = { text, spans, labelled };
  return lastNhs;
}

/** Lets go of the texts the detectors' caches hold (up to a file's size each) once a scan is over. */
export function forgetScannedText(): void {
  lastWalk = undefined;
  lastGroups = undefined;
  lastNhs = undefined;
  lastHeaders = undefined;
  lastIbans = undefined;
}

function isLabelledNhs(text: string, start: number, end: number): boolean {
  const { spans, labelled } = nhsNumbers(text);
  return labelled.has(start) && spans.get(start) === end;
}

const detectNhsNumber: Detector = (text, emit) => {
  const { spans } = nhsNumbers(text);
  for (const [start, end] of [...spans].sort((a, b) => a[0] - b[0])) emit(start, end);
};

/** NHS modulus 11: weights 10..2 on the first nine digits; 11 - (sum mod 11) is the tenth (10 never). */
export function nhsChecksumValid(digits: string): boolean {
  if (digits.length !== 10) return false;
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += (digits.charCodeAt(i) - CODE_ZERO) * (10 - i);
  let check = 11 - (sum % 11);
  if (check === 11) check = 0;
  return check !== 10 && check === digits.charCodeAt(9) - CODE_ZERO;
}

// ---------------------------------------------------------------------------------------------
// Date of birth: a plausible past date written shortly after a birth keyword.

/**
 * `birth` also finds `date of birth`, `birthdate` and `birthday`; the date is searched after it.
 * A plain alternation without lookarounds lets V8 scan quickly; boundaries are checked in code.
 */
const BIRTH_KEYWORD = /birth|born|dob|d\.o\.b/gi;
const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DATE_NEAR_KEYWORD = new RegExp(
  [
    "(?<ymd>(?<y1>\\d{4})[-/.](?<m1>\\d{1,2})[-/.](?<d1>\\d{1,2}))",
    "(?<dmy>(?<d2>\\d{1,2})[-/.](?<m2>\\d{1,2})[-/.](?<y2>\\d{4}))",
    `(?<dMy>(?<d3>\\d{1,2})(?:st|nd|rd|th)?[ -](?<m3>(?:${MONTHS.join("|")})[a-z]*)\\.?[ ,-]*(?<y3>\\d{4}))`,
    `(?<Mdy>(?<m4>(?:${MONTHS.join("|")})[a-z]*)\\.? (?<d4>\\d{1,2})(?:st|nd|rd|th)?,? (?<y4>\\d{4}))`,
    // A two-digit year, as forms write it (`DOB: 12/03/85`), with one separator, ending there.
    "(?<dmy2>(?<d5>\\d{1,2})(?<s5>[-/.])(?<m5>\\d{1,2})\\k<s5>(?<y5>\\d\\d)(?![\\d-]|[/.]\\d))",
  ].join("|"),
  "gi",
);
/** How far after a birth keyword the date may start (covers `Date of Birth (DD/MM/YYYY):`). */
const DATE_WINDOW = 40;

/** `birth_place`, `birthplace`, `birth country`: where, not when. */
const BIRTH_PLACE_AFTER = /^[ _-]?(?:place|country|city|town|name)/i;
const PLACE_OF_BEFORE = /(?:place|country|city|town) of $/i;
/**
 * A year between the keyword and a date: the keyword had its date (`Born in 1985, moved ... on`).
 * Only one a birth can have (1900 on): `Date of birth (ISO 8601): 1985-03-12` is a birth date.
 */
const YEAR_BETWEEN = /(?<!\d)(?:19|20)\d\d(?!\d)/;
/**
 * A date picker's or a schema's bound (`name="dob" min="1900-01-01"`, `dob: {max: "2010-12-31"}`):
 * the range a birth date may take, not one.
 */
const DATE_BOUND_BEFORE = /(?:^|[^a-z0-9])(?:min|max)(?:[_-]?date)?["']?[ \t]*[:=][ \t]*["']?$/i;

const detectDateOfBirth: Detector = (text, emit) => {
  const table = birthDateColumn(text);
  BIRTH_KEYWORD.lastIndex = 0;
  let searchedUpTo = 0;
  const found: [number, number][] = [];
  for (let k = BIRTH_KEYWORD.exec(text); k !== null; k = BIRTH_KEYWORD.exec(text)) {
    const keywordEnd = k.index + k[0].length;
    if (isAlnum(text.charCodeAt(k.index - 1))) continue;
    // `birth` may run on (`birthday`, `birthdate`); the other keywords must end there.
    if (k[0].toLowerCase() !== "birth" && isAlnum(text.charCodeAt(keywordEnd))) continue;
    if (
      BIRTH_PLACE_AFTER.test(text.slice(keywordEnd, keywordEnd + 8)) ||
      // `birthtime`, `birthtimeMs`, `st_birthtime`: a file's creation time as `stat` reports it,
      // in lower case (a patient's `birthTime` in FHIR, a person's `birth time`, are births).
      (k[0] === "birth" && text.startsWith("time", keywordEnd)) ||
      PLACE_OF_BEFORE.test(text.slice(Math.max(0, k.index - 12), k.index))
    ) {
      continue;
    }
    const from = Math.max(keywordEnd, searchedUpTo);
    const window = text.slice(from, from + DATE_WINDOW + 30);
    DATE_NEAR_KEYWORD.lastIndex = 0;
    const date = DATE_NEAR_KEYWORD.exec(window);
    if (
      date &&
      date.index <= DATE_WINDOW &&
      isPlausibleBirthDate(date.groups!) &&
      !YEAR_BETWEEN.test(window.slice(0, date.index)) &&
      !DATE_BOUND_BEFORE.test(window.slice(Math.max(0, date.index - 16), date.index))
    ) {
      const start = from + date.index;
      // A table's header names its column: a row's date is that column's, not the one after
      // the name (the first row's date of another column).
      if (table && k.index < table.headerEnd && start > table.headerEnd) continue;
      found.push([start, start + date[0].length]);
      searchedUpTo = start + date[0].length;
    }
  }
  if (table && table.spans.length > 0) {
    const near = new Set(found.map(([start]) => start));
    // One by one: a table of many rows is more than a call's arguments may be.
    for (const date of table.spans) if (!near.has(date[0])) found.push(date);
    // Emitted in text order, as every detector emits.
    found.sort((a, b) => a[0] - b[0]);
  }
  for (const [start, end] of found) emit(start, end);
};

/** How much of a text's first line is read as a table's header. */
const HEADER_CHARS = 4096;
const DELIMITERS = [",", ";", "\t", "|"];
const WHOLE_DATE = new RegExp(`^(?:${DATE_NEAR_KEYWORD.source})$`, "i");
/** What every birth column's name holds: the cheap test made before a header is split. */
const BIRTH_IN_HEADER =
  /birth|born|d\.?o\.?b|geburt|geboorte|naissance|nacimiento|nascita|urodzenia|födelse|fødsel/i;
/**
 * A header cell that names a date of birth: `date_of_birth`, `DOB`, `"Birth date"`,
 * `patient_dob`, `DOB (dd/mm/yyyy)`; the name is the cell's last word, not part of another one.
 */
const BIRTH_COLUMN =
  /^\W*(?:[a-z]+[ _-])?(?:date[ _-]?of[ _-]?birth|d\.?o\.?b\.?|birth[ _-]?date|birthday|date[ _-]?born|geburtsdatum|geboortedatum|date[ _-]de[ _-]naissance|fecha[ _-]de[ _-]nacimiento|data[ _-]di[ _-]nascita|data[ _-]urodzenia|födelsedatum|fødselsdato)(?:\s*\([^)]*\))?\W*$/i;

/** The dates of birth in a table whose header names a birth column (see `columnCells`). */
function birthDateColumn(text: string): TableColumn | null {
  return columnCells(text, BIRTH_IN_HEADER, BIRTH_COLUMN, (value) => {
    const date = WHOLE_DATE.exec(value);
    return date !== null && isPlausibleBirthDate(date.groups!);
  });
}

interface TableColumn {
  /** Where the header line ends. */
  headerEnd: number;
  /** The accepted cells of the column, as [start, end] in text order. */
  spans: [number, number][];
}

/**
 * The cells of a table (CSV, TSV) in the column its header names (`column`, tested on each
 * header cell once `hint` found the header worth splitting), those `accept` takes, and where the
 * header ends; null for any other text. Only rows with as many cells as the header are read (a
 * quoted delimiter would shift the columns); quotes around a cell are left out.
 */
function columnCells(
  text: string,
  hint: RegExp,
  column: RegExp,
  accept: (value: string) => boolean,
): TableColumn | null {
  const headerEnd = text.indexOf("\n");
  if (headerEnd === -1 || headerEnd > HEADER_CHARS) return null;
  const header = text.slice(0, headerEnd).replace(/\r$/, "");
  // Most first lines name no such column: they are not split at all.
  if (!hint.test(header)) return null;
  const counts = DELIMITERS.map((d) => header.split(d).length);
  const delimiter = DELIMITERS[counts.indexOf(Math.max(...counts))]!;
  const names = header.split(delimiter);
  const index = names.findIndex((name) => column.test(name));
  if (names.length < 2 || index === -1) return null;
  const spans: [number, number][] = [];
  for (let lineStart = headerEnd + 1; lineStart < text.length; ) {
    let lineEnd = text.indexOf("\n", lineStart);
    if (lineEnd === -1) lineEnd = text.length;
    const cells = text.slice(lineStart, lineEnd).replace(/\r$/, "").split(delimiter);
    if (cells.length === names.length) {
      let cellStart = lineStart;
      for (let i = 0; i < index; i++) cellStart += cells[i]!.length + delimiter.length;
      const raw = cells[index]!;
      const value = raw.trim().replace(/^"|"$/g, "");
      if (accept(value)) {
        const start = cellStart + raw.indexOf(value);
        spans.push([start, start + value.length]);
      }
    }
    lineStart = lineEnd + 1;
  }
  return { headerEnd, spans };
}

function monthNumber(text: string): number {
  return MONTHS.findIndex((m) => text.toLowerCase().startsWith(m)) + 1;
}

function isPlausibleBirthDate(groups: Record<string, string | undefined>): boolean {
  const thisYear = new Date().getUTCFullYear();
  let year = Number(groups.y1 ?? groups.y2 ?? groups.y3 ?? groups.y4 ?? groups.y5);
  // `85` is 1985 and `07` 2007: a two-digit year is the last such year that has begun.
  if (groups.y5 !== undefined) year += year + 2000 <= thisYear ? 2000 : 1900;
  const day = Number(groups.d1 ?? groups.d2 ?? groups.d3 ?? groups.d4 ?? groups.d5);
  const month =
    groups.m3 !== undefined || groups.m4 !== undefined
      ? monthNumber((groups.m3 ?? groups.m4)!)
      : Number(groups.m1 ?? groups.m2 ?? groups.m5);
  // Day-first and month-first are both common; accept when either reading is a real date
  // (no 31 February).
  const valid = (d: number, m: number): boolean =>
    m >= 1 && m <= 12 && d >= 1 && d <= new Date(Date.UTC(year, m, 0)).getUTCDate();
  return (
    year >= 1900 &&
    year <= thisYear &&
    (valid(day, month) ||
      ((groups.dmy !== undefined || groups.dmy2 !== undefined) && valid(month, day)))
  );
}

// ---------------------------------------------------------------------------------------------
// IPv4: four octets <= 255, not a version number (`version 1.2.3.4`, `v1.2.3.4`, `@1.2.3.4`).

const IPV4_CANDIDATE = /\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}/g;
const VERSION_WORDS =
  "ver|releases?|released|versions|build|firmware|oid|objectidentifier|v|v8|kernel|jdk|jre|gcc|openssl|" +
  // A document's numbered parts (`Requirement 3.2.1.4`, `Table 2.1.3.1`).
  "sections?|chapter|clause|articles?|requirements?|tables?|figures?|paragraphs?|appendix|annex|" +
  "upgrade[sd]?\\s+to|upgrading\\s+to|downgrade[sd]?\\s+to|" +
  // Software released as `1.7.12.1` and named in prose (`Git 1.7.12.1`, `update V8 to
  // 4.4.63.30`); not infrastructure (`docker`, `node`, `nginx`), which is followed by addresses.
  "git|python|php|perl|ruby|java|chromium|firefox|safari|android|ios|macos|ubuntu|debian|" +
  "postgresql|mysql|mariadb|npm|pip|dotnet|electron|xcode|llvm|clang|cmake";
/**
 * What stands right before a version or a section number: a word (`version`, `versionName`,
 * `v`, `kernel`, `Released`, `upgraded to`, `Section 3.4.1.2`, an OID's; `to` or `from` may come
 * between, `update Git to 1.7.12.2`), a Markdown heading's start, a dpkg
 * or apt package's architecture (`socat:amd64 1.7.4.4-2`), a requirement's operator or a spec's
 * anchor (`ES6$25.4.5.4`).
 */
const VERSION_CONTEXT = new RegExp(
  [
    "(?:version\\w*",
    // A Markdown heading's number (`### 3.2.1.4 Sessions`, a changelog's `## [2.0.1.3]`).
    "(?:^|\\n)#{2,6}[ \\t]+\\[?",
    `\\b(?:${VERSION_WORDS})(?:\\s+(?:to|from))?`,
    ":(?:amd64|arm64|armhf|armel|i386|ppc64el|s390x|all)(?: <none>)?",
    "@|==|>=|<=|~|\\^|§|\\$)[\\s:=\"'(>-]*$",
  ].join("|"),
  "i",
);
/**
 * `Chrome/119.0.0.0`, `nginx/1.25.3.1`: a product's version, not an address. The product is a
 * token with a letter in it, standing on its own before the `/` (after a space, a quote, a `(`);
 * after a path segment (`/api/clients/203.0.113.9`) the address is an address.
 */
function isProductVersion(text: string, start: number): boolean {
  if (text.charCodeAt(start - 1) !== CODE_SLASH) return false;
  let letter = false;
  let i = start - 2;
  for (; i >= 0 && start - i <= 40; i--) {
    const c = text.charCodeAt(i);
    if (!isWordChar(c)) break;
    letter ||= !isDigit(c) && c !== CODE_UNDERSCORE;
  }
  if (!letter) return false;
  if (i < 0) return true;
  // `db01.internal/10.0.0.5` is a host and its address; `/api/clients/` a path.
  const before = text.charCodeAt(i);
  return start - i <= 40 && before !== CODE_SLASH && before !== CODE_MINUS && before !== CODE_DOT;
}

/**
 * `<h4 class="subsubsection">7.1.1.1 SHA256</h4>`, `<a href="#SHA256">7.1.1.1 SHA256</a>`: a
 * manual's section number opens a heading or a table of contents' link (an empty anchor may come
 * first). Addresses in markup stand in `<code>`, `<td>`, `<tt>`, which stay reported.
 */
const HEADING_BEFORE =
  /<(?:h[1-6]\b[^<>]*|a\b[^<>]*\bhref=["']#[^<>]*)>\s*(?:<a\b[^<>]*>\s*<\/a>\s*)?$/i;

function isHeadingNumber(text: string, start: number, end: number): boolean {
  return (
    text.charCodeAt(start - 1) === CODE_GREATER &&
    // A section number has its title after it; an element holding only an address holds one.
    text[end] !== "<" &&
    HEADING_BEFORE.test(text.slice(Math.max(0, start - 200), start))
  );
}

/** A Debian changelog's `package (2.4.1.3-1) unstable`: a version and its revision in brackets. */
const DEBIAN_REVISION = /^-\d+(?:[a-z~+][\w.+~]*)?\)/i;

function isDebianVersion(text: string, start: number, end: number): boolean {
  return text[start - 1] === "(" && DEBIAN_REVISION.test(text.slice(end, end + 40));
}

const detectIpv4: Detector = (text, emit) => {
  IPV4_CANDIDATE.lastIndex = 0;
  for (let m = IPV4_CANDIDATE.exec(text); m !== null; m = IPV4_CANDIDATE.exec(text)) {
    const start = m.index;
    const end = start + m[0].length;
    if (
      octetsValid(m[0]) &&
      !isInfrastructureAddress(text, m[0], end) &&
      standsAlone(text, start, end, ".") &&
      !VERSION_CONTEXT.test(text.slice(Math.max(0, start - 20), start)) &&
      !isProductVersion(text, start) &&
      !inSvgGeometry(text, start) &&
      !isHeadingNumber(text, start, end) &&
      !isDebianVersion(text, start, end)
    ) {
      emit(start, end);
    }
  }
};

/**
 * The public DNS resolvers configurations name (Cloudflare, Google, Quad9, OpenDNS): services,
 * never a person's device.
 */
const PUBLIC_RESOLVERS = new Set([
  "1.1.1.1",
  "1.0.0.1",
  "8.8.8.8",
  "8.8.4.4",
  "9.9.9.9",
  "149.112.112.112",
  "208.67.222.222",
  "208.67.220.220",
]);

/**
 * Addresses that never name a person's device: unspecified `0.0.0.0`, loopback `127.x`, netmasks
 * (`255.x`), network addresses written as CIDR (`10.0.0.0/8`) and public DNS resolvers.
 */
function isInfrastructureAddress(text: string, candidate: string, end: number): boolean {
  return (
    candidate === "0.0.0.0" ||
    PUBLIC_RESOLVERS.has(candidate) ||
    candidate.startsWith("127.") ||
    candidate.startsWith("255.") ||
    (candidate.endsWith(".0") && text[end] === "/")
  );
}

/** Every dotted part is at most 255 and has no leading zero. */
function octetsValid(candidate: string): boolean {
  let value = 0;
  let length = 0;
  for (let i = 0; i <= candidate.length; i++) {
    const c = i < candidate.length ? candidate.charCodeAt(i) : CODE_DOT;
    if (c === CODE_DOT) {
      if (value > 255) return false;
      value = 0;
      length = 0;
      continue;
    }
    if (length === 1 && value === 0) return false;
    value = value * 10 + (c - CODE_ZERO);
    length++;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// IPv6: anchored on ':' and expanded over hex digits and colons; a full 8-group address or a
// compressed one with '::' and at least three groups (so `::1`, `std::x`, times and MAC
// addresses are not reported).

const detectIpv6: Detector = (text, emit) => {
  const length = text.length;
  let colon = text.indexOf(":");
  while (colon !== -1) {
    let start = colon;
    let colons = 1;
    while (start > 0) {
      const c = text.charCodeAt(start - 1);
      if (c === CODE_COLON) colons++;
      else if (!isHex(c)) break;
      start--;
    }
    let end = colon + 1;
    while (end < length) {
      const c = text.charCodeAt(end);
      if (c === CODE_COLON) colons++;
      else if (!isHex(c)) break;
      end++;
    }
    // Fewer than three colons: times (`10:30:00`), `key: value` and `a::b`, never reported.
    if (colons >= 3) {
      const candidate = text.slice(start, end);
      if (
        isIpv6(candidate) &&
        standsAlone(text, start, end, ".:") &&
        !isInfrastructureIpv6(candidate, cidrPrefix(text, end))
      ) {
        emit(start, end);
      }
    }
    colon = text.indexOf(":", Math.max(end, colon + 1));
  }
};

/** IPv6's public DNS resolvers (Google, Cloudflare, Quad9, OpenDNS), as IPv4's above. */
const PUBLIC_RESOLVERS_V6 = new Set([
  "2001:4860:4860::8888",
  "2001:4860:4860::8844",
  "2606:4700:4700::1111",
  "2606:4700:4700::1001",
  "2620:fe::fe",
  "2620:fe::9",
  "2620:119:35::35",
  "2620:119:53::53",
]);

/** The prefix length of a CIDR suffix at `at` (`/64`), or null when there is none. */
function cidrPrefix(text: string, at: number): number | null {
  const match = text[at] === "/" ? /^\/(\d{1,3})(?!\d)/.exec(text.slice(at, at + 5)) : null;
  return match ? Number(match[1]) : null;
}

/**
 * As for IPv4, addresses that never name a person's device: unspecified and loopback written in
 * full (`0:0:0:0:0:0:0:1`, `0000:…:0001`), netmasks and multicast groups (`ffff:ffff::`,
 * `ff02::1`), network addresses written as CIDR (`2001:db8:8000::/33`) and public resolvers.
 */
function isInfrastructureIpv6(candidate: string, prefix: number | null): boolean {
  const lower = candidate.toLowerCase();
  return (
    /^[0:]*1?$/.test(lower) ||
    /^ff[0-9a-f]{2}:/.test(lower) ||
    // A network, not a host (`/128` names one host, whatever it ends with).
    (prefix !== null && prefix < 128 && (lower.endsWith("::") || lower.endsWith(":0"))) ||
    PUBLIC_RESOLVERS_V6.has(lower)
  );
}

function isIpv6(candidate: string): boolean {
  const halves = candidate.split("::");
  if (halves.length > 2) return false;
  const groups = halves.flatMap((h) => (h === "" ? [] : h.split(":")));
  if (!groups.every((g) => g.length >= 1 && g.length <= 4)) return false;
  if (halves.length === 1) return groups.length === 8;
  return groups.length >= 3 && groups.length <= 7;
}

/** The detectors a ruleset can name in `value_patterns: [{detector: <name>}]`. */
export const DETECTORS: Record<DetectorName, Detector> = {
  email: detectEmail,
  phone: detectPhone,
  iban: detectIban,
  payment_card: detectPaymentCard,
  uk_nino: detectUkNino,
  us_ssn: detectUsSsn,
  nhs_number: detectNhsNumber,
  date_of_birth: detectDateOfBirth,
  ipv4: detectIpv4,
  ipv6: detectIpv6,
};
