using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace Agt
{
    /// <summary>The effects a decision can have. Allow, warn and log let the call run.</summary>
    public static class Effects
    {
        public const string Allow = "allow", Deny = "deny", RequireApproval = "require_approval", Warn = "warn", Log = "log";

        public static bool IsPermissive(string effect) { return effect == Allow || effect == Warn || effect == Log; }
    }

    /// <summary>A rule whose condition held, or errored in a restrictive rule (fail closed).</summary>
    public sealed class MatchedRule
    {
        public string Policy { get; internal set; }
        public string Rule { get; internal set; }
        public string Action { get; internal set; }
        public long Priority { get; internal set; }
        public bool Errored { get; internal set; }
    }

    /// <summary>An evaluation error, or a refusal (Policy and Rule null).</summary>
    public sealed class RuleError
    {
        public string Policy { get; internal set; }
        public string Rule { get; internal set; }
        public string Message { get; internal set; }
    }

    /// <summary>
    /// What the engine concluded about one request, with the fields of agt-core's Decision, so an
    /// audit record written here reads the same as one written by the Python toolkit.
    /// </summary>
    public sealed class Decision
    {
        public string Effect { get; internal set; }
        public bool Allowed { get; internal set; }
        public string Rule { get; internal set; }
        public string Policy { get; internal set; }
        public string PolicyHash { get; internal set; }
        public string PolicySetHash { get; internal set; }
        public string Message { get; internal set; }
        public string Stage { get; internal set; }
        public IList<MatchedRule> Matched { get; internal set; }
        public IList<RuleError> Errors { get; internal set; }
        public string ConflictStrategy { get; internal set; }
        public IList<string> Approvers { get; internal set; }
        public bool RateLimited { get; internal set; }
        /// <summary>Who refused when the policy did not decide (kernel:request, ...); null when it did.</summary>
        public string RefusedBy { get; internal set; }
        /// <summary>The evaluator that decided ("native"); null for a refusal before evaluation.</summary>
        public string Evaluator { get; internal set; }

        internal Decision()
        {
            Message = "";
            Stage = "pre_tool";
            Matched = new List<MatchedRule>();
            Errors = new List<RuleError>();
            Approvers = new List<string>();
        }

        internal static Decision FromJson(JsonValue j)
        {
            var d = new Decision
            {
                Effect = S(j, "effect"),
                Allowed = j.Get("allowed") != null && j.Get("allowed").AsBool,
                Rule = S(j, "rule"),
                Policy = S(j, "policy"),
                PolicyHash = S(j, "policy_hash"),
                PolicySetHash = S(j, "policy_set_hash"),
                Message = S(j, "message") ?? "",
                Stage = S(j, "stage") ?? "pre_tool",
                ConflictStrategy = S(j, "conflict_strategy"),
                RateLimited = j.Get("rate_limited") != null && j.Get("rate_limited").AsBool,
                RefusedBy = S(j, "refused_by"),
                Evaluator = S(j, "evaluator"),
            };
            var matched = j.Get("matched");
            if (matched != null)
                d.Matched = matched.Items.Select(m => new MatchedRule
                {
                    Policy = S(m, "policy"), Rule = S(m, "rule"), Action = S(m, "action"),
                    Priority = m.Get("priority") != null ? m.Get("priority").AsLong : 0,
                    Errored = m.Get("errored") != null && m.Get("errored").AsBool,
                }).ToList();
            var errors = j.Get("errors");
            if (errors != null)
                d.Errors = errors.Items.Select(e => new RuleError { Policy = S(e, "policy"), Rule = S(e, "rule"), Message = S(e, "message") ?? "" }).ToList();
            var approvers = j.Get("approvers");
            if (approvers != null) d.Approvers = approvers.Items.Select(a => a.AsString).ToList();
            if (d.Effect == null) throw new EngineException(-1, "the engine returned a decision without an effect");
            return d;
        }

        static string S(JsonValue j, string key)
        {
            var v = j.Get(key);
            return v != null && v.Kind == JsonKind.String ? v.AsString : null;
        }

        /// <summary>Every field (nulls and empty lists included), as agt-core dumps a Decision.</summary>
        public string ToJson()
        {
            var sb = new StringBuilder("{");
            Field(sb, "effect", Effect, false);
            sb.Append(",\"allowed\":").Append(Allowed ? "true" : "false");
            Field(sb, "rule", Rule);
            Field(sb, "policy", Policy);
            Field(sb, "policy_hash", PolicyHash);
            Field(sb, "policy_set_hash", PolicySetHash);
            Field(sb, "message", Message);
            Field(sb, "stage", Stage);
            sb.Append(",\"matched\":[");
            for (int i = 0; i < Matched.Count; i++)
            {
                var m = Matched[i];
                if (i > 0) sb.Append(',');
                sb.Append('{');
                Field(sb, "policy", m.Policy, false);
                Field(sb, "rule", m.Rule);
                Field(sb, "action", m.Action);
                sb.Append(",\"priority\":").Append(m.Priority);
                sb.Append(",\"errored\":").Append(m.Errored ? "true" : "false").Append('}');
            }
            sb.Append("],\"errors\":[");
            for (int i = 0; i < Errors.Count; i++)
            {
                if (i > 0) sb.Append(',');
                sb.Append('{');
                Field(sb, "policy", Errors[i].Policy, false);
                Field(sb, "rule", Errors[i].Rule);
                Field(sb, "message", Errors[i].Message);
                sb.Append('}');
            }
            sb.Append(']');
            Field(sb, "conflict_strategy", ConflictStrategy);
            sb.Append(",\"approvers\":[").Append(string.Join(",", Approvers.Select(JsonValue.Quote))).Append(']');
            sb.Append(",\"rate_limited\":").Append(RateLimited ? "true" : "false");
            Field(sb, "refused_by", RefusedBy);
            Field(sb, "evaluator", Evaluator);
            return sb.Append('}').ToString();
        }

        static void Field(StringBuilder sb, string key, string value, bool comma = true)
        {
            if (comma) sb.Append(',');
            sb.Append('"').Append(key).Append("\":");
            if (value == null) sb.Append("null");
            else JsonValue.WriteString(sb, value);
        }

        /// <summary>One line: the effect, who decided, and why.</summary>
        public string Summary()
        {
            string who;
            if (Rule != null) who = "rule `" + Rule + "` of policy `" + Policy + "`";
            else if (RefusedBy != null) who = RefusedBy;
            else if (Policy != null) who = "the default of policy `" + Policy + "`";
            else who = "the kernel";
            var text = Effect + " by " + who;
            if (RateLimited) text += " (rate limited)";
            if (!string.IsNullOrEmpty(Message)) text += ": " + Message;
            if (Errors.Count > 0) text += " [" + Errors.Count + " error" + (Errors.Count > 1 ? "s" : "") + "]";
            return text;
        }

        public override string ToString() { return Summary(); }
    }
}
