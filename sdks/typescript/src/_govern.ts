/**
 * `govern(fn, { policy })`: every call is judged by the engine before it runs.
 *
 * One governed call: build the request from exactly the values the function will receive (a
 * deep-frozen copy of JSON data; anything else is refused), decide it (policy evaluation, then
 * the matched rules' rate limits), ask the approval handler when the decision requires approval,
 * write the audit record, and only then call the function, with the frozen values. Every refusal,
 * whoever makes it, is a decision that is audited and thrown as `GovernanceDenied`; if even the
 * audit record cannot be written, `AuditWriteError` is thrown and the function does not run.
 */

import { AsyncLocalStorage } from "node:async_hooks";

import { ApprovalPending, ApprovalRequest, type ApprovalHandler, responseProblem } from "./_approval.js";
import { type ApprovalRecord, AuditLog, utcNow } from "./_audit.js";
import { Decision } from "./_decision.js";
import { contentHash } from "./_canonical.js";
import { ApprovalError, GovernanceDenied, GovernanceError, RequestError } from "./_errors.js";
import { dataJson, NotJsonData } from "./_json.js";
import { type Clock, monotonic, PolicySet, type PolicySource } from "./_policy.js";

/** Options of `govern`. */
export interface GovernOptions {
  /** The policy: a `PolicySet` (shares its rate limits), a document, a list of them, or a policy file path. */
  policy: PolicySource;
  /** The tool's name: `action.tool`, and `action.type` unless an `action` argument names one. Default: `fn.name`. */
  toolName?: string;
  /** The agent's id (`agent.id`); default `"default"`. */
  agentId?: string;
  /** Further agent facts (`agent.*`), e.g. `{ role: "analyst" }`. */
  agent?: Record<string, unknown>;
  /** Fixed facts conditions read as `context.*`. */
  context?: Record<string, unknown>;
  /**
   * Names of the function's positional parameters, in order: `args` maps each name to its
   * argument. Without it the function must take one object of named arguments (or none).
   */
  params?: readonly string[];
  /** Where records go: an `AuditLog` (default: a new one per governed function), or null for none. */
  audit?: AuditLog | null;
  /** Decides require_approval decisions; without one they are refused. */
  approval?: ApprovalHandler;
  /** Milliseconds an async handler may take; no answer by then refuses (async calls only). */
  approvalTimeoutMs?: number;
  /** Monotonic clock in seconds, for rate-limit windows (default `performance.now() / 1000`). */
  clock?: Clock;
}

/** What `govern` returns: `fn`'s own signature, plus what governs it. */
export type Governed<F> = F & {
  readonly policySet: PolicySet;
  readonly auditLog: AuditLog | null;
  readonly toolName: string;
};

/** How one call goes: the request, then the decision and approval, then the call. */
interface Prepared {
  request: Record<string, unknown>;
  requestJson: string;
  callArgs: unknown[];
}

const FORMAT_CHARS = /\p{Cf}/gu;

/** The fields `governanceContext` adds to governed calls made inside it (and what they await). */
const callContext = new AsyncLocalStorage<Readonly<Record<string, unknown>>>();

/**
 * Runs `fn` with `values` added to the `context` of every governed call made inside it, including
 * calls after an `await` (conditions read them as `context.*`); nested blocks add to the outer
 * one. Returns what `fn` returns.
 *
 * ```ts
 * governanceContext({ user: "alice", ticket: "OPS-12" }, () => safeTool({ action: "read" }));
 * ```
 */
export function governanceContext<T>(values: Record<string, unknown>, fn: () => T): T {
  if (values === null || typeof values !== "object" || Array.isArray(values)) {
    throw new TypeError("governanceContext() takes an object of context fields");
  }
  return callContext.run(Object.freeze({ ...(callContext.getStore() ?? {}), ...values }), fn);
}

/**
 * The form of an action name conditions see as `action.type`: NFKC, case-folded, invisible
 * format characters removed, trimmed (`ＤＲＯＰ\u200b ` is `drop`); the exact text stays in `args.action`.
 */
