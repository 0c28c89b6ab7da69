"use strict";
// The govern wrapper: what runs, what is refused, approvals, rate limits, audit, and the attacks on each.
const test = require("node:test");
const assert = require("node:assert/strict");
const agt = require("../dist/index.js");
const { govern, governAsync, PolicySet, AuditLog, GovernanceDenied, ApprovalError, ApprovalPending, ApprovalResponse, AuditWriteError, AuditIntegrityError, PolicyError, verifyAuditLines } = agt;

const SEED = {
  apiVersion: "governance.toolkit/v1",
  name: "production-policy",
  rules: [
    { name: "allow-read", condition: "action.type == 'read'", action: "allow" },
    { name: "block-destructive", condition: "action.type in ['drop', 'delete', 'truncate']", action: "deny", message: "destructive SQL is blocked" },
    { name: "email-approval", condition: "action.type == 'send_email'", action: "require_approval", approvers: ["security-team"] },
  ],
};

function sql({ action, table }) {
  return `${action} ${table}`;
}

test("an allowed call runs with the judged arguments; a denied one throws a typed error and does not run", () => {
  let ran = 0;
  const tool = govern((named) => { ran += 1; return sql(named); }, { policy: SEED, toolName: "sql" });
  assert.equal(tool({ action: "read", table: "users" }), "read users");
  assert.throws(
    () => tool({ action: "drop", table: "users" }),
    (e) => e instanceof GovernanceDenied && e.decision.rule === "block-destructive" && e.decision.effect === "deny" && /destructive SQL/.test(e.message),
  );
  assert.equal(ran, 1);
  // no default_action means deny
  assert.throws(() => tool({ action: "update", table: "users" }), (e) => e instanceof GovernanceDenied && e.decision.rule === null && e.decision.policy === "production-policy");
  assert.equal(ran, 1);
  assert.equal(tool.auditLog.count, 3);
});

test("action names are normalised: full-width, upper-case and zero-width spellings of drop are drop", () => {
  const tool = govern(sql, { policy: SEED });
  for (const spelling of ["DROP", " drop ", "ｄｒｏｐ", "dr\u200bop", "Drop\u2060"]) {
    assert.throws(() => tool({ action: spelling, table: "t" }), (e) => e instanceof GovernanceDenied && e.decision.rule === "block-destructive", spelling);
  }
});

test("the function receives a deep-frozen copy of exactly what was judged", () => {
  const seen = [];
  const tool = govern((named) => { seen.push(named); return named.filter.ids.length; }, { policy: { ...SEED, default_action: "allow" }, toolName: "sql" });
  const args = { action: "read", filter: { ids: [1, 2] } };
  assert.equal(tool(args), 2);
  assert.notEqual(seen[0], args);
  assert.ok(Object.isFrozen(seen[0]) && Object.isFrozen(seen[0].filter) && Object.isFrozen(seen[0].filter.ids));
  assert.throws(() => { "use strict"; seen[0].filter.ids.push(3); }, TypeError);
});

test("values that could change between the decision and the call are refused, audited", () => {
  const policy = { ...SEED, default_action: "allow" };
  let ran = 0;
  const tool = govern(() => { ran += 1; }, { policy, toolName: "sql" });
  let reads = 0;
  const shifty = { get action() { reads += 1; return reads === 1 ? "read" : "drop"; } };
  const attacks = [shifty, { action: "read", when: new Date() }, { action: "read", n: NaN }, { action: "read", f: () => 1 }, new Map([["action", "read"]]), { action: "read", s: "\ud800" }, { action: "read", ["\udc00"]: 1 }];
  for (const args of attacks) {
    assert.throws(() => tool(args), (e) => e instanceof GovernanceDenied && e.decision.refused_by === "kernel:request");
  }
  const cyclic = { action: "read" };
  cyclic.self = cyclic;
  assert.throws(() => tool(cyclic), (e) => e instanceof GovernanceDenied && /refers back to itself/.test(e.message));
  assert.throws(() => tool({ action: 7 }), (e) => e instanceof GovernanceDenied && /cannot name an action/.test(e.message));
  assert.equal(ran, 0);
  assert.equal(tool.auditLog.count, attacks.length + 2);
  tool.auditLog.verify();
});

