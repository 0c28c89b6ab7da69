/**
 * Approvals: who decides a `require_approval` decision, and how.
 *
 * A handler receives an `ApprovalRequest` and answers with `request.approve(approver)` or
 * `request.refuse(...)` (sync or async). An approval is bound to the exact request by its hash:
 * an answer without the request's hash, or with another request's, refuses. Throwing
 * `ApprovalPending` hands the decision to a person out of band: the call is refused for now and
 * recorded as pending. Without a handler every approval is refused, with a message saying how
 * to configure one.
 */

import type { Decision } from "./_decision.js";

/** What an approval handler is asked to decide. */
export class ApprovalRequest {
  constructor(
    /** The require_approval decision (rule, message, approvers). */
    readonly decision: Decision,
    /** The request (action, args, agent, context), a deep-frozen copy. */
    readonly request: Readonly<Record<string, unknown>>,
    /** `sha256:<hex>` of the canonical request; the approval covers exactly this. */
    readonly requestHash: string,
  ) {
    Object.freeze(this);
  }

  /** The approvers the deciding rule names. */
  get approvers(): readonly string[] {
    return this.decision.approvers;
  }

  /** Approve, as `approver` (required: a person, a group or a service). */
  approve(approver: string, reason = ""): ApprovalResponse {
    return new ApprovalResponse(true, approver, reason, this.requestHash);
  }

  /** Refuse. */
  refuse(approver: string | null = null, reason = ""): ApprovalResponse {
    return new ApprovalResponse(false, approver, reason, this.requestHash);
  }
}

/** A handler's answer; build it with `ApprovalRequest.approve` or `.refuse`. */
export class ApprovalResponse {
  constructor(
    readonly approved: boolean,
    readonly approver: string | null = null,
    readonly reason: string = "",
    /** The `requestHash` of the request this answers (required to approve). */
    readonly requestHash: string | null = null,
  ) {
    Object.freeze(this);
  }
}

/** Thrown by a handler that passed the decision to a person out of band: refused for now, recorded as pending. */
export class ApprovalPending extends Error {
  constructor(readonly reason = "") {
    super(reason || "approval pending");
    this.name = "ApprovalPending";
  }
}

/** Decides approval requests; may return a promise (then only async governed calls can use it). */
export type ApprovalHandler = (request: ApprovalRequest) => ApprovalResponse | Promise<ApprovalResponse>;

/** Why an answer cannot approve `requestHash`, or null when it can. */
export function responseProblem(answer: unknown, requestHash: string): string | null {
  if (!(answer instanceof ApprovalResponse)) {
    const kind = answer === null ? "null" : typeof answer === "object" ? answer.constructor?.name : typeof answer;
    return `approval handler returned \`${kind}\`, not an ApprovalResponse`;
  }
  if (!answer.approved) return null;
  if (answer.requestHash !== requestHash) {
    return answer.requestHash === null
      ? "approval does not name the request it approves; answer with request.approve(approver)"
      : "approval names another request's hash; an approval covers exactly one request";
  }
  if (typeof answer.approver !== "string" || answer.approver.trim() === "") {
    return "approval does not say who approved; pass the approver to request.approve(approver)";
  }
  return null;
}
