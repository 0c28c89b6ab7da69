"use strict";
// The trail tool of the cross-language audit test: write the cross calls, verify against the
// printed head and count, and refuse a tampered, truncated or extended copy.
const test = require("node:test");
const assert = require("node:assert/strict");
const { spawnSync } = require("node:child_process");
const { existsSync, mkdtempSync, readFileSync, writeFileSync, rmSync } = require("node:fs");
const { tmpdir } = require("node:os");
const { join } = require("node:path");
const { CONFORMANCE } = require("./_vectors.js");

const TOOL = join(__dirname, "..", "dist", "trail.js");
const POLICY = join(CONFORMANCE, "seed-policy.yaml");
const CALLS = join(CONFORMANCE, "audit", "cross_calls.json");

function run(...args) {
  return spawnSync(process.execPath, [TOOL, ...args], { encoding: "utf8" });
}

test("trail tool: write, verify, and refuse every altered copy", { skip: !existsSync(CALLS) && "conformance/audit/cross_calls.json is not in this checkout" }, () => {
  const dir = mkdtempSync(join(tmpdir(), "agt-ts-trail-"));
  try {
    const out = join(dir, "trail.jsonl");
    const written = run("write", POLICY, out, CALLS);
    assert.equal(written.status, 0, written.stderr);
    const { head, count } = JSON.parse(written.stdout);
    const calls = JSON.parse(readFileSync(CALLS, "utf8")).calls;
    assert.equal(count, calls.length);
    const lines = readFileSync(out, "utf8").trimEnd().split("\n");
    assert.deepEqual(lines.map((l) => JSON.parse(l).decision.effect), calls.map((c) => c.expect));
    assert.equal(run("verify", out, "--head", head, "--count", String(count)).status, 0);
    const altered = {
      "effect edited": lines.map((l, i) => (i === 1 ? l.replace('"effect":"deny"', '"effect":"allow"') : l)),
      "record removed": [lines[0], ...lines.slice(2)],
      "last record cut": lines.slice(0, -1),
      "record added": [...lines, lines[lines.length - 1]],
    };
    for (const [name, trail] of Object.entries(altered)) {
      const file = join(dir, `${name}.jsonl`);
      writeFileSync(file, `${trail.join("\n")}\n`);
      const verified = run("verify", file, "--head", head, "--count", String(count));
      assert.equal(verified.status, 1, `${name} must not verify`);
      assert.match(verified.stderr, /does not verify/);
    }
    assert.equal(run("verify", out, "--head", head).status, 2, "usage: --count is required");
    assert.equal(run("frobnicate").status, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
