// Regenerates the canonical-JSON (RFC 8785) conformance vectors in this folder.
//
//   node conformance/canonical_json/generate.mjs [output-dir]
//
// The expected values come from an implementation independent of every SDK: ECMAScript itself.
// RFC 8785 defines number and string serialisation as what JSON.stringify does, and JavaScript's
// string comparison is by UTF-16 code units, which is the order RFC 8785 sorts keys in. The only
// code here is a strict JSON text reader (so that each input is read exactly once, duplicate keys
// and inexact integers are noticed, and nothing is lost to JSON.parse) and the 15-line
// serialiser in `canonicalize`.
//
// Every input is written into the vector files as the exact JSON text given below, so number
// spellings such as `1.0`, `1E2` or `-0.0` reach the implementation under test unchanged.

import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const OUT = process.argv[2] ?? dirname(fileURLToPath(import.meta.url));
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

class Rejected extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind;
  }
}

// ---- strict JSON text reader ----------------------------------------------------------------
// Objects are read as {entries: [[key, value], ...]} so that nothing (order, duplicates,
// "__proto__") is lost to JavaScript object semantics.

function read(text) {
  let i = 0;
  const ws = () => {
    while (i < text.length && " \t\n\r".includes(text[i])) i++;
  };
  const fail = (kind, message) => {
    throw new Rejected(kind, `${message} at offset ${i}`);
  };
  const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
  const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;

  function string() {
    STRING.lastIndex = i;
    const m = STRING.exec(text);
    if (!m) fail("not_json", "bad string");
    i = STRING.lastIndex;
    const s = JSON.parse(m[0]);
    if (!s.isWellFormed()) fail("lone_surrogate", "string holds a lone surrogate");
    return s;
  }

  function number() {
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (!m) fail("not_json", "bad value");
    i = NUMBER.lastIndex;
    const n = Number(m[0]);
    if (!Number.isFinite(n)) fail("number_overflow", "number beyond the largest double");
    const integerToken = m[1] === undefined && m[2] === undefined;
    // An integer beyond 2**53 - 1 is exact only if it is digit for digit how ECMAScript writes
    // the double it rounds to; any other would silently become a different number.
    if (integerToken && Math.abs(n) > MAX_SAFE && JSON.stringify(n) !== m[0]) {
      fail("inexact_integer", "integer no double holds exactly");
    }
    return n;
  }

  function value() {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const entries = [];
      const seen = new Set();
      ws();
      if (text[i] === "}") {
        i++;
        return { entries };
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail("not_json", "expected a key");
        const k = string();
        if (seen.has(k)) fail("duplicate_key", `duplicate key ${JSON.stringify(k)}`);
        seen.add(k);
        ws();
        if (text[i] !== ":") fail("not_json", "expected ':'");
        i++;
        entries.push([k, value()]);
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") {
          i++;
          return { entries };
        }
        fail("not_json", "expected ',' or '}'");
      }
    }
    if (c === "[") {
      i++;
      const items = [];
      ws();
      if (text[i] === "]") {
        i++;
        return items;
      }
      for (;;) {
        items.push(value());
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") {
          i++;
          return items;
        }
        fail("not_json", "expected ',' or ']'");
      }
    }
    if (c === '"') return string();
    for (const [word, v] of [["true", true], ["false", false], ["null", null]]) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    return number();
  }

  const v = value();
  ws();
  if (i !== text.length) fail("not_json", "trailing text");
  return v;
}

// ---- the reference serialiser ----------------------------------------------------------------

function canonicalize(v) {
  if (v === null || typeof v === "boolean" || typeof v === "number" || typeof v === "string") {
    return JSON.stringify(v); // RFC 8785 3.2.2: exactly ECMAScript's serialisation
  }
  if (Array.isArray(v)) return "[" + v.map(canonicalize).join(",") + "]";
  // Default sort compares strings by UTF-16 code units (RFC 8785 3.2.3).
  const entries = [...v.entries].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return "{" + entries.map(([k, x]) => JSON.stringify(k) + ":" + canonicalize(x)).join(",") + "}";
}

// ---- writing vector files --------------------------------------------------------------------

