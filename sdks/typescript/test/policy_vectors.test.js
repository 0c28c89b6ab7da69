"use strict";
// Every policy vector file in conformance/policy, unchanged, through the engine compiled to WebAssembly.
const test = require("node:test");
const assert = require("node:assert/strict");
const { basename } = require("node:path");
const { PolicySet, PolicyError } = require("../dist/index.js");
const { vectorFiles, readVectors, plain, writeJson, table } = require("./_vectors.js");

function refs(pairs, want) {
  return pairs.map(([policy, rule], i) => {
    const qualified = !Array.isArray(want) || want[i] === undefined || String(want[i]).includes("/");
    return qualified ? `${policy}/${rule}` : rule;
  });
}

function differences(d, expect) {
  const problems = [];
  const check = (key, got) => {
    if (key in expect && !isDeepStrictEqual(expect[key], got)) {
      problems.push(`${key}: expected ${JSON.stringify(expect[key])}, got ${JSON.stringify(got)}`);
    }
  };
  check("effect", d.effect);
  check("allowed", d.allowed);
  check("rule", d.rule);
  check("policy", d.policy);
  check("matched", refs(d.matched.map((m) => [m.policy, m.rule]), expect.matched));
  check("errored", refs(d.matched.filter((m) => m.errored).map((m) => [m.policy, m.rule]), expect.errored));
  check(
    "error_rules",
    refs(d.errors.filter((e) => e.rule !== null).map((e) => [e.policy, e.rule]), expect.error_rules),
  );
  check("error_count", d.errors.length);
  check("rate_limited", d.rate_limited);
  check("approvers", [...d.approvers]);
  check("conflict_strategy", d.conflict_strategy);
  check("stage", d.stage);
  const messages = d.errors.map((e) => e.message.toLowerCase());
  for (const phrase of expect.errors_contain ?? []) {
    if (!messages.some((m) => m.includes(phrase.toLowerCase()))) {
      problems.push(`errors_contain: no error mentions ${JSON.stringify(phrase)}: ${JSON.stringify(messages)}`);
    }
  }
  if (expect.message_contains !== undefined && !d.message.toLowerCase().includes(expect.message_contains.toLowerCase())) {
    problems.push(`message_contains: ${JSON.stringify(expect.message_contains)} not in ${JSON.stringify(d.message)}`);
  }
  return problems;
}

function invariants(d) {
  const problems = [];
  if (d.allowed !== ["allow", "warn", "log"].includes(d.effect)) problems.push("invariant: allowed disagrees with effect");
  if (d.rate_limited && d.effect !== "deny") problems.push("invariant: a rate-limited decision must deny");
  if (d.approvers.length > 0 && d.effect !== "require_approval") problems.push("invariant: approvers without require_approval");
  for (const m of d.matched) {
    if (m.errored && !["deny", "require_approval"].includes(m.action)) {
      problems.push(`invariant: permissive rule ${m.rule} matched by an error`);
    }
  }
  const pairs = d.matched.map((m) => `${m.policy}/${m.rule}`);
  if (new Set(pairs).size !== pairs.length) problems.push("invariant: a rule is listed twice in matched");
  if (d.rule !== null && !pairs.includes(`${d.policy}/${d.rule}`)) problems.push("invariant: deciding rule not matched");
  return problems;
}

const { isDeepStrictEqual } = require("node:util");

function runDecisions(c) {
  const set = PolicySet.fromJson(writeJson(c.policies));
  const problems = [];
  if (c.expect_warnings !== undefined) {
    const want = plain(c.expect_warnings);
    if (set.warnings.length !== want.length || want.some((w, i) => !set.warnings[i].toLowerCase().includes(w.toLowerCase()))) {
      problems.push(`warnings: expected ${JSON.stringify(want)}, got ${JSON.stringify(set.warnings)}`);
    }
  }
  let now = 0;
  c.steps.forEach((step, i) => {
    if (step.at !== undefined) now = plain(step.at);
    const requestJson = writeJson(step.request);
    const decision = set.decideJson(requestJson, now);
    const found = [...differences(decision, plain(step.expect)), ...invariants(decision)];
    if (found.length > 0) problems.push(`step ${i}: ${requestJson}\n    ${found.join("\n    ")}`);
  });
  return problems;
}

function runLoadError(c) {
  const expect = plain(c.expect_load_error);
  let error;
  try {
    PolicySet.fromJson(writeJson(c.policies));
  } catch (e) {
    error = e;
  }
  if (error === undefined) return ["compiled, but a load error was expected"];
  if (!(error instanceof PolicyError)) return [`expected a PolicyError, got ${error}`];
  const problems = [];
  if ("path" in expect && expect.path !== error.path) problems.push(`path: expected ${expect.path}, got ${error.path} (${error.message})`);
  if (expect.contains !== undefined) {
    const phrase = expect.contains.toLowerCase();
    if (!error.reason.toLowerCase().includes(phrase) && !(error.policy ?? "").toLowerCase().includes(phrase)) {
      problems.push(`${JSON.stringify(expect.contains)} not in ${JSON.stringify(error.reason)}`);
    }
  }
  return problems;
}

// Cases this SDK does not pass yet, and why. Each must still fail: one that starts passing fails
// the run, so this list only ever shrinks.
const KNOWN_GAPS = {};

const files = vectorFiles("policy").filter((f) => basename(f) !== "hashes.json");