test("positional arguments need names: refused without params, mapped with them", () => {
  const policy = { apiVersion: "governance.toolkit/v1", name: "p", default_action: "allow", rules: [{ name: "no-secrets", condition: "args.table == 'secrets'", action: "deny" }] };
  const loose = govern((action, table) => `${action} ${table}`, { policy, toolName: "sql" });
  assert.throws(() => loose("read", "users"), (e) => e instanceof GovernanceDenied && /params/.test(e.message));
  const named = govern((action, table) => `${action} ${table}`, { policy, toolName: "sql", params: ["action", "table"] });
  assert.equal(named("read", "users"), "read users");
  assert.throws(() => named("read", "secrets"), (e) => e instanceof GovernanceDenied && e.decision.rule === "no-secrets");
  assert.throws(() => named("read", "users", "extra"), (e) => e instanceof GovernanceDenied && e.decision.refused_by === "kernel:request");
  assert.throws(() => govern((a, b) => b, { policy, toolName: "t", params: ["table", "table"] }), /twice/);
});

test("a safe integer is a CEL int and any other number a double, as in every other SDK", () => {
  const policy = { apiVersion: "governance.toolkit/v1", name: "p", default_action: "deny", rules: [{ name: "half", condition: "args.n / 2 == 500", action: "allow" }] };
  const tool = govern(({ n }) => n, { policy, toolName: "t" });
  assert.equal(tool({ n: 1000 }), 1000);
  // 1000.5 is a double: `double / int` has no overload, the permissive rule errors, the default denies
  assert.throws(() => tool({ n: 1000.5 }), (e) => e instanceof GovernanceDenied && e.decision.errors.length === 1);
});

test("fail closed: a restrictive rule whose condition errors counts as matched", () => {
  const policy = { apiVersion: "governance.toolkit/v1", name: "p", default_action: "allow", rules: [{ name: "cap", condition: "args.amount > 1000", action: "deny" }] };
  const pay = govern(({ amount }) => amount, { policy, toolName: "pay" });
  assert.equal(pay({ amount: 10 }), 10);
  assert.throws(() => pay({ amount: "5000" }), (e) => e instanceof GovernanceDenied && e.decision.matched[0].errored);
  assert.throws(() => pay({}), (e) => e instanceof GovernanceDenied && e.decision.rule === "cap");
});

test("a policy that loads but looks wrong emits a PolicyWarning", async () => {
  const seen = [];
  const listener = (w) => seen.push(w);
  process.on("warning", listener);
  try {
    const set = PolicySet.fromDocuments({ apiVersion: "governance.toolkit/v1", name: "p", request_schema: { args: { amount: "int" } }, rules: [{ name: "r", condition: "args.ammount > 10", action: "deny" }] });
    assert.equal(set.warnings.length, 1);
    await new Promise((r) => setImmediate(r));
    assert.ok(seen.some((w) => w.name === "PolicyWarning" && /ammount/.test(w.message)));
  } finally {
    process.off("warning", listener);
  }
});

test("a policy that does not compile is refused at wrap time with its path", () => {
  const bad = { apiVersion: "governance.toolkit/v1", name: "p", rules: [{ name: "r", condition: "lookup(args.x)", action: "deny" }] };
  assert.throws(() => govern(sql, { policy: bad }), (e) => e instanceof PolicyError && e.path === "rules[0].condition" && /unknown function/.test(e.message) && e.line === 1);
  assert.throws(() => govern(sql, { policy: { ...SEED, default_action: "maybe" } }), (e) => e instanceof PolicyError && e.path === "default_action");
  assert.throws(() => govern(sql, {}), TypeError);
});

test("approval: the handler's approval runs the call and is recorded in the audit trail", () => {
  const asked = [];
  const send = govern(({ to }) => `sent to ${to}`, {
    policy: SEED,
    toolName: "send_email",
    approval: (request) => { asked.push(request); return request.approve("alice", "looked fine"); },
  });
  assert.equal(send({ to: "bob@example.com" }), "sent to bob@example.com");
  assert.deepEqual([...asked[0].approvers], ["security-team"]);
  assert.match(asked[0].requestHash, /^sha256:[0-9a-f]{64}$/);
  const record = JSON.parse(send.auditLog.lines()[0]);
  assert.equal(record.decision.effect, "require_approval");
  assert.deepEqual({ approved: record.approval.approved, approver: record.approval.approver, request_hash: record.approval.request_hash }, { approved: true, approver: "alice", request_hash: asked[0].requestHash });
});

