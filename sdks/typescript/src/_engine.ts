/**
 * The one way into the WebAssembly engine (`pkg/agt_wasm.js`, built by wasm-bindgen for Node).
 *
 * Loaded on first use. Every call goes through `call`: an engine error arrives as an envelope and
 * becomes a typed error here; a trap (a Rust panic) becomes `EngineError` with the panic's message,
 * and marks the engine as failed for the rest of the process, because memory after a trap is in
 * an unknown state: from then on every governed call is refused (fail closed) until restart.
 */

import {
  AuditIntegrityError,
  AuditWriteError,
  CanonicalJSONError,
  EngineError,
  PolicyError,
  RequestError,
} from "./_errors.js";

/** A compiled policy set inside the engine (its rate limiter included). */
export interface NativeEngine {
  describe(): string;
  evaluate(requestJson: string): string;
  decide(requestJson: string, now: number): string;
  free(): void;
}

interface NativeModule {
  Engine: { compile(policiesJson: string): NativeEngine; loadYaml(text: string): NativeEngine };
  canonicalJson(text: string): string;
  contentHash(text: string): string;
  sha256Hex(text: string): string;
  auditRecordBody(
    seq: number,
    timestamp: string,
    prevHash: string,
    requestJson: string,
    decisionJson: string,
    approvalJson: string,
  ): string;
  auditRecordHash(body: string): string;
  auditRecordLine(body: string, hash: string): string;
  auditVerifyLines(trail: string, pinJson: string): string;
  utcTimestamp(micros: number): string;
  takePanic(): string | undefined;
  panicForTests(message: string): void;
  engineVersion(): string;
}

interface EngineFailure {
  kind: string;
  message: string;
  policy?: string | null;
  path?: string | null;
  line?: number | null;
  column?: number | null;
  file?: string | null;
  index?: number;
}

/** What a trap throws (`WebAssembly.RuntimeError`; Node's types do not declare the namespace). */
const WASM_TRAP = (globalThis as unknown as { WebAssembly: { RuntimeError: new () => Error } }).WebAssembly.RuntimeError;

let loaded: NativeModule | undefined;
let failed: string | undefined;

function native(): NativeModule {
  if (failed !== undefined) {
    throw new EngineError(`the policy engine failed earlier in this process (${failed}); every call is refused`, {
      help: "restart the process; report the first error",
    });
  }
  if (loaded === undefined) {
    try {
      loaded = require("../pkg/agt_wasm.js") as NativeModule;
    } catch (cause) {
      throw new EngineError(`the policy engine could not be loaded: ${String(cause)}`, {
        help: "build it first: cargo build --target wasm32-unknown-unknown in sdks/typescript/wasm, then wasm-bindgen --target nodejs --out-dir pkg",
        cause,
      });
    }
  }
  return loaded;
}

/**
 * Refuses text with a lone surrogate: crossing into the engine would replace it with U+FFFD,
 * so the engine would judge or hash other text than the caller's.
 */
export function wellFormed(text: string, what: string): string {
  if (!(text as unknown as { isWellFormed(): boolean }).isWellFormed()) {
    throw new CanonicalJSONError(`${what} holds a lone surrogate, which has no UTF-8 form`);
  }
  return text;
}

/** Runs `f` on the engine; a trap becomes `EngineError` and fails the engine for good. */
export function call<T>(f: (engine: NativeModule) => T): T {
  const engine = native();
  try {
    return f(engine);
  } catch (cause) {
    if (cause instanceof WASM_TRAP) {
      let panic: string | undefined;
      try {
        panic = engine.takePanic();
      } catch {
        panic = undefined;
      }
      failed = `the engine trapped: ${panic ?? (cause as Error).message}`;
      throw new EngineError(failed, { cause, help: "restart the process; every later call is refused" });
    }
    throw cause;
  }
}

function failure(text: string): EngineFailure {
  try {
    const parsed = JSON.parse(text) as EngineFailure | { error?: EngineFailure };
    if ("kind" in parsed && typeof parsed.kind === "string") return parsed;
    if ("error" in parsed && parsed.error !== undefined) return parsed.error;
  } catch {
    // not an envelope: fall through
  }
  return { kind: "engine", message: text };
}

/** Unwraps `{"ok": value}`; `{"error": ...}` becomes the matching typed error. */
export function unwrap<T>(envelope: string): T {
  const parsed = JSON.parse(envelope) as { ok?: T; error?: EngineFailure };
  if (parsed.error !== undefined) throw toError(parsed.error);
  return parsed.ok as T;
}

/** The typed error for an engine failure, by its `kind`. */
export function toError(e: EngineFailure): Error {
  switch (e.kind) {
    case "policy":
      return new PolicyError(e.message, e);
    case "request":
      return new RequestError(e.message);
    case "audit_integrity":
      return new AuditIntegrityError(e.message, e.index ?? 0);
    case "audit_write":
      return new AuditWriteError(e.message);
    case "unpinned":
    case "invalid_argument":
      return new TypeError(e.message);
    case "internal":
      return new EngineError(e.message);
    default:
      // the strict reader's and canonical writer's kinds: syntax, duplicate_key, not_json,
      // lone_surrogate, number_overflow, inexact_integer, too_deep
      return new CanonicalJSONError(e.message);
  }
}

function compiled(build: (m: NativeModule) => NativeEngine): NativeEngine {
  return call((m) => {
    try {
      return build(m);
    } catch (thrown) {
      if (typeof thrown === "string") throw toError(failure(thrown));
      throw thrown;
    }
  });
}

/** Compiles resolved policies (JSON text of a list) into an engine policy set. */
export function compile(policiesJson: string): NativeEngine {
  wellFormed(policiesJson, "the policies");
  return compiled((m) => m.Engine.compile(policiesJson));
}

/** Loads `governance.toolkit/v1` YAML (or JSON) text with the engine's loader and compiles it. */
export function loadYaml(text: string): NativeEngine {
  wellFormed(text, "the policy text");
  return compiled((m) => m.Engine.loadYaml(text));
}

/** RFC 8785 canonical JSON of JSON text, by the engine. */
export function canonicalText(text: string): string {
  wellFormed(text, "the value");
  return unwrap<string>(call((m) => m.canonicalJson(text)));
}

/** Lowercase hex SHA-256 of a text's UTF-8 bytes, by the engine. */
export function sha256Hex(text: string): string {
  wellFormed(text, "the text");
  return call((m) => m.sha256Hex(text));
}

/** The engine crate's version. */
export function engineVersion(): string {
  return call((m) => m.engineVersion());
}

/** Makes the engine panic (tests: a trap must refuse, never allow). */
export function panicForTests(message: string): void {
  call((m) => m.panicForTests(message));
}
