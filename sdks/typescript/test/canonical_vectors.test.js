"use strict";
// Every canonical JSON vector file in conformance/canonical_json, through the engine's RFC 8785 writer.
const test = require("node:test");
const assert = require("node:assert/strict");
const { createHash } = require("node:crypto");
const { basename } = require("node:path");
const { canonicalJson, contentHash, CanonicalJSONError } = require("../dist/index.js");
const { vectorFiles, readVectors, writeJson, table } = require("./_vectors.js");

const files = vectorFiles("canonical_json");

test("the canonical JSON vectors are there", () => {
  assert.ok(files.length >= 6, `expected the canonical JSON vectors, found ${files.length} files`);
});

for (const file of files) {
  test(`canonical JSON vectors: ${basename(file)}`, () => {
    const doc = readVectors(file);
    const failures = [];
    for (const c of doc.cases) {
      try {
        // `input` goes to the engine as written (1.0, 1E2, -0.0 ...): the reader kept the tokens
        const got = canonicalJson(writeJson(c.input), { text: true });
        const sha = createHash("sha256").update(got, "utf8").digest("hex");
        if (got !== c.canonical) failures.push(`${c.name}: expected ${JSON.stringify(c.canonical)}, got ${JSON.stringify(got)}`);
        else if (sha !== c.sha256) failures.push(`${c.name}: sha256 ${sha}, expected ${c.sha256}`);
        else if (contentHash(writeJson(c.input), { text: true }) !== `sha256:${c.sha256}`) failures.push(`${c.name}: engine hash differs`);
      } catch (e) {
        failures.push(`${c.name}: threw ${e}`);
      }
    }
    for (const e of doc.errors ?? []) {
      try {
        const got = canonicalJson(e.input_json_text, { text: true });
        failures.push(`${e.name} (${e.kind}): expected a refusal, got ${JSON.stringify(got)}`);
      } catch (err) {
        if (!(err instanceof CanonicalJSONError)) failures.push(`${e.name}: expected CanonicalJSONError, got ${err}`);
      }
    }
    const total = doc.cases.length + (doc.errors ?? []).length;
    table.push(`canonical_json/${basename(file)}: ${total - failures.length}/${total}`);
    assert.equal(failures.length, 0, failures.join("\n"));
  });
}

test("JS data canonicalises as its JSON does: ints and doubles alike, keys in UTF-16 order", () => {
  assert.equal(canonicalJson({ b: 1, a: [1.5, 1e21, 0.000001, -0], "\u{1f600}": true, "\ue000": null }), '{"a":[1.5,1e+21,0.000001,0],"b":1,"\u{1f600}":true,"\ue000":null}');
  assert.throws(() => canonicalJson({ x: NaN }), CanonicalJSONError);
  assert.throws(() => canonicalJson({ x: "\ud800" }), CanonicalJSONError);
  assert.throws(() => canonicalJson(new Date(0)), CanonicalJSONError);
});
