"use strict";
// A trap in the engine (a Rust panic) never lets a call through: it is an EngineError, and from
// then on every governed call in the process is refused. Its own file: the trap fails the engine
// for the rest of this process, as it must.
const test = require("node:test");
const assert = require("node:assert/strict");
const { govern, EngineError, GovernanceDenied, AuditWriteError } = require("../dist/index.js");
const { panicForTests } = require("../dist/_engine.js");

test("a panic becomes EngineError with its message, and every later call is refused", () => {
  let ran = 0;
  const policy = { apiVersion: "governance.toolkit/v1", name: "p", default_action: "allow", rules: [] };
  const tool = govern(() => { ran += 1; }, { policy, toolName: "t", audit: null });
  tool();
  assert.equal(ran, 1);
  assert.throws(() => panicForTests("boom"), (e) => e instanceof EngineError && /boom/.test(e.message));
  assert.throws(() => tool(), (e) => e instanceof GovernanceDenied && e.decision.refused_by === "kernel:evaluator" && /failed earlier/.test(e.message));
  const audited = govern(() => { ran += 1; }, { policy: tool.policySet, toolName: "t" });
  // the refusal cannot even be hashed now: the call still does not run
  assert.throws(() => audited(), (e) => e instanceof AuditWriteError || e instanceof GovernanceDenied);
  assert.equal(ran, 1);
});