test("approval: refused, forged, replayed, anonymous, throwing and pending answers never run the call", () => {
  let ran = 0;
  let saved;
  const answers = [
    (r) => r.refuse("alice", "no"),
    () => new ApprovalResponse(true, "mallory", "", `sha256:${"0".repeat(64)}`), // forged hash
    () => new ApprovalResponse(true, "mallory"), // not bound to any request
    (r) => r.approve(" "), // nobody approved
    () => true, // not an ApprovalResponse
    () => saved, // an approval of another request, replayed
  ];
  const first = govern(() => undefined, { policy: SEED, toolName: "send_email", approval: (r) => (saved = r.approve("alice")) });
  first({ to: "a@example.com" });
  for (const answer of answers) {
    const send = govern(() => { ran += 1; }, { policy: SEED, toolName: "send_email", approval: answer });
    assert.throws(() => send({ to: "b@example.com" }), (e) => e instanceof GovernanceDenied && e.decision.effect === "require_approval");
    const record = JSON.parse(send.auditLog.lines()[0]);
    assert.equal(record.approval.approved, false);
  }
  const throwing = govern(() => { ran += 1; }, { policy: SEED, toolName: "send_email", approval: () => { throw new Error("ldap down"); } });
  assert.throws(() => throwing({}), (e) => e instanceof ApprovalError && /ldap down/.test(e.message));
  assert.equal(JSON.parse(throwing.auditLog.lines()[0]).approval.reason, "approval handler failed: Error: ldap down");
  const pending = govern(() => { ran += 1; }, { policy: SEED, toolName: "send_email", approval: () => { throw new ApprovalPending("ticket OPS-1"); } });
  assert.throws(() => pending({}), GovernanceDenied);
  assert.equal(JSON.parse(pending.auditLog.lines()[0]).approval.pending, true);
  const none = govern(() => { ran += 1; }, { policy: SEED, toolName: "send_email" });
  assert.throws(() => none({}), (e) => e instanceof GovernanceDenied && /approval: \(request\)/.test(e.help));
  const asyncHandler = govern(() => { ran += 1; }, { policy: SEED, toolName: "send_email", approval: async (r) => r.approve("alice") });
  assert.throws(() => asyncHandler({}), (e) => e instanceof ApprovalError && /governAsync/.test(e.message));
  assert.equal(ran, 0);
});

test("async: an async function awaits an async approval handler; a handler that never answers times out", async () => {
  const send = govern(async ({ to }) => `sent to ${to}`, {
    policy: SEED,
    toolName: "send_email",
    approval: async (r) => { await new Promise((resolve) => setImmediate(resolve)); return r.approve("alice"); },
  });
  assert.equal(await send({ to: "bob" }), "sent to bob");
  let ran = 0;
  const stuck = governAsync(() => { ran += 1; }, { policy: SEED, toolName: "send_email", approval: () => new Promise(() => {}), approvalTimeoutMs: 5 });
  await assert.rejects(stuck({}), (e) => e instanceof GovernanceDenied);
  assert.match(JSON.parse(stuck.auditLog.lines()[0]).approval.reason, /no answer within 5 ms/);
  const denied = governAsync(async () => { ran += 1; }, { policy: SEED, toolName: "sql" });
  await assert.rejects(denied({ action: "drop" }), GovernanceDenied);
  assert.equal(ran, 0);
});

test("async races: concurrent calls never exceed a limit, and arguments changed while an approval waits do not run", async () => {
  const policy = PolicySet.fromDocuments({
    apiVersion: "governance.toolkit/v1",
    name: "p",
    rules: [
      { name: "reads", condition: "action.type == 'read'", action: "allow", limit: "3/minute" },
      { name: "pay", condition: "action.type == 'pay' && args.amount <= 100", action: "require_approval", approvers: ["finance"] },
    ],
  });
  let ran = 0;
  const read = govern(async () => { await new Promise((r) => setImmediate(r)); ran += 1; }, { policy, toolName: "read", clock: () => 0 });
  const results = await Promise.allSettled(Array.from({ length: 10 }, () => read()));
  assert.equal(results.filter((r) => r.status === "fulfilled").length, 3);
  assert.ok(results.filter((r) => r.status === "rejected").every((r) => r.reason instanceof GovernanceDenied && r.reason.decision.rate_limited));
  assert.equal(ran, 3);
  // the caller raises the amount while the approver looks at 100: the function still gets 100
  let release;
  const gate = new Promise((r) => (release = r));
  const paid = [];
  const pay = govern(async (named) => { paid.push(named.amount); }, { policy, toolName: "pay", approval: async (r) => { await gate; return r.approve("alice"); } });
  const args = { action: "pay", amount: 100 };
  const pending = pay(args);
  args.amount = 1_000_000;
  release();
  await pending;
  assert.deepEqual(paid, [100]);
  assert.equal(JSON.parse(pay.auditLog.lines()[0]).request.args.amount, 100);
});

