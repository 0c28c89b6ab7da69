/**
 * Agent Governance Toolkit for TypeScript: every governed call is judged by the toolkit's policy
 * engine (the Rust engine compiled to WebAssembly) before it runs, and written to a
 * hash-chained audit trail that verifies in every other language of the toolkit.
 *
 * ```ts
 * import { govern } from "@agt/governance";
 * const safeQuery = govern(query, { policy: "policy.yaml" });
 * ```
 */

export { ApprovalPending, ApprovalRequest, ApprovalResponse, type ApprovalHandler } from "./_approval.js";
export {
  type ApprovalRecord,
  type AuditEntry,
  AuditLog,
  type AuditLogOptions,
  type ChainHead,
  GENESIS_HASH,
  type VerifyOptions,
  auditRecordBody,
  auditRecordLine,
  recordHash,
  utcNow,
  verifyAuditLines,
} from "./_audit.js";
export { canonicalJson, contentHash } from "./_canonical.js";
export {
  type ConflictStrategy,
  Decision,
  type DecisionData,
  type Effect,
  type MatchedRule,
  type RuleError,
  type Stage,
} from "./_decision.js";
export { engineVersion } from "./_engine.js";
export {
  ApprovalError,
  AuditError,
  AuditIntegrityError,
  AuditWriteError,
  CanonicalJSONError,
  EnforcementError,
  EngineError,
  GovernanceDenied,
  GovernanceError,
  PolicyError,
  RequestError,
} from "./_errors.js";
export {
  type GovernOptions,
  type Governed,
  govern,
  governAsync,
  governanceContext,
  normalizeAction,
} from "./_govern.js";
export { type Clock, monotonic, type PolicyDocument, PolicySet, type PolicySource, type RuleLimit } from "./_policy.js";
