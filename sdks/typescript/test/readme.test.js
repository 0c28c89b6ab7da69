"use strict";
// The README's example runs as written: its policy.yaml block in a temp folder, its last js block
// as a script there, with `@agt/governance` installed from this package's npm tarball (so the
// published file list is tested too).
const test = require("node:test");
const assert = require("node:assert/strict");
const { execFileSync } = require("node:child_process");
const { mkdtempSync, readFileSync, writeFileSync, rmSync } = require("node:fs");
const { tmpdir } = require("node:os");
const { join } = require("node:path");

const PACKAGE = join(__dirname, "..");

function blocks(markdown, lang) {
  return [...markdown.matchAll(new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]);
}

test("the README example runs and prints what its comments say", () => {
  const readme = readFileSync(join(PACKAGE, "README.md"), "utf8");
  const [policy] = blocks(readme, "yaml");
  const scripts = blocks(readme, "js");
  const dir = mkdtempSync(join(tmpdir(), "agt-ts-readme-"));
  try {
    writeFileSync(join(dir, "policy.yaml"), policy);
    const npm = process.platform === "win32" ? "npm.cmd" : "npm";
    const tarball = execFileSync(npm, ["pack", "--silent", "--pack-destination", dir], { cwd: PACKAGE, encoding: "utf8" }).trim();
    writeFileSync(join(dir, "package.json"), '{"name": "readme-example", "private": true}');
    execFileSync(npm, ["install", "--offline", "--no-audit", "--no-fund", "--silent", join(dir, tarball)], { cwd: dir });
    // the two-line setup: it must at least load and wrap
    writeFileSync(join(dir, "two_lines.js"), `function query() {}\n${scripts[0]}\nconsole.log(typeof safeQuery);\n`);
    assert.equal(execFileSync(process.execPath, ["two_lines.js"], { cwd: dir, encoding: "utf8" }).trim(), "function");
    const example = scripts[scripts.length - 1];
    writeFileSync(join(dir, "example.js"), example);
    const out = execFileSync(process.execPath, ["example.js"], { cwd: dir, encoding: "utf8" }).trim().split("\n");
    const expected = [...example.matchAll(/console\.log\(.*\); \/\/ (.*)$/gm)].map((m) => m[1]);
    assert.deepEqual(out, expected);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
