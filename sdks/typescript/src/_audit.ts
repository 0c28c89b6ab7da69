/**
 * The in-memory audit log and trail verification, byte for byte agt-core's layout.
 *
 * A record is the RFC 8785 canonical JSON of six fields,
 * `{"approval":…,"decision":…,"prev_hash":"<64 hex>","request":…,"seq":N,"timestamp":"…"}`;
 * its hash is the lowercase hex SHA-256 of those UTF-8 bytes and is the
 * next record's `prev_hash` (64 zeros before the first). An exported line is the record with
 * `hash` added in canonical key order. Editing any field of any record, removing or reordering
 * records breaks verification; cutting records off the end is caught only against a head
 * published elsewhere, which is why `verifyAuditLines` asks for one. Bodies, hashes, lines and
 * verification are the engine's (`agt_engine::audit`), the same code every other SDK runs.
 */

import type { Decision } from "./_decision.js";
import { call, unwrap, wellFormed } from "./_engine.js";
import { AuditWriteError } from "./_errors.js";

/** `prev_hash` of the first record of a chain. */
export const GENESIS_HASH = "0".repeat(64);

/** Who approved or refused a require_approval decision (agt-core's `ApprovalRecord`). */
export interface ApprovalRecord {
  readonly approved: boolean;
  readonly approver: string | null;
  /** UTC time of the approval decision, ISO 8601. */
  readonly decided_at: string;
  /** `sha256:<hex>` of the canonical request the approval covers. */
  readonly request_hash: string;
  /** The approval handler that produced this record. */
  readonly handler: string;
  readonly reason: string;
  /** The handler passed the decision to a person out of band (refused for now). */
  readonly pending: boolean;
}

/** Where a verified chain ends: publish or sign it to pin everything before it. */
export interface ChainHead {
  /** Records verified. */
  readonly count: number;
  /** Sequence number of the last record (`startSeq - 1` when there were none). */
  readonly seq: number;
  /** Hash of the last record (the starting `prevHash` when there were none). */
  readonly hash: string;
}

/** UTC now with microseconds, as agt-core's `UtcClock` writes it: `2026-12-01T13:49:20.123456Z`. */
export function utcNow(): string {
  const micros = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  return call((m) => m.utcTimestamp(micros));
}

/**
 * The canonical JSON of one record. The three parts may be any JSON text (they are
 * canonicalised); `approvalJson` is `"null"` for none.
 *
 * @throws AuditWriteError for a part that is not JSON or has no canonical form, a timestamp that
 *   is not printable ASCII without quotes, a `prevHash` that is not 64 lowercase hex digits.
 */
export function auditRecordBody(parts: {
  seq: number;
  timestamp: string;
  prevHash: string;
  requestJson: string;
  decisionJson: string;
  approvalJson: string;
}): string {
  for (const [name, text] of Object.entries(parts)) {
    if (typeof text === "string") wellFormed(text, name);
  }
  const { seq, timestamp, prevHash, requestJson, decisionJson, approvalJson } = parts;
  return unwrap<string>(
    call((m) => m.auditRecordBody(seq, timestamp, prevHash, requestJson, decisionJson, approvalJson)),
  );
}

/** The exported line: the record with its `hash` in canonical key order (before `prev_hash`). */
export function auditRecordLine(body: string, digest: string): string {
  wellFormed(body, "the record");
  return unwrap<string>(call((m) => m.auditRecordLine(body, digest)));
}

/** A record's hash: lowercase hex SHA-256 of its UTF-8 bytes. */
export function recordHash(body: string): string {
  wellFormed(body, "the record");
  return call((m) => m.auditRecordHash(body));
}

/** Options of `verifyAuditLines`. */
export interface VerifyOptions {
  /** Hash the last record must have (from a published or signed head). */
  expectedHead?: string;
  /** How many records the trail must hold. */
  expectedCount?: number;
  /** Sequence number of the first line (0 for a complete trail). */
  startSeq?: number;
  /** Hash the first line must link to (64 zeros for a complete trail). */
  prevHash?: string;
  /** Accept a trail with neither head nor count: proves only internal consistency. */
  allowUnpinned?: boolean;
}

/**
 * Verifies an exported trail (lines as `AuditLog.lines()` writes them, or any other SDK's).
 *
 * @throws AuditIntegrityError naming the first record that does not verify (`index`), or how the
 *   trail differs from the expected head or count; TypeError when neither is given and
 *   `allowUnpinned` is not set.
 */