// JSON string literal with everything outside printable ASCII escaped, so the files stay
// ASCII and readable whatever an editor does with U+2028, DEL or combining marks.
function lit(s) {
  return JSON.stringify(s).replace(
    /[\u007f-\uffff]/g,
    (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"),
  );
}

function writeFile(file, description, cases, errors) {
  const names = new Set();
  const caseLines = cases.map(([name, inputText]) => {
    if (names.has(name)) throw new Error(`${file}: duplicate case name ${name}`);
    names.add(name);
    const canonical = canonicalize(read(inputText));
    const sha = createHash("sha256").update(canonical, "utf8").digest("hex");
    if (/[^\u0020-\u007e]/.test(inputText)) throw new Error(`${file}: ${name}: write input as ASCII JSON`);
    return `    {"name": ${lit(name)}, "input": ${inputText}, "canonical": ${lit(canonical)}, "sha256": "${sha}"}`;
  });
  const errorLines = errors.map(([name, kind, inputText, why]) => {
    if (names.has(name)) throw new Error(`${file}: duplicate case name ${name}`);
    names.add(name);
    let got = null;
    try {
      canonicalize(read(inputText));
    } catch (e) {
      if (!(e instanceof Rejected)) throw e;
      got = e.kind;
    }
    if (got !== kind) throw new Error(`${file}: ${name}: expected rejection ${kind}, got ${got}`);
    return (
      `    {"name": ${lit(name)}, "kind": "${kind}", "input_json_text": ${lit(inputText)}, ` +
      `"error": ${lit(why)}}`
    );
  });
  const text =
    "{\n" +
    `  "description": ${lit(description)},\n` +
    '  "cases": [\n' +
    caseLines.join(",\n") +
    (caseLines.length ? "\n" : "") +
    "  ],\n" +
    '  "errors": [\n' +
    errorLines.join(",\n") +
    (errorLines.length ? "\n" : "") +
    "  ]\n}\n";
  JSON.parse(text); // the file itself must be JSON
  writeFileSync(join(OUT, file), text);
  console.log(`${file}: ${cases.length} cases, ${errors.length} errors`);
}

// ---- hand-written vectors --------------------------------------------------------------------

const C0 = Array.from({ length: 32 }, (_, n) => "\\u" + n.toString(16).padStart(4, "0")).join("");

writeFile(
  "keys.json",
  "Object keys sorted by UTF-16 code units (RFC 8785 3.2.3), not by code points or UTF-8 bytes; " +
    "nested objects sorted on their own; keys escaped like any string.",
  [
    ["ascii-upper-before-lower", '{"b": 1, "a": 2, "B": 3, "A": 4}'],
    ["ascii-digits-are-strings-not-numbers", '{"9": "nine", "10": "ten", "0": "zero", "-1": "minus"}'],
    ["empty-and-space-keys-first", '{"_": 1, "~": 2, " ": 3, "": 4, "!": 5}'],
    ["prefix-sorts-before-extension", '{"abc": 1, "ab": 2, "b": 3, "a\\u0000": 4, "a": 5}'],
    ["latin1-after-ascii", '{"z": 1, "\\u00e9": 2, "Z": 3, "\\u00c9": 4}'],
    [
      "mixed-planes",
      '{"\\u00e4": "a-umlaut", "\\n": "newline", "\\uff21": "fullwidth-A", "7": "seven", ' +
        '"\\ud834\\udd1e": "g-clef", "\\u0085": "nel", "\\u2603": "snowman"}',
    ],
    ["astral-before-private-use", '{"\\ue000": "U+E000", "\\ud83d\\ude00": "U+1F600"}'],
    [
      "astral-before-high-bmp",
      '{"\\ufffd": "U+FFFD", "\\ud800\\udc00": "U+10000", "\\uffff": "U+FFFF", "\\ufb33": "U+FB33"}',
    ],
    [
      "astral-among-astral",
      '{"\\ud83d\\ude01": 1, "\\ud83d\\ude00": 2, "\\udbff\\udfff": 3, "\\ud800\\udc00": 4}',
    ],
    ["astral-after-common-prefix", '{"x\\uffff": 1, "x\\ud83d\\ude00": 2, "x": 3}'],
    ["keys-needing-escapes", '{"\\\\": 1, "\\"": 2, "/": 3, "\\u001f": 4, "\\u007f": 5, "\\t": 6}'],
    ["nested-objects-sorted-independently", '{"b": {"d": 1, "c": 2}, "a": [{"z": 1, "y": {"q": 0, "p": 0}}]}'],
    ["escaped-and-literal-key-spellings-agree", '{"\\u0062": 1, "\\u0041": 2}'],
  ],
  [
    ["lone-surrogate-key", "lone_surrogate", '{"\\udfff": 1}', "a key holding a lone surrogate has no UTF-8 form"],
  ],
);

writeFile(
  "strings.json",
  'String serialisation (RFC 8785 3.2.2.2): only `"` and `\\` and U+0000..U+001F are escaped; ' +
    "\\b \\t \\n \\f \\r use their short forms, other controls \\u00XX in lowercase hex; `/`, DEL, C1 " +
    "controls, U+2028/U+2029 and all non-ASCII are written as literal UTF-8; no Unicode normalisation.",
  [
    ["empty", '""'],
    ["all-c0-controls", `"${C0}"`],
    ["short-escapes", '"\\b\\t\\n\\f\\r"'],
    ["quote-and-backslash", '"say \\"hi\\" \\\\ bye"'],
    ["solidus-not-escaped", '"a/b</script>"'],
    ["escaped-solidus-input", '"\\/"'],
    ["del-literal", '"\\u007f"'],
    ["c1-controls-literal", '"\\u0080\\u0085\\u009f"'],
    ["line-and-paragraph-separators-literal", '"\\u2028\\u2029"'],
    ["non-ascii-literal", '"caf\\u00e9 \\u20ac \\u4e2d\\u6587"'],
    ["surrogate-pair-becomes-one-character", '"\\ud83d\\ude00"'],
    ["bom-and-noncharacter", '"\\ufeff\\uffff"'],
    ["unicode-escapes-decoded", '"\\u0041\\u0062\\u0063"'],
    ["uppercase-hex-escape-input", '"\\u00E9\\u001F"'],
    ["no-unicode-normalisation", '["e\\u0301", "\\u00e9"]'],
    ["controls-between-text", '"a\\u0000b\\u000bc\\u001ad"'],
  ],
  [
    ["lone-high-surrogate", "lone_surrogate", '"\\ud800"', "U+D800 alone is not a Unicode scalar value"],
    ["lone-low-surrogate", "lone_surrogate", '"\\udc00"', "U+DC00 alone is not a Unicode scalar value"],
    ["reversed-pair", "lone_surrogate", '"\\ude00\\ud83d"', "a low surrogate before a high one is two lone surrogates"],
    ["high-surrogate-at-end", "lone_surrogate", '"abc\\ud83d"', "a high surrogate with nothing after it"],
    ["high-surrogate-then-letter", "lone_surrogate", '"\\ud83dA"', "a high surrogate not followed by a low one"],
    ["lone-surrogate-in-array", "lone_surrogate", '["ok", "\\udbff"]', "lone surrogates are refused wherever they occur"],
  ],
);

writeFile(
  "numbers.json",
  "Numbers are IEEE 754 doubles written as ECMAScript's Number.prototype.toString writes them " +
    "(RFC 8785 3.2.2.3): shortest round-trip digits, no exponent for 1e-6 <= |x| < 1e21, -0 as 0. " +
    "An integer token beyond +-(2**53 - 1) is accepted only when it is exactly how ECMAScript writes a " +
    "double; NaN and infinities are not JSON.",
  [
    ["zero", "0"],
    ["negative-zero-integer", "-0"],
    ["negative-zero-float", "-0.0"],
    ["one-point-zero", "1.0"],
    ["trailing-fraction-zeros", "2.50000"],
    ["uppercase-exponent", "1E2"],
    ["explicit-plus-exponent", "1e+2"],
    ["fraction-times-exponent", "0.1e1"],
    ["negative-integer", "-1"],
    ["negative-fraction", "-1.5"],
    ["one-tenth", "0.1"],
    ["point-one-plus-point-two", "0.30000000000000004"],
    ["point-three", "0.3"],
    ["shortest-repr-rounds-input", "333333333.33333329"],
    ["four-point-three-five", "4.35"],
    ["one-e-16", "1e16"],
    ["one-e-20-written-out", "1e20"],
    ["largest-double-below-1e21", "9.999999999999999e20"],
    ["one-e-21-switches-to-exponent", "1e21"],
    ["one-e-23", "1e23"],
    ["big-double-from-long-fraction-token", "12345678901234567890.0"],
    ["one-e-minus-6-stays-decimal", "1e-6"],
    ["one-e-minus-6-decimal-input", "0.000001"],
    ["negative-one-e-minus-6", "-0.000001"],
    ["one-point-five-e-minus-6", "1.5e-6"],
    ["one-e-minus-7-switches-to-exponent", "1e-7"],
    ["one-e-minus-7-decimal-input", "0.0000001"],
    ["negative-one-e-minus-7", "-1e-7"],
    ["exponent-with-fraction-below-1e-6", "1.2345e-7"],
    ["half-of-1e-6", "0.5e-6"],
    ["exact-tie-rounds-to-even-down", "2.98023223876953125e-8"],
    ["exact-tie-rounds-to-even-up", "1.78813934326171875e-7"],
    ["power-of-two-only-upper-candidate-round-trips", "5.9604644775390625e-8"],
    ["power-of-two-closer-candidate-does-not-round-trip", "7.1202363472230444e-307"],
    ["smallest-subnormal", "5e-324"],
    ["smallest-subnormal-negative", "-5e-324"],
    ["smallest-subnormal-other-spelling", "4.9e-324"],
    ["smallest-normal", "2.2250738585072014e-308"],
    ["largest-double", "1.7976931348623157e308"],
    ["largest-double-negative", "-1.7976931348623157e+308"],
    ["max-safe-integer", "9007199254740991"],
    ["min-safe-integer", "-9007199254740991"],
    ["two-to-53-integer-token-is-exact", "9007199254740992"],
    ["negative-two-to-53-integer-token-is-exact", "-9007199254740992"],
    ["two-to-53-plus-one-as-fraction-rounds", "9007199254740993.0"],
    ["large-integer-token-exact-form", "100000000000000000000"],
    ["two-to-68-exact-form", "295147905179352830000"],
    ["two-to-68-exponent-input", "2.9514790517935283e20"],
    ["numbers-in-array", "[1.0, -0.0, 1e21, 1e-7, 0.000001, 100]"],
  ],
  [
    ["nan", "not_json", "NaN", "NaN is not a JSON number"],
    ["infinity", "not_json", "Infinity", "Infinity is not a JSON number"],
    ["negative-infinity", "not_json", "-Infinity", "-Infinity is not a JSON number"],
    ["overflow-to-infinity", "number_overflow", "1e400", "rounds to infinity, which JSON cannot carry"],
    ["negative-overflow-to-infinity", "number_overflow", "-1e400", "rounds to -infinity"],
    ["two-to-53-plus-one", "inexact_integer", "9007199254740993", "no double equals 2**53 + 1"],
    ["minus-two-to-53-plus-one", "inexact_integer", "-9007199254740993", "no double equals -(2**53 + 1)"],
    ["two-to-64", "inexact_integer", "18446744073709551616", "ECMAScript writes this double as 18446744073709552000"],
    ["ten-to-21-integer-token", "inexact_integer", "1000000000000000000000", "ECMAScript writes this double as 1e+21"],
    ["thirty-digit-integer", "inexact_integer", "123456789012345678901234567890", "far beyond exact doubles"],
    ["nested-inexact-integer", "inexact_integer", '{"id": [1, 9007199254740993]}', "refused wherever it occurs"],
    ["nested-nan", "not_json", '{"x": NaN}', "refused wherever it occurs"],
  ],
);

writeFile(
  "structures.json",
  "Literals, arrays (order kept), objects, nesting and whitespace: no insignificant whitespace in the output.",
  [
    ["true", "true"],
    ["false", "false"],
    ["null", "null"],
    ["empty-object", "{}"],
    ["empty-array", "[]"],
    ["nested-empty-arrays", "[[[]], [], {}]"],
    ["array-order-kept", "[3, 1, 2, 1]"],
    ["mixed-array", '[null, true, false, 0, "", {}, [], 0.5]'],
    ["whitespace-dropped", '{ "a" : [ 1 , 2 ] ,  "b" : { } , "c":   null }'],
    ["top-level-string", '"hello"'],
    ["top-level-number", "42"],
    ["deep-nesting", '{"a": '.repeat(40) + "1" + "}".repeat(40)],
    ["deep-array-nesting", "[".repeat(40) + '"x"' + "]".repeat(40)],
    [
      "request-like",
      '{"stage": "pre_tool", "agent": {"id": "did:key:z6MkExample", "roles": ["ops"]}, ' +
        '"args": {"to": "a@example.com", "amount": 12.50, "retries": 3, "tags": []}, ' +
        '"action": {"type": "send_email", "tool": "mail.send"}, "context": {"ticket": null}}',
    ],
    ["literals-as-values", '{"n": null, "t": true, "f": false}'],
  ],
  [
    ["duplicate-key", "duplicate_key", '{"a": 1, "a": 2}', "an object with a repeated key has no single meaning"],
    ["duplicate-key-same-value", "duplicate_key", '{"a": 1, "a": 1}', "refused even when the values agree"],
    ["duplicate-key-nested", "duplicate_key", '{"x": [{"k": 1, "k": 2}]}', "refused wherever it occurs"],
    ["duplicate-key-by-escape", "duplicate_key", '{"a": 1, "\\u0061": 2}', "keys compare after unescaping"],
  ],
);

// ---- generated vectors -----------------------------------------------------------------------

// mulberry32: a small seeded PRNG, so the generated files are reproducible.
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

{
  const rnd = prng(8785);
  const int = (n) => Math.floor(rnd() * n);
  const dv = new DataView(new ArrayBuffer(8));
  const cases = [];
  // Any finite double, from random bits, spelled in exponent form.
  while (cases.length < 300) {
    dv.setUint32(0, int(2 ** 32));
    dv.setUint32(4, int(2 ** 32));
    const x = dv.getFloat64(0);
    if (!Number.isFinite(x)) continue;
    cases.push([`bits-${cases.length}`, x.toExponential()]);
  }
  // Magnitudes around the decimal/exponent switches, with 1 to 17 significant digits.
  for (let k = 0; k < 300; k++) {
    const x = (rnd() < 0.5 ? -1 : 1) * 10 ** (-9 + rnd() * 32);
    const text = x.toPrecision(1 + int(17));
    cases.push([`decimal-${k}`, text.replace("e+", "E+")]);
  }
  // Safe integers, many near the edge of the safe range.
  for (let k = 0; k < 100; k++) {
    const x = k % 2 ? int(2 ** 30) * 2 ** 23 + int(2 ** 23) : MAX_SAFE - int(1000);
    cases.push([`safe-integer-${k}`, String(k % 3 ? x : -x)]);
  }
  // Integral doubles beyond 2**53, spelled as a fraction token and as their exact integer form.
  for (let k = 0; k < 100; k++) {
    const x = 2 ** (53 + rnd() * 16.8) * (1 + rnd());
    const y = Math.round(x);
    cases.push([k % 2 ? `big-integer-token-${k}` : `big-fraction-token-${k}`, k % 2 ? JSON.stringify(y) : y.toFixed(1)]);
  }
  writeFile(
    "numbers_random.json",
    "Generated numbers (seeded, see generate.mjs): random doubles from random bits in exponent form; " +
      "decimals of 1-17 digits across 1e-9..1e23, where the output switches between decimal and " +
      "exponent form; safe integers; integral doubles beyond 2**53.",
    cases,
    [],
  );
}

{
  const rnd = prng(4627);
  const int = (n) => Math.floor(rnd() * n);
  // Key and string material chosen so that UTF-16, code point and UTF-8 orders disagree.
  const alphabet = [
    "a", "b", "A", "Z", "_", "0", "9", " ", "aa", "\u00e9", "\u00ff", "\u20ac", "\u2028", "\ue000",
    "\ufb33", "\uffff", "\ufffd", "\ud800\udc00", "\ud83d\ude00", "\udbff\udfff", "\u0000", "\u001f",
    '"', "\\", "/", "\u007f", "\u0085",
  ];
  const str = () => Array.from({ length: int(4) }, () => alphabet[int(alphabet.length)]).join("");
  const dv = new DataView(new ArrayBuffer(8));
  function val(depth) {
    const r = int(depth > 2 ? 6 : 8);
    if (r === 0) return "null";
    if (r === 1) return rnd() < 0.5 ? "true" : "false";
    if (r === 2) return String(int(2 ** 31) - 2 ** 30);
    if (r === 3) {
      for (;;) {
        dv.setUint32(0, int(2 ** 32));
        dv.setUint32(4, int(2 ** 32));
        const x = dv.getFloat64(0);
        if (Number.isFinite(x)) return String(rnd() < 0.5 ? x : x / 2 ** 900);
      }
    }
    if (r === 4 || r === 5) return lit(str());
    if (r === 6) return "[" + Array.from({ length: int(4) }, () => val(depth + 1)).join(", ") + "]";
    return obj(depth + 1);
  }
  function obj(depth) {
    const keys = new Set();
    const n = int(7);
    while (keys.size < n) keys.add(str());
    return "{" + [...keys].map((k) => `${lit(k)}: ${val(depth)}`).join(", ") + "}";
  }
  const cases = [];
  for (let k = 0; k < 150; k++) cases.push([`object-${k}`, obj(0)]);
  writeFile(
    "objects_random.json",
    "Generated objects (seeded, see generate.mjs) with keys drawn from ASCII, Latin-1, BMP above the " +
      "surrogates, and the astral planes, so that UTF-16 order differs from code point order; " +
      "nested arrays and objects; random doubles, integers, strings and literals as values.",
    cases,
    [],
  );
}
