"use strict";
// conformance/audit: record bodies, hashes and lines byte for byte as agt-core writes them, and
// every tampered trail refused at the pinned record.
const test = require("node:test");
const assert = require("node:assert/strict");
const { existsSync } = require("node:fs");
const { join } = require("node:path");
const { auditRecordBody, auditRecordLine, recordHash, verifyAuditLines, canonicalJson, AuditIntegrityError, GENESIS_HASH } = require("../dist/index.js");
const { CONFORMANCE, readVectors, plain, table } = require("./_vectors.js");

const file = join(CONFORMANCE, "audit", "chain.json");

test("audit vectors: chain.json", { skip: !existsSync(file) && "conformance/audit/chain.json is not in this checkout" }, () => {
  const doc = plain(readVectors(file));
  assert.equal(doc.genesis_hash, GENESIS_HASH);
  let passed = 0;
  let prev = GENESIS_HASH;
  for (const r of doc.records) {
    const body = auditRecordBody({
      seq: r.seq,
      timestamp: r.timestamp,
      prevHash: prev,
      requestJson: canonicalJson(r.request),
      decisionJson: canonicalJson(r.decision),
      approvalJson: r.approval === null ? "null" : canonicalJson(r.approval),
    });
    assert.equal(body, r.body, `record ${r.seq}: body`);
    assert.equal(recordHash(body), r.hash, `record ${r.seq}: hash`);
    assert.equal(auditRecordLine(body, r.hash), r.line, `record ${r.seq}: line`);
    prev = r.hash;
    passed += 1;
  }
  const lines = doc.records.map((r) => r.line);
  const head = verifyAuditLines(lines, { expectedHead: doc.head.hash, expectedCount: doc.head.count });
  assert.deepEqual({ ...head }, doc.head);
  passed += 1;
  for (const t of doc.tampered) {
    const pin = t.pin ?? "both";
    const options = {};
    if (pin !== "head") options.expectedCount = doc.head.count;
    if (pin !== "count") options.expectedHead = doc.head.hash;
    assert.throws(
      () => verifyAuditLines(t.lines, options),
      (e) => e instanceof AuditIntegrityError && e.index === t.index && e.message.includes(t.contains),
      `tampered trail ${t.name} must be refused at record ${t.index} mentioning ${JSON.stringify(t.contains)}`,
    );
    passed += 1;
  }
  table.push(`audit/chain.json: ${passed}/${doc.records.length + 1 + doc.tampered.length}`);
});
