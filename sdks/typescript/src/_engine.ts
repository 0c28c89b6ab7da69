/**
 * The one way into the WebAssembly engine (`pkg/agt_wasm.js`, built by wasm-bindgen for Node).
 *
 * Loaded on first use. Every call goes through `call`: an engine error arrives as an envelope and
 * becomes a typed error here; a trap (a Rust panic) becomes `EngineError` with the panic's message,
 * and marks the engine as failed for the rest of the process, because memory after a trap is in
 * an unknown state: from then on every governed call is refused (fail closed) until restart.
 */

import { CanonicalJSONError, EngineError, PolicyError } from "./_errors.js";

/** A compiled policy set inside the engine (its rate limiter included). */
export interface NativeEngine {
  readonly hash: string;
  describe(): string;
  decide(requestJson: string, now?: number | null): string;
  free(): void;
}

interface NativeModule {
  Engine: { compile(policiesJson: string): NativeEngine };
  canonicalJson(text: string): string;
  sha256Hex(text: string): string;
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
    const parsed = JSON.parse(text) as { error?: EngineFailure };
    if (parsed.error !== undefined) return parsed.error;
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

function toError(e: EngineFailure): Error {
  switch (e.kind) {
    case "policy":
      return new PolicyError(e.message, e);
    case "canonical":
    case "json":
      return new CanonicalJSONError(e.message);
    default:
      return new EngineError(e.message);
  }
}

/** Compiles resolved policies (JSON text of a list) into an engine policy set. */
export function compile(policiesJson: string): NativeEngine {
  wellFormed(policiesJson, "the policies");
  return call((m) => {
    try {
      return m.Engine.compile(policiesJson);
    } catch (thrown) {
      if (typeof thrown === "string") throw toError(failure(thrown));
      throw thrown;
    }
  });
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