export function normalizeAction(text: string): string {
  const folded = text.normalize("NFKC").toUpperCase().toLowerCase().replace(FORMAT_CHARS, "");
  return folded.normalize("NFKC").trim();
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function isAsyncFunction(fn: unknown): boolean {
  return Object.prototype.toString.call(fn) === "[object AsyncFunction]";
}

function refusal(set: PolicySet, reason: string, by: string): Decision {
  return new Decision({
    effect: "deny",
    allowed: false,
    rule: null,
    policy: null,
    policy_hash: null,
    policy_set_hash: set.hash,
    message: reason,
    stage: "pre_tool",
    matched: [],
    errors: [{ policy: null, rule: null, message: reason }],
    conflict_strategy: null,
    approvers: [],
    rate_limited: false,
    refused_by: by,
    evaluator: null,
  });
}

class Kernel {
  readonly set: PolicySet;
  readonly audit: AuditLog | null;
  readonly tool: string;
  readonly #options: GovernOptions;
  readonly #agentJson: string;
  readonly #contextJson: string;
  readonly #agent: unknown;
  readonly #context: unknown;
  readonly #clock: Clock;

  constructor(fnName: string, options: GovernOptions) {
    this.set = PolicySet.from(options.policy);
    this.audit = options.audit === undefined ? new AuditLog() : options.audit;
    this.tool = options.toolName ?? fnName;
    if (typeof this.tool !== "string" || this.tool === "") {
      throw new TypeError("govern() needs a tool name: pass toolName, or govern a named function");
    }
    const agentId = options.agentId ?? "default";
    if (typeof agentId !== "string" || agentId === "") throw new TypeError("agentId must be a non-empty string");
    try {
      const agent = dataJson({ ...(options.agent ?? {}), id: agentId }, "agent");
      const context = dataJson(options.context ?? {}, "context");
      this.#agentJson = agent.json;
      this.#agent = agent.frozen;
      this.#contextJson = context.json;
      this.#context = context.frozen;
    } catch (e) {
      if (e instanceof NotJsonData) throw new TypeError(`govern(): ${e.message}`);
      throw e;
    }
    if (options.params !== undefined) {
      const params = options.params;
      if (!Array.isArray(params) || !params.every((p) => typeof p === "string" && p !== "")) {
        throw new TypeError("params must be a list of non-empty parameter names");
      }
      // two positions under one name: the policy would see one value and the function get it twice
      if (new Set(params).size !== params.length) throw new TypeError("params names a parameter twice");
    }
    this.#options = options;
    this.#clock = options.clock ?? monotonic;
  }

  /** The request and the arguments to call with; throws RequestError for what cannot be judged. */
  prepare(callArgs: unknown[]): Prepared {
    const params = this.#options.params;
    let named: Record<string, unknown>;
    if (params !== undefined) {
      if (callArgs.length > params.length) {
        throw new RequestError(
          `\`${this.tool}\` got ${callArgs.length} arguments but params names ${params.length}; ` +
            "an argument without a name cannot be judged",
        );
      }
      named = {};
      params.forEach((name, i) => {
        if (i < callArgs.length) named[name] = callArgs[i];
      });
    } else if (callArgs.length === 0) {
      named = {};
    } else if (callArgs.length === 1 && isPlainObject(callArgs[0])) {
      named = callArgs[0];
    } else {
      throw new RequestError(
        `\`${this.tool}\` was called with ${callArgs.length === 1 ? "a value that is not an object of named arguments" : `${callArgs.length} positional arguments`}; ` +
          "govern a function taking one object of named arguments, or pass params: [...] naming its parameters",
      );
    }
    let args: { json: string; frozen: unknown };
    try {
      args = dataJson(named, "args");
    } catch (e) {
      if (e instanceof NotJsonData) throw new RequestError(`argument ${e.message}`);
      throw e;
    }
    const frozen = args.frozen as Record<string, unknown>;
    const given = frozen["action"];
    let action: Record<string, unknown>;
    if (given === undefined) {
      action = { type: this.tool, tool: this.tool };
    } else if (typeof given === "string") {
      action = { type: normalizeAction(given), tool: this.tool };
    } else if (isPlainObject(given)) {
      if (typeof given["type"] !== "string") throw new RequestError("argument `action` is an object without a string `type`");
      action = { ...given, type: normalizeAction(given["type"]), tool: this.tool };
    } else {
      throw new RequestError(
        `argument \`action\` is a ${given === null ? "null" : typeof given}, which cannot name an action`,
        { help: "pass the action as a string, or an object with a string `type`" },
      );
    }
    const actionJson = dataJson(action, "action").json;
    let context = this.#context;
    let contextJson = this.#contextJson;
    const block = callContext.getStore();
    if (block !== undefined) {
      try {
        ({ json: contextJson, frozen: context } = dataJson({ ...(this.#options.context ?? {}), ...block }, "context"));
      } catch (e) {
        if (e instanceof NotJsonData) throw new RequestError(`governance context: ${e.message}`);
        throw e;
      }
    }
    const request = Object.freeze({
      action: Object.freeze(action),
      args: frozen,
      agent: this.#agent,
      context,
      stage: "pre_tool",
    });
    const requestJson =
      `{"action":${actionJson},"agent":${this.#agentJson},"args":${args.json},` +
      `"context":${contextJson},"stage":"pre_tool"}`;
    const callWith = params !== undefined ? params.slice(0, callArgs.length).map((p) => frozen[p]) : callArgs.length === 0 ? [] : [frozen];
    return { request, requestJson, callArgs: callWith };
  }

  /** The request as far as it is known, for a call refused before its arguments could be read. */
  partialRequestJson(): string {
    const action = dataJson({ type: this.tool, tool: this.tool }, "action").json;
    return `{"action":${action},"agent":${this.#agentJson},"context":${this.#contextJson},"stage":"pre_tool"}`;
  }

  decide(prepared: Prepared): Decision {
    try {
      return this.set.decideJson(prepared.requestJson, this.#clock());
    } catch (e) {
      // text the engine's strict reader refuses (a lone surrogate): the request, not the engine
      if (e instanceof RequestError) return refusal(this.set, e.message, "kernel:request");
      if (e instanceof GovernanceError) {
        return refusal(this.set, `the policy engine failed: ${e.message}`, "kernel:evaluator");
      }
      return refusal(this.set, `the policy engine failed: ${String(e)}`, "kernel:evaluator");
    }
  }

  /** Records the outcome, then throws for anything that may not run. */
  finish(requestJson: string, decision: Decision, approval: ApprovalRecord | null): void {
    this.audit?.append(requestJson, decision, approval);
    if (decision.allowed || approval?.approved === true) return;
    let help: string | undefined;
    if (approval !== null && !approval.approved && approval.handler === "none") {
      help = "no approval handler is configured, so approvals are refused; pass approval: (request) => ... to govern()";
    }
    throw new GovernanceDenied(decision, help === undefined ? undefined : { help });
  }

  /** Refuses before evaluation (a request that cannot be judged): audited, then thrown. */
  refuse(requestJson: string, reason: string, by: string, cause: unknown): never {
    const decision = refusal(this.set, reason, by);
    this.audit?.append(requestJson, decision, null);
    throw new GovernanceDenied(decision, { cause });
  }

  approvalRequest(decision: Decision, prepared: Prepared): ApprovalRequest {
    const requestHash = contentHash(prepared.requestJson, { text: true });
    return new ApprovalRequest(decision, prepared.request, requestHash);
  }

  record(request: ApprovalRequest, approved: boolean, approver: string | null, reason: string, pending = false): ApprovalRecord {
    return Object.freeze({
      approved,
      approver,
      decided_at: utcNow(),
      request_hash: request.requestHash,
      handler: this.#options.approval?.name || (this.#options.approval ? "handler" : "none"),
      reason,
      pending,
    });
  }

  /** The record for a handler's answer (or failure); null answer means the handler threw `failure`. */
  answered(request: ApprovalRequest, answer: unknown): ApprovalRecord {
    const problem = responseProblem(answer, request.requestHash);
    if (problem !== null) return this.record(request, false, null, problem);
    const response = answer as { approved: boolean; approver: string | null; reason: string };
    return this.record(request, response.approved, response.approver, response.reason);
  }

  /** The handler threw: pending is recorded as such; anything else is audited and thrown as ApprovalError. */
  handlerFailed(prepared: Prepared, decision: Decision, request: ApprovalRequest, error: unknown): ApprovalRecord {
    if (error instanceof ApprovalPending) {
      return this.record(request, false, null, error.reason || "waiting for a decision out of band", true);
    }
    const reason = `approval handler failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
    this.audit?.append(prepared.requestJson, decision, this.record(request, false, null, reason));
    throw new ApprovalError(reason, { cause: error });
  }

  noHandler(request: ApprovalRequest): ApprovalRecord {
    const who = request.approvers.length > 0 ? ` (approvers: ${request.approvers.join(", ")})` : "";
    return this.record(request, false, null, `no approval handler is configured${who}`);
  }

  get timeoutMs(): number | undefined {
    return this.#options.approvalTimeoutMs;
  }

  get handler(): ApprovalHandler | undefined {
    return this.#options.approval;
  }
}

function prepareOrRefuse(kernel: Kernel, callArgs: unknown[]): Prepared {
  try {
    return kernel.prepare(callArgs);
  } catch (e) {
    if (e instanceof RequestError) kernel.refuse(kernel.partialRequestJson(), e.message, "kernel:request", e);
    throw e;
  }
}

function governSync<F extends (...args: never[]) => unknown>(fn: F, kernel: Kernel): (...args: unknown[]) => unknown {
  return function governed(this: unknown, ...callArgs: unknown[]): unknown {
    const prepared = prepareOrRefuse(kernel, callArgs);
    const decision = kernel.decide(prepared);
    let approval: ApprovalRecord | null = null;
    if (decision.effect === "require_approval") {
      const request = kernel.approvalRequest(decision, prepared);
      const handler = kernel.handler;
      if (handler === undefined) {
        approval = kernel.noHandler(request);
      } else {
        let answer: unknown;
        try {
          answer = handler(request);
        } catch (e) {
          answer = undefined;
          approval = kernel.handlerFailed(prepared, decision, request, e);
        }
        if (approval === null && answer instanceof Promise) {
          answer.catch(() => undefined);
          kernel.handlerFailed(
            prepared,
            decision,
            request,
            new TypeError("the approval handler is async; govern an async function (or use governAsync)"),
          );
        }
        approval ??= kernel.answered(request, answer);
      }
    }
    kernel.finish(prepared.requestJson, decision, approval);
    return (fn as unknown as (...a: unknown[]) => unknown).apply(this, prepared.callArgs);
  };
}

async function ask(kernel: Kernel, handler: ApprovalHandler, request: ApprovalRequest): Promise<unknown> {
  const pending = Promise.resolve().then(() => handler(request));
  const timeout = kernel.timeoutMs;
  if (timeout === undefined) return pending;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<symbol>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), timeout);
  });
  try {
    return await Promise.race([pending, expired]);
  } finally {
    clearTimeout(timer);
    pending.catch(() => undefined);
  }
}

const TIMED_OUT = Symbol("timed out");

function governAsyncImpl<F extends (...args: never[]) => unknown>(fn: F, kernel: Kernel): (...args: unknown[]) => Promise<unknown> {
  return async function governed(this: unknown, ...callArgs: unknown[]): Promise<unknown> {
    const prepared = prepareOrRefuse(kernel, callArgs);
    const decision = kernel.decide(prepared);
    let approval: ApprovalRecord | null = null;
    if (decision.effect === "require_approval") {
      const request = kernel.approvalRequest(decision, prepared);
      const handler = kernel.handler;
      if (handler === undefined) {
        approval = kernel.noHandler(request);
      } else {
        let answer: unknown;
        try {
          answer = await ask(kernel, handler, request);
        } catch (e) {
          approval = kernel.handlerFailed(prepared, decision, request, e);
        }
        if (answer === TIMED_OUT) {
          approval = kernel.record(request, false, null, `approval handler gave no answer within ${kernel.timeoutMs} ms`);
        }
        approval ??= kernel.answered(request, answer);
      }
    }
    kernel.finish(prepared.requestJson, decision, approval);
    return await (fn as unknown as (...a: unknown[]) => unknown).apply(this, prepared.callArgs);
  };
}

function attach<F>(governed: unknown, fn: { name: string; length: number }, kernel: Kernel): Governed<F> {
  Object.defineProperties(governed, {
    name: { value: fn.name },
    policySet: { value: kernel.set, enumerable: true },
    auditLog: { value: kernel.audit, enumerable: true },
    toolName: { value: kernel.tool, enumerable: true },
  });
  return governed as Governed<F>;
}

/**
 * Wraps `fn` so that each call is judged against policy before it runs.
 *
 * `fn` takes one object of named arguments (conditions read them as `args.*`), or positional
 * arguments named by `params`. An `async function` gives an async governed function (which may
 * use an async approval handler); any other function a sync one (see `governAsync`).
 *
 * @throws PolicyError at wrap time, if the policy cannot be loaded.
 */
export function govern<F extends (...args: never[]) => unknown>(fn: F, options: GovernOptions): Governed<F> {
  if (typeof fn !== "function") throw new TypeError(`govern() needs a function, got ${typeof fn}`);
  if (options === null || typeof options !== "object" || !("policy" in options)) {
    throw new TypeError('govern() needs { policy }: a PolicySet, a policy document, or a path such as "policy.yaml"');
  }
  const kernel = new Kernel(fn.name, options);
  return attach<F>(isAsyncFunction(fn) ? governAsyncImpl(fn, kernel) : governSync(fn, kernel), fn, kernel);
}

/**
 * Like `govern`, but the governed function always returns a promise: for functions that return
 * promises without being `async function`s, and for async approval handlers.
 */
export function governAsync<F extends (...args: never[]) => unknown>(
  fn: F,
  options: GovernOptions,
): Governed<(...args: Parameters<F>) => Promise<Awaited<ReturnType<F>>>> {
  if (typeof fn !== "function") throw new TypeError(`governAsync() needs a function, got ${typeof fn}`);
  const kernel = new Kernel(fn.name, options);
  return attach(governAsyncImpl(fn, kernel), fn, kernel);
}