const known = [];
process.on("exit", () => {
  if (known.length > 0) process.stdout.write(`${known.map((k) => `# known gap: ${k}`).join("\n")}\n`);
});

test("the policy vectors are there", () => {
  assert.ok(files.length >= 10, `expected the conformance vectors, found ${files.length} files`);
});

for (const file of files) {
  test(`policy vectors: ${basename(file)}`, () => {
    const doc = readVectors(file);
    const failures = [];
    for (const c of doc.cases) {
      let problems;
      try {
        problems = "expect_load_error" in c ? runLoadError(c) : runDecisions(c);
      } catch (e) {
        problems = [`threw ${e && e.stack}`];
      }
      const gap = KNOWN_GAPS[`${basename(file)}::${c.name}`];
      if (gap !== undefined && problems.length === 0) failures.push(`${c.name}: passes now; remove it from KNOWN_GAPS`);
      else if (gap !== undefined) known.push(`${basename(file)}::${c.name} (${gap})`);
      else if (problems.length > 0) failures.push(`${c.name}\n  ${problems.join("\n  ")}`);
    }
    const failed = failures.length + known.filter((k) => k.startsWith(`${basename(file)}::`)).length;
    table.push(`policy/${basename(file)}: ${doc.cases.length - failed}/${doc.cases.length}`);
    assert.equal(failures.length, 0, `${failures.length} of ${doc.cases.length} cases failed:\n${failures.join("\n")}`);
  });
}

test("policy vectors: hashes.json (policy and policy-set hashes)", () => {
  const { contentHash } = require("../dist/index.js");
  const doc = readVectors(files.length ? require("node:path").join(require("node:path").dirname(files[0]), "hashes.json") : "");
  let passed = 0;
  for (const c of doc.cases) {
    const set = PolicySet.fromJson(writeJson(c.policies));
    const expect = c.expect;
    expect.policies.forEach((want, i) => {
      assert.equal(set.policyNames[i], want.name, c.name);
      assert.equal(set.policyHashes[want.name], want.hash, `${c.name}: policy hash`);
      // the pinned resolved document hashes to the pinned hash through the engine's canonical JSON
      assert.equal(contentHash(writeJson(want.resolved), { text: true }), want.hash, `${c.name}: resolved document`);
    });
    assert.equal(set.hash, expect.set_hash, `${c.name}: set hash`);
    passed += 1;
  }
  table.push(`policy/hashes.json: ${passed}/${doc.cases.length}`);
});

// The same vectors through the engine's YAML loader: each policy one `---` document in JSON's flow
// style (which YAML 1.2 reads). Load errors must be refused with the vector's path and phrase;
// every decision case must load to the set the JSON path compiles (same set hash), with the
// load warnings the case expects.
for (const file of files) {
  test(`policy vectors through YAML: ${basename(file)}`, () => {
    const doc = readVectors(file);
    const failures = [];
    for (const c of doc.cases) {
      const yaml = c.policies.map((p) => `---\n${writeJson(p)}\n`).join("");
      let loaded;
      let error;
      try {
        loaded = PolicySet.fromYaml(yaml);
      } catch (e) {
        error = e;
      }
      if ("expect_load_error" in c) {
        const expect = plain(c.expect_load_error);
        if (error === undefined) failures.push(`${c.name}: loaded, but a load error was expected`);
        else if (!(error instanceof PolicyError)) failures.push(`${c.name}: ${error}`);
        else if ("path" in expect && expect.path !== error.path) failures.push(`${c.name}: path ${error.path}, expected ${expect.path}`);
        else if (expect.contains !== undefined && !error.reason.toLowerCase().includes(expect.contains.toLowerCase()) && !(error.policy ?? "").toLowerCase().includes(expect.contains.toLowerCase())) {
          failures.push(`${c.name}: ${JSON.stringify(expect.contains)} not in ${JSON.stringify(error.reason)}`);
        }
      } else if (error !== undefined) {
        failures.push(`${c.name}: ${error}`);
      } else if (loaded.hash !== PolicySet.fromJson(writeJson(c.policies)).hash) {
        failures.push(`${c.name}: the YAML path compiled another set`);
      } else if (c.expect_warnings !== undefined) {
        const want = plain(c.expect_warnings);
        if (loaded.warnings.length !== want.length || want.some((w, i) => !loaded.warnings[i].toLowerCase().includes(w.toLowerCase()))) {
          failures.push(`${c.name}: warnings ${JSON.stringify(loaded.warnings)}, expected ${JSON.stringify(want)}`);
        }
      }
    }
    table.push(`policy/${basename(file)} through YAML: ${doc.cases.length - failures.length}/${doc.cases.length}`);
    assert.equal(failures.length, 0, failures.join("\n"));
  });
}

test("a YAML policy file: the seed policy loads, and errors carry file, line and column", () => {
  const { join } = require("node:path");
  const { CONFORMANCE } = require("./_vectors.js");
  const seed = PolicySet.load(join(CONFORMANCE, "seed-policy.yaml"));
  assert.deepEqual(seed.policyNames, ["production-policy"]);
  assert.throws(
    () => PolicySet.fromYaml("apiVersion: governance.toolkit/v1\nname: p\nrules:\n  - name: r\n    condition: \"lookup(args.x)\"\n    action: deny\n", "p.yaml"),
    (e) => e instanceof PolicyError && e.file === "p.yaml" && e.line === 5 && e.path === "rules[0].condition" && /unknown function/.test(e.message),
  );
  assert.throws(
    () => PolicySet.fromYaml("apiVersion: governance.toolkit/v1\nname: p\nextends: [base.yaml]\nrules: []\n"),
    (e) => e instanceof PolicyError && /extends/.test(e.message),
  );
  assert.throws(() => PolicySet.load("/nonexistent/policy.yaml"), (e) => e instanceof PolicyError && e.file === "/nonexistent/policy.yaml");
});
