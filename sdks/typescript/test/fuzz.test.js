"use strict";
// Random arguments through a governed function: every call either runs or throws GovernanceDenied
// (never another error, never a crash), every call is audited, and the trail verifies. Seeded, so
// a failure reproduces; AGT_FUZZ_CALLS raises the count for a longer campaign.
const test = require("node:test");
const assert = require("node:assert/strict");
const { govern, GovernanceDenied, verifyAuditLines } = require("../dist/index.js");

function rng(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STRINGS = ["read", "drop", "DROP", "ｄｒｏｐ", "dr\u200bop", "", " ", "\ud800", "\udfff\ud800", "a".repeat(5000), "'; DROP TABLE x; --", "send_email", "\u0000", "😀"];
const NUMBERS = [0, -0, 1, -1, 1.5, 2 ** 53, 2 ** 53 + 2, -(2 ** 63), 1e308, 5e-324, NaN, Infinity, -Infinity, 1000, 1000.5];

function value(next, depth) {
  const pick = (list) => list[Math.floor(next() * list.length)];
  const r = next();
  if (depth > 3 || r < 0.3) return pick(STRINGS);
  if (r < 0.5) return pick(NUMBERS);
  if (r < 0.55) return pick([null, true, false, undefined]);
  if (r < 0.6) return pick([10n, 2n ** 64n, Symbol("s"), () => 1, new Date(0), new Map(), Object.create(null), [1, , 3]]);
  if (r < 0.8) return Array.from({ length: Math.floor(next() * 4) }, () => value(next, depth + 1));
  const obj = {};
  for (let i = 0; i < Math.floor(next() * 4); i++) obj[pick(["action", "table", "amount", "to", "x", "__proto__", "constructor"])] = value(next, depth + 1);
  return obj;
}

const policy = {
  apiVersion: "governance.toolkit/v1",
  name: "fuzz",
  default_action: "allow",
  rules: [
    { name: "no-drop", condition: "action.type in ['drop', 'delete']", action: "deny" },
    { name: "cap", condition: "args.amount > 100", action: "deny" },
    { name: "mail", condition: "action.type == 'send_email' && args.to.endsWith('@example.com')", action: "require_approval" },
    { name: "tables", condition: "has(args.table) && args.table.size() > 3", action: "warn", limit: "1000/second" },
  ],
};

test("random arguments: run or GovernanceDenied, always audited, trail verifies", () => {
  const calls = Number(process.env.AGT_FUZZ_CALLS ?? 1500);
  const next = rng(0x5eed);
  let ran = 0;
  let denied = 0;
  const tool = govern((named) => { ran += 1; return named; }, { policy, toolName: "sql", clock: () => 0, approval: (r) => r.approve("fuzz") });
  for (let i = 0; i < calls; i++) {
    const args = value(next, 0);
    try {
      tool(args);
    } catch (e) {
      if (!(e instanceof GovernanceDenied)) assert.fail(`call ${i} threw ${e && e.stack}`);
      denied += 1;
    }
  }
  assert.equal(ran + denied, calls);
  assert.ok(ran > 0 && denied > 0, `both outcomes happen (ran ${ran}, denied ${denied})`);
  const log = tool.auditLog;
  assert.equal(log.count, calls);
  assert.equal(verifyAuditLines(log.lines(), { expectedHead: log.head, expectedCount: calls }).count, calls);
});
