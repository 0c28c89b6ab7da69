/** Compiled policy sets: policies in, the engine's decisions out. */

import { readFileSync, statSync } from "node:fs";

import { Decision, type DecisionData, type Stage } from "./_decision.js";
import { call, compile, loadYaml, type NativeEngine, unwrap, wellFormed } from "./_engine.js";
import { CanonicalJSONError, PolicyError, RequestError } from "./_errors.js";
import { dataJson, JsonSyntaxError, NotJsonData, readJson, writeJson } from "./_json.js";

/** A policy document (`apiVersion: governance.toolkit/v1`) as plain data. */
export type PolicyDocument = Record<string, unknown>;

/**
 * What `govern` and `PolicySet.from` accept as a policy: a compiled `PolicySet`, a policy
 * document or a list of them (plain objects), or the path of a policy file (`.yaml`, `.yml` or
 * `.json`).
 */
export type PolicySource = PolicySet | PolicyDocument | readonly PolicyDocument[] | string;

/** Largest policy file read (as the engine's loader and agent-os). */
const MAX_FILE_BYTES = 10 * 1024 * 1024;

/** Most decisions a policy set keeps for reuse. */
const DECISION_CACHE_MAX = 1024;

/** A rate limit a rule declares. */
export interface RuleLimit {
  readonly policy: string;
  readonly rule: string;
  readonly limit: string;
}

/** Seconds on a monotonic clock (rate-limit windows are measured with it). */
export type Clock = () => number;

/** The default clock: `performance.now()` in seconds (monotonic, never set back). */
export const monotonic: Clock = () => performance.now() / 1000;

interface Description {
  hash: string;
  policies: { name: string; hash: string }[];
  limits: RuleLimit[];
  warnings: string[];
  stages: Stage[];
}

/**
 * A compiled, immutable set of policies, decided by the engine, with its own rate limiter.
 *
 * Share one set between governed functions to share their rate limits (limits count calls per
 * agent, policy and rule within the set).
 */
export class PolicySet {
  readonly #engine: NativeEngine;
  readonly #description: Description;
  readonly #hash: string;
  /** Decisions by the engine's text: equal text, equal (immutable) decision; bounded. */
  readonly #decisions = new Map<string, Decision>();
  /** Where the policies came from (a file), when known. */
  readonly source: string | null;

  private constructor(engine: NativeEngine, source: string | null) {
    this.#engine = engine;
    this.#description = JSON.parse(call(() => engine.describe())) as Description;
    this.#hash = this.#description.hash;
    this.source = source;
    // a policy that loads but looks wrong (a condition reading a field its request_schema lacks):
    // Node's own warning channel, as Python's loader raises PolicyWarning
    for (const warning of this.#description.warnings) {
      process.emitWarning(source === null ? warning : `${source}: ${warning}`, { type: "PolicyWarning", code: "AGT_POLICY_WARNING" });
    }
  }

  /**
   * Compiles policies given as JSON text: one document, or a list of documents or of resolved
   * policies as agt-core's `ResolvedPolicy` dumps them (`document`, `sealed_rules`,
   * `content_hash`, `warnings`). Numbers keep their spelling: `5` is a CEL int, `5.0` a double.
   *
   * @throws PolicyError naming the policy and the path inside it.
   */
  static fromJson(text: string, source: string | null = null): PolicySet {
    let raw;
    try {
      raw = readJson(wellFormed(text, "the policy text"));
    } catch (e) {
      if (e instanceof JsonSyntaxError) throw new PolicyError(`the policy is not valid JSON: ${e.message}`, { file: source });
      throw e;
    }
    const list = Array.isArray(raw) ? raw : [raw];
    try {
      return new PolicySet(compile(writeJson(list)), source);
    } catch (e) {
      if (e instanceof PolicyError && source !== null) {
        throw new PolicyError(e.reason, { ...e, file: source });
      }
      throw e;
    }
  }

  /** Compiles policy documents given as plain objects (or one document). */
  static fromDocuments(documents: PolicyDocument | readonly PolicyDocument[]): PolicySet {
    const list = Array.isArray(documents) ? documents : [documents];
    let json: string;
    try {
      json = dataJson(list, "policies").json;
    } catch (e) {
      if (e instanceof NotJsonData) throw new PolicyError(e.message, { path: e.path });
      throw e;
    }
    return new PolicySet(compile(json), null);
  }