test("governanceContext adds context.* to every governed call inside it, across awaits", async () => {
  const policy = { apiVersion: "governance.toolkit/v1", name: "p", default_action: "deny", rules: [{ name: "alice-reads", condition: "context.user == 'alice' && context.team == 'ops'", action: "allow" }] };
  const read = govern(async () => "rows", { policy, toolName: "read", context: { team: "ops" } });
  await assert.rejects(read(), GovernanceDenied);
  const result = await agt.governanceContext({ user: "alice" }, async () => {
    await new Promise((r) => setImmediate(r));
    return read();
  });
  assert.equal(result, "rows");
  assert.equal(JSON.parse(read.auditLog.lines()[1]).request.context.user, "alice");
  await agt.governanceContext({ user: "mallory" }, () => assert.rejects(read(), GovernanceDenied));
  await assert.rejects(agt.governanceContext({ user: () => "alice" }, () => read()), (e) => e instanceof GovernanceDenied && e.decision.refused_by === "kernel:request");
});

test("rate limits: counted per agent across every function sharing a policy set, on a monotonic clock", () => {
  let now = 0;
  const policy = PolicySet.fromDocuments({ apiVersion: "governance.toolkit/v1", name: "p", rules: [{ name: "reads", condition: "action.type == 'read'", action: "allow", limit: "2/minute" }] });
  const a = govern(() => "a", { policy, toolName: "read", clock: () => now });
  const b = govern(() => "b", { policy, toolName: "read", clock: () => now });
  const other = govern(() => "other", { policy, toolName: "read", agentId: "other-agent", clock: () => now });
  assert.equal(a(), "a");
  assert.equal(b(), "b");
  assert.throws(() => a(), (e) => e instanceof GovernanceDenied && e.decision.rate_limited && e.decision.rule === "reads");
  assert.equal(other(), "other");
  now = 59.9;
  assert.throws(() => b(), (e) => e instanceof GovernanceDenied && e.decision.rate_limited);
  now = 60;
  assert.equal(a(), "a");
});

test("audit: the trail verifies, and every edit, removal, reordering or truncation is caught", () => {
  const tool = govern(sql, { policy: SEED });
  tool({ action: "read", table: "a" });
  assert.throws(() => tool({ action: "drop", table: "b" }), GovernanceDenied);
  tool({ action: "read", table: "c" });
  const log = tool.auditLog;
  assert.deepEqual(log.verify(), { count: 3, seq: 2, hash: log.head });
  const lines = log.lines();
  const pin = { expectedHead: log.head, expectedCount: 3 };
  assert.equal(verifyAuditLines(lines, pin).hash, log.head);
  const refused = (trail, index, phrase, options = pin) =>
    assert.throws(() => verifyAuditLines(trail, options), (e) => e instanceof AuditIntegrityError && e.index === index && e.message.includes(phrase), phrase);
  // the deny turned into an allow
  refused([lines[0], lines[1].replace('"effect":"deny"', '"effect":"allow"').replace('"allowed":false', '"allowed":true'), lines[2]], 1, "does not match its hash");
  refused([lines[0], lines[2]], 1, "sequence number");
  refused([lines[1], lines[0], lines[2]], 0, "sequence number");
  refused(lines.slice(0, 2), 2, "cut off");
  refused(lines.slice(0, 2), 2, "expected head", { expectedHead: log.head });
  refused([lines[0], ` ${lines[1]}`, lines[2]], 1, "canonical form");
  refused([lines[0].replace('{"approval":null,', '{"approval":null,"approval":null,'), lines[1], lines[2]], 0, "not valid JSON"); // a duplicate key
  assert.throws(() => verifyAuditLines(lines), TypeError); // unpinned needs an explicit opt-in
});

test("audit: a record that cannot be written refuses the call", () => {
  let ran = 0;
  const audit = new AuditLog({ sink: () => { throw new Error("disk full"); } });
  const tool = govern(() => { ran += 1; }, { policy: SEED, toolName: "read", audit });
  assert.throws(() => tool(), (e) => e instanceof AuditWriteError && /disk full/.test(e.message));
  assert.equal(ran, 0);
  assert.equal(audit.count, 0);
});

test("the public API is exactly what index exports", () => {
  const names = Object.keys(agt).sort();
  assert.deepEqual(names, [
    "ApprovalError", "ApprovalPending", "ApprovalRequest", "ApprovalResponse", "AuditError", "AuditIntegrityError", "AuditLog", "AuditWriteError",
    "CanonicalJSONError", "Decision", "EnforcementError", "EngineError", "GENESIS_HASH", "GovernanceDenied", "GovernanceError", "PolicyError", "PolicySet",
    "RequestError", "auditRecordBody", "auditRecordLine", "canonicalJson", "contentHash", "engineVersion", "govern", "governAsync", "governanceContext", "monotonic",
    "normalizeAction", "recordHash", "utcNow", "verifyAuditLines",
  ]);
});
