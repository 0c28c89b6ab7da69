/**
 * The in-memory audit log and trail verification, byte for byte agt-core's layout.
 *
 * A record is the RFC 8785 canonical JSON of six fields,
 * `{"approval":…,"decision":…,"prev_hash":"<64 hex>","request":…,"seq":N,"timestamp":"…"}`;
 * its hash is the lowercase hex SHA-256 of those UTF-8 bytes (computed by the engine) and is the
 * next record's `prev_hash` (64 zeros before the first). An exported line is the record with
 * `hash` added in canonical key order. Editing any field of any record, removing or reordering
 * records breaks verification; cutting records off the end is caught only against a head
 * published elsewhere, which is why `verifyAuditLines` asks for one.
 */

import type { Decision } from "./_decision.js";
import { canonicalText, sha256Hex } from "./_engine.js";
import { AuditIntegrityError, AuditWriteError, GovernanceError } from "./_errors.js";
import { JsonNumber, type RawJson, readJson, writeJson } from "./_json.js";

/** `prev_hash` of the first record of a chain. */
export const GENESIS_HASH = "0".repeat(64);

const RECORD_FIELDS = ["approval", "decision", "prev_hash", "request", "seq", "timestamp"];

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
  const seconds = Math.floor(micros / 1_000_000);
  const fraction = String(micros - seconds * 1_000_000).padStart(6, "0");
  return `${new Date(seconds * 1000).toISOString().slice(0, 19)}.${fraction}Z`;
}

/** The canonical JSON of one record from the canonical JSON of its parts. */
export function auditRecordBody(parts: {
  seq: number;
  timestamp: string;
  prevHash: string;
  requestJson: string;
  decisionJson: string;
  approvalJson: string;
}): string {
  return (
    `{"approval":${parts.approvalJson},"decision":${parts.decisionJson},"prev_hash":"${parts.prevHash}",` +
    `"request":${parts.requestJson},"seq":${parts.seq},"timestamp":"${parts.timestamp}"}`
  );
}

/** The exported line: the record with its `hash` in canonical key order (before `prev_hash`). */
export function auditRecordLine(body: string, digest: string): string {
  const at = body.indexOf('"prev_hash":"') - 1;
  return `${body.slice(0, at)},"hash":"${digest}"${body.slice(at)}`;
}

/** A record's hash: lowercase hex SHA-256 of its UTF-8 bytes, by the engine. */
export function recordHash(body: string): string {
  return sha256Hex(body);
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

function isObject(value: RawJson): value is { [key: string]: RawJson } {
  return value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof JsonNumber);
}

/**
 * Verifies an exported trail (lines as `AuditLog.lines()` writes them, or any other SDK's).
 *
 * @throws AuditIntegrityError naming the first record that does not verify, or how the trail
 *   differs from the expected head or count.
 */
export function verifyAuditLines(lines: Iterable<string>, options: VerifyOptions = {}): ChainHead {
  const { expectedHead, expectedCount, startSeq = 0, prevHash = GENESIS_HASH, allowUnpinned = false } = options;
  if (expectedHead === undefined && expectedCount === undefined && !allowUnpinned) {
    throw new TypeError(
      "verifyAuditLines needs expectedHead or expectedCount (from a published or signed head) to detect " +
        "truncation or a rebuilt chain; pass allowUnpinned: true to check only internal consistency",
    );
  }
  let seq = startSeq;
  let prev = prevHash;
  let count = 0;
  for (const line of lines) {
    const text = line.replace(/\n+$/, "");
    let fields: RawJson;
    try {
      fields = readJson(text);
    } catch (e) {
      throw new AuditIntegrityError(`record ${seq} is not valid JSON: ${(e as Error).message}`, seq);
    }
    if (!isObject(fields)) throw new AuditIntegrityError(`record ${seq} does not have the audit record's fields`, seq);
    const keys = Object.keys(fields).sort();
    if (keys.join(",") !== [...RECORD_FIELDS, "hash"].sort().join(",")) {
      throw new AuditIntegrityError(`record ${seq} does not have the audit record's fields`, seq);
    }
    let canonical: string;
    try {
      canonical = canonicalText(writeJson(fields));
    } catch (e) {
      if (e instanceof GovernanceError && !(e instanceof AuditIntegrityError)) {
        throw new AuditIntegrityError(`record ${seq} has no canonical form: ${e.message}`, seq);
      }
      throw e;
    }
    if (canonical !== text) throw new AuditIntegrityError(`record ${seq} is not in canonical form`, seq);
    const digest = fields["hash"];
    const body: { [key: string]: RawJson } = Object.create(null);
    for (const key of RECORD_FIELDS) body[key] = fields[key] as RawJson;
    if (typeof digest !== "string" || recordHash(canonicalText(writeJson(body))) !== digest) {
      throw new AuditIntegrityError(`record ${seq} does not match its hash`, seq);
    }
    const recordSeq = fields["seq"];
    if (!(recordSeq instanceof JsonNumber) || !recordSeq.isInteger || recordSeq.toNumber() !== seq) {
      const shown = recordSeq instanceof JsonNumber ? recordSeq.text : JSON.stringify(recordSeq);
      throw new AuditIntegrityError(
        `record ${seq} carries sequence number \`${shown}\`; records were removed or reordered`,
        seq,
      );
    }
    if (fields["prev_hash"] !== prev) {
      throw new AuditIntegrityError(`record ${seq} does not link to the record before it; the trail was altered`, seq);
    }
    prev = digest;
    seq += 1;
    count += 1;
  }
  if (expectedCount !== undefined && count !== expectedCount) {
    throw new AuditIntegrityError(
      `the trail holds ${count} records where ${expectedCount} were expected; ` +
        (count < expectedCount ? "records were cut off its end" : "records were added"),
      seq,
    );
  }
  if (expectedHead !== undefined && prev !== expectedHead) {
    throw new AuditIntegrityError(
      `the trail ends at \`${prev}\`, not at the expected head \`${expectedHead}\`; it was truncated, extended or rebuilt`,
      seq,
    );
  }
  return { count, seq: seq - 1, hash: prev };
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
      if (!/^[\x20-\x7e]*$/.test(timestamp) || /["\\]/.test(timestamp)) {
        throw new Error("the clock's timestamp must be ASCII without quotes or backslashes");
      }
      body = auditRecordBody({
        seq,
        timestamp,
        prevHash: this.#head,
        requestJson: canonicalText(requestJson),
        decisionJson: canonicalText(JSON.stringify(decision)),
        approvalJson: approval === null ? "null" : canonicalText(JSON.stringify(approval)),
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
