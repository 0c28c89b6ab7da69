/**
 * The SDK's errors, the same tree as agt-core's:
 *
 * ```
 * GovernanceError                root: a governed action did not go through as asked
 * ├── PolicyError                a policy could not be loaded or compiled (policy, path, line, column)
 * ├── RequestError               the call's arguments cannot be judged (not JSON data, too deep)
 * ├── CanonicalJSONError         a value has no RFC 8785 canonical form
 * ├── EnforcementError           the action was refused
 * │   ├── GovernanceDenied       the policy (or the SDK) refused it (.decision)
 * │   └── ApprovalError          an approval handler failed; the action is refused
 * ├── EngineError                the WebAssembly engine failed (a trap); every call fails closed
 * └── AuditError                 something is wrong with the audit trail
 *     ├── AuditWriteError        a record could not be written; the action is refused
 *     └── AuditIntegrityError    a trail failed verification (.index: the record)
 * ```
 *
 * A governed call that does not run throws `GovernanceDenied` (every refusal, whoever made it,
 * is a decision, audited), or `AuditWriteError` when even the refusal could not be recorded.
 * Messages are one line, lowercase, user values quoted; longer guidance is in `help`.
 */

import type { Decision } from "./_decision.js";

/** Root of every error the SDK throws. */
export class GovernanceError extends Error {
  /** Longer guidance: what to do about it. */
  readonly help: string | undefined;

  constructor(message: string, options?: { help?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.help = options?.help;
  }
}

/** A policy that cannot be loaded or compiled, with where it went wrong. */
export class PolicyError extends GovernanceError {
  readonly policy: string | null;
  readonly path: string | null;
  readonly line: number | null;
  readonly column: number | null;
  readonly file: string | null;

  constructor(
    message: string,
    where: { policy?: string | null; path?: string | null; line?: number | null; column?: number | null; file?: string | null } = {},
    help?: string,
  ) {
    const at = [where.file, where.policy && `policy \`${where.policy}\``, where.path].filter(Boolean).join(": ");
    super(at ? `${at}: ${message}` : message, help === undefined ? undefined : { help });
    this.policy = where.policy ?? null;
    this.path = where.path ?? null;
    this.line = where.line ?? null;
    this.column = where.column ?? null;
    this.file = where.file ?? null;
    this.reason = message;
  }

  /** The engine's own message, without file, policy or path. */
  readonly reason: string;
}

/** The call's arguments cannot be judged faithfully; the call was refused. */
export class RequestError extends GovernanceError {}

/** A value without an RFC 8785 canonical form (NaN, a lone surrogate, an inexact integer...). */
export class CanonicalJSONError extends GovernanceError {}

/** The action was refused. */
export class EnforcementError extends GovernanceError {}

/** The policy, or the SDK on its behalf, refused the action; `decision` says who and why. */
export class GovernanceDenied extends EnforcementError {
  constructor(
    readonly decision: Decision,
    options?: { help?: string; cause?: unknown },
  ) {
    super(`${decision.effect === "require_approval" ? "not approved" : "denied"}: ${decision.summary()}`, options);
  }
}

/** An approval handler failed (threw, or answered something that is not an approval). */
export class ApprovalError extends EnforcementError {}

/** The WebAssembly engine trapped (a panic) or could not be loaded. */
export class EngineError extends GovernanceError {}

/** Something is wrong with an audit trail. */
export class AuditError extends GovernanceError {}

/** A record could not be written; the action it records was refused. */
export class AuditWriteError extends AuditError {}

/** A trail failed verification; `index` is the sequence number of the first bad record. */
export class AuditIntegrityError extends AuditError {
  constructor(
    message: string,
    readonly index: number,
  ) {
    super(message);
  }
}