  /**
   * Loads `governance.toolkit/v1` YAML (or JSON) text with the engine's loader: one policy per
   * document (`---`), every error with its line, column and path. `extends` is refused: the
   * engine runs in WebAssembly without a filesystem to read parents from.
   *
   * @throws PolicyError
   */
  static fromYaml(text: string, source: string | null = null): PolicySet {
    try {
      return new PolicySet(loadYaml(text), source);
    } catch (e) {
      if (!(e instanceof PolicyError)) throw e;
      const help = /`extends`/.test(e.reason)
        ? "the TypeScript SDK's engine runs in WebAssembly without a filesystem, so it cannot read parent " +
          "policies: list the parents' rules in the policy itself, or pass every policy to PolicySet.fromYaml " +
          "as `---` documents of one text"
        : e.help;
      throw new PolicyError(e.reason, { ...e, file: e.file ?? source }, help);
    }
  }

  /** Reads and compiles a policy file: YAML (`.yaml`, `.yml`) or JSON, as the engine's loader reads them. */
  static load(path: string): PolicySet {
    let text: string;
    try {
      if (statSync(path).size > MAX_FILE_BYTES) {
        throw new Error(`the file is larger than ${MAX_FILE_BYTES / (1024 * 1024)} MiB`);
      }
      text = readFileSync(path, "utf8");
    } catch (e) {
      throw new PolicyError(`cannot read the policy file: ${(e as Error).message}`, { file: path });
    }
    return PolicySet.fromYaml(text, path);
  }

  /** Any `PolicySource`: a set is returned as is (sharing its rate limits). */
  static from(source: PolicySource): PolicySet {
    if (source instanceof PolicySet) return source;
    if (typeof source === "string") return PolicySet.load(source);
    if (source !== null && typeof source === "object") return PolicySet.fromDocuments(source);
    throw new TypeError("policy must be a PolicySet, a policy document, a list of documents or a file path");
  }

  /** `sha256:<hex>` over the policies' names and content hashes, in load order. */
  get hash(): string {
    return this.#hash;
  }

  /** Policy names in load order. */
  get policyNames(): string[] {
    return this.#description.policies.map((p) => p.name);
  }

  /** Content hash (`sha256:<hex>`) per policy name. */
  get policyHashes(): Record<string, string> {
    return Object.fromEntries(this.#description.policies.map((p) => [p.name, p.hash]));
  }

  /** Every rule that declares a rate limit. */
  get limits(): readonly RuleLimit[] {
    return this.#description.limits;
  }

  /** Load warnings (each also emitted as a Node `PolicyWarning` when the set is compiled). */
  get warnings(): readonly string[] {
    return this.#description.warnings;
  }

  /** Stages with at least one enabled rule. */
  get stages(): readonly Stage[] {
    return this.#description.stages;
  }

  /**
   * Decides a request given as JSON text, as the conformance vectors specify it: policy
   * evaluation, then (when `now` is given, seconds on a monotonic clock) the matched rules' rate
   * limits, which this call counts against. The request may be malformed on purpose; the
   * engine then denies with an error saying why.
   *
   * @throws RequestError when the text is not JSON; EngineError when the engine failed.
   */
  decideJson(requestJson: string, now?: number): Decision {
    wellFormed(requestJson, "the request");
    const envelope = call(() =>
      now === undefined ? this.#engine.evaluate(requestJson) : this.#engine.decide(requestJson, now),
    );
    const cached = this.#decisions.get(envelope);
    if (cached !== undefined) return cached;
    try {
      const decision = new Decision(unwrap<DecisionData>(envelope));
      if (this.#decisions.size >= DECISION_CACHE_MAX) this.#decisions.clear();
      this.#decisions.set(envelope, decision);
      return decision;
    } catch (e) {
      // the engine's strict reader refused the text (a duplicate key, a lone surrogate, NaN)
      if (e instanceof CanonicalJSONError) throw new RequestError(`the request is not JSON data: ${e.message}`);
      throw e;
    }
  }

  /**
   * Evaluates a request (plain data: `action`, `args`, `agent`, `context`, `stage`) without
   * rate limits. Safe integers are CEL ints, other numbers doubles.
   *
   * @throws RequestError when the request is not JSON data.
   */
  evaluate(request: Record<string, unknown>): Decision {
    let json: string;
    try {
      json = dataJson(request, "request").json;
    } catch (e) {
      if (e instanceof NotJsonData) throw new RequestError(e.message);
      throw e;
    }
    return this.decideJson(json);
  }
}