export function verifyAuditLines(lines: Iterable<string>, options: VerifyOptions = {}): ChainHead {
  const { expectedHead, expectedCount, startSeq = 0, prevHash = GENESIS_HASH, allowUnpinned = false } = options;
  if (expectedHead === undefined && expectedCount === undefined && !allowUnpinned) {
    throw new TypeError(
      "verifyAuditLines needs expectedHead or expectedCount (from a published or signed head) to detect " +
        "truncation or a rebuilt chain; pass allowUnpinned: true to check only internal consistency",
    );
  }
  // A lone surrogate in a line could only come from tampering (the engine would see U+FFFD)
  const trail = [...lines].map((line) => line.replace(/\n+$/, "")).join("\n");
  const pin = JSON.stringify({
    expected_head: expectedHead ?? null,
    expected_count: expectedCount ?? null,
    start_seq: startSeq,
    prev_hash: prevHash,
    allow_unpinned: allowUnpinned,
  });
  return unwrap<ChainHead>(call((m) => m.auditVerifyLines(wellFormed(trail, "the trail"), pin)));
}

/** Options of `AuditLog`. */
export interface AuditLogOptions {
  /** How many of the most recent records to keep (default 100,000); older ones become the anchor. */
  maxRecords?: number;
  /**
   * Called with each record's line (hash included) before it joins the chain, e.g. to append to
   * a file. If it throws, the append fails, nothing is added, and the governed call is refused.
   */
  sink?: (line: string) => void;
  /** Timestamps (default: UTC now with microseconds). */
  clock?: () => string;
}

/** One retained record: its hash and its body (the canonical JSON without `hash`). */
export interface AuditEntry {
  readonly seq: number;
  readonly hash: string;
  readonly body: string;
}

/**
 * An append-only, hash-chained, bounded in-memory audit trail.
 *
 * When a record is evicted (past `maxRecords`), its sequence number and hash become the log's
 * anchor: verification then starts there, so the retained tail is still checked link by link.
 */
export class AuditLog {
  readonly #max: number;
  readonly #sink: ((line: string) => void) | undefined;
  readonly #clock: () => string;
  readonly #entries: AuditEntry[] = [];
  #nextSeq = 0;
  #head = GENESIS_HASH;
  #anchorSeq = 0;
  #anchorHash = GENESIS_HASH;

  constructor(options: AuditLogOptions = {}) {
    const max = options.maxRecords ?? 100_000;
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError("maxRecords must be an integer of at least 1");
    this.#max = max;
    this.#sink = options.sink;
    this.#clock = options.clock ?? utcNow;
  }

  /**
   * Appends one decision and returns its record hash.
   *
   * @param requestJson The request as JSON text (canonicalised here).
   * @throws AuditWriteError if the record cannot be serialised or the sink fails.
   */
  append(requestJson: string, decision: Decision, approval: ApprovalRecord | null = null): string {
    let body: string;
    try {
      const seq = this.#nextSeq;
      const timestamp = this.#clock();
      body = auditRecordBody({
        seq,
        timestamp,
        prevHash: this.#head,
        requestJson,
        decisionJson: JSON.stringify(decision),
        approvalJson: approval === null ? "null" : JSON.stringify(approval),
      });
    } catch (e) {
      throw new AuditWriteError(`audit record could not be serialised: ${(e as Error).message}`, { cause: e });
    }
    const digest = recordHash(body);
    if (this.#sink !== undefined) {
      try {
        this.#sink(auditRecordLine(body, digest));
      } catch (e) {
        throw new AuditWriteError(`audit sink failed: ${(e as Error).message}`, { cause: e });
      }
    }
    this.#entries.push(Object.freeze({ seq: this.#nextSeq, hash: digest, body }));
    this.#nextSeq += 1;
    this.#head = digest;
    while (this.#entries.length > this.#max) {
      const evicted = this.#entries.shift() as AuditEntry;
      this.#anchorSeq = evicted.seq + 1;
      this.#anchorHash = evicted.hash;
    }
    return digest;
  }

  /** Hash of the last record (64 zeros when empty): publish it to pin the trail. */
  get head(): string {
    return this.#head;
  }

  /** Records appended so far (evicted ones included). */
  get count(): number {
    return this.#nextSeq;
  }

  /** Where the retained records start: the first retained seq and the hash it links to. */
  get anchor(): { seq: number; hash: string } {
    return { seq: this.#anchorSeq, hash: this.#anchorHash };
  }

  /** The retained records, oldest first. */
  entries(): readonly AuditEntry[] {
    return [...this.#entries];
  }

  /** The retained records as exported lines (canonical JSON with `hash`), oldest first. */
  lines(): string[] {
    return this.#entries.map((e) => auditRecordLine(e.body, e.hash));
  }

  /**
   * Verifies the retained records against the log's own head and count.
   *
   * @throws AuditIntegrityError naming the first record that does not verify.
   */
  verify(): ChainHead {
    return verifyAuditLines(this.lines(), {
      expectedHead: this.#head,
      expectedCount: this.#nextSeq - this.#anchorSeq,
      startSeq: this.#anchorSeq,
      prevHash: this.#anchorHash,
    });
  }
}
