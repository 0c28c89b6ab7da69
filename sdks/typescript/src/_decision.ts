/** The decision: what the engine concluded about one request, and why (field for field agt-core's). */

/** What a rule does, and so what a decision's effect can be. */
export type Effect = "allow" | "deny" | "require_approval" | "warn" | "log";

/** Where in an agent's turn a request is judged. */
export type Stage = "pre_input" | "pre_tool" | "post_tool" | "pre_output";

/** How a policy resolves several matching rules. */
export type ConflictStrategy = "deny_overrides" | "allow_overrides" | "priority_first_match" | "most_specific_wins";

/** A rule whose condition held (or that errored, for a restrictive rule: fail closed). */
export interface MatchedRule {
  readonly policy: string;
  readonly rule: string;
  readonly action: Effect;
  readonly priority: number;
  /** Counted as matched only because its condition failed. */
  readonly errored: boolean;
}

/** A condition that failed on the request, or a refusal (no policy, no rule). */
export interface RuleError {
  readonly policy: string | null;
  readonly rule: string | null;
  readonly message: string;
}

/** The decision's fields, as agt-core's `Decision.model_dump(mode="json")` writes them. */
export interface DecisionData {
  readonly effect: Effect;
  readonly allowed: boolean;
  readonly rule: string | null;
  readonly policy: string | null;
  readonly policy_hash: string | null;
  readonly policy_set_hash: string | null;
  readonly message: string;
  readonly stage: Stage;
  readonly matched: readonly MatchedRule[];
  readonly errors: readonly RuleError[];
  readonly conflict_strategy: ConflictStrategy | null;
  readonly approvers: readonly string[];
  readonly rate_limited: boolean;
  /** Who refused when the policy did not decide (`kernel:request`, `kernel:evaluator`, ...). */
  readonly refused_by: string | null;
  /** The evaluator that reached the decision (`native`: the engine); null when none took part. */
  readonly evaluator: string | null;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object") {
    for (const item of Object.values(value)) deepFreeze(item);
    Object.freeze(value);
  }
  return value;
}

/** An immutable decision. `allowed` is true exactly when the effect is allow, warn or log. */
export class Decision implements DecisionData {
  readonly effect!: Effect;
  readonly allowed!: boolean;
  readonly rule!: string | null;
  readonly policy!: string | null;
  readonly policy_hash!: string | null;
  readonly policy_set_hash!: string | null;
  readonly message!: string;
  readonly stage!: Stage;
  readonly matched!: readonly MatchedRule[];
  readonly errors!: readonly RuleError[];
  readonly conflict_strategy!: ConflictStrategy | null;
  readonly approvers!: readonly string[];
  readonly rate_limited!: boolean;
  readonly refused_by!: string | null;
  readonly evaluator!: string | null;

  constructor(data: DecisionData) {
    const allowed = data.effect === "allow" || data.effect === "warn" || data.effect === "log";
    if (data.allowed !== allowed) {
      throw new TypeError(`decision: \`allowed\` must be ${allowed} when effect is \`${data.effect}\``);
    }
    Object.assign(this, {
      effect: data.effect,
      allowed: data.allowed,
      rule: data.rule,
      policy: data.policy,
      policy_hash: data.policy_hash,
      policy_set_hash: data.policy_set_hash,
      message: data.message,
      stage: data.stage,
      matched: data.matched.map((m) => ({ ...m })),
      errors: data.errors.map((e) => ({ ...e })),
      conflict_strategy: data.conflict_strategy,
      approvers: [...data.approvers],
      rate_limited: data.rate_limited,
      refused_by: data.refused_by,
      evaluator: data.evaluator ?? null,
    });
    deepFreeze(this);
  }

  /** A copy with some fields changed. */
  with(changes: Partial<DecisionData>): Decision {
    return new Decision({ ...this.toJSON(), ...changes });
  }

  /** The fields, as plain data (what the audit record holds). */
  toJSON(): DecisionData {
    return {
      effect: this.effect,
      allowed: this.allowed,
      rule: this.rule,
      policy: this.policy,
      policy_hash: this.policy_hash,
      policy_set_hash: this.policy_set_hash,
      message: this.message,
      stage: this.stage,
      matched: this.matched,
      errors: this.errors,
      conflict_strategy: this.conflict_strategy,
      approvers: this.approvers,
      rate_limited: this.rate_limited,
      refused_by: this.refused_by,
      evaluator: this.evaluator,
    };
  }

  /** One line: the effect, who decided, and why. */
  summary(): string {
    let who: string;
    if (this.rule !== null) who = `rule \`${this.rule}\` of policy \`${this.policy}\``;
    else if (this.refused_by !== null) who = this.refused_by;
    else if (this.policy !== null) who = `the default of policy \`${this.policy}\``;
    else who = "the kernel";
    let text = `${this.effect} by ${who}`;
    if (this.rate_limited) text += " (rate limited)";
    if (this.message) text += `: ${this.message.length <= 120 ? this.message : `${this.message.slice(0, 119)}…`}`;
    if (this.errors.length > 0) text += ` [${this.errors.length} error${this.errors.length > 1 ? "s" : ""}]`;
    return text;
  }

  toString(): string {
    return this.summary();
  }
}
