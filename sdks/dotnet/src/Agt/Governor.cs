using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Agt
{
    /// <summary>Options of a <see cref="Governor"/>.</summary>
    public sealed class GovernorOptions
    {
        /// <summary>agent.id in conditions.</summary>
        public string AgentId = "default";
        /// <summary>agent.&lt;name&gt; in conditions.</summary>
        public IDictionary<string, object> AgentAttributes;
        /// <summary>Fixed context.&lt;name&gt; for every call.</summary>
        public IDictionary<string, object> Context;
        /// <summary>Decides require_approval decisions (default: refuse them).</summary>
        public IApprovalHandler ApprovalHandler;
        /// <summary>How long to wait for the approval handler before refusing (default 300 s; null waits forever).</summary>
        public TimeSpan? ApprovalTimeout = TimeSpan.FromSeconds(300);
        /// <summary>Where decisions are recorded (default: a new in-memory log).</summary>
        public AuditLog AuditLog;
        /// <summary>Turn auditing off.</summary>
        public bool NoAudit;
        /// <summary>The monotonic clock (seconds) rate limits count on (default: a Stopwatch).</summary>
        public Func<double> RateLimitClock;
        /// <summary>Where approval timestamps come from (default: the UTC clock).</summary>
        public Func<DateTime> Now;
    }

    /// <summary>The outcome of one pass through the pipeline.</summary>
    public sealed class Enforcement
    {
        /// <summary>Whether the call may run: the decision allows, or an approval was given.</summary>
        public bool Allowed { get; internal set; }
        public Decision Decision { get; internal set; }
        public ApprovalRecord Approval { get; internal set; }
        /// <summary>Hash of this outcome's audit record (null without an audit log).</summary>
        public string AuditHash { get; internal set; }
        /// <summary>Canonical JSON of the request that was judged.</summary>
        public string Request { get; internal set; }
    }

    /// <summary>
    /// Per-call agent and context for governed calls made inside a <c>using</c> block (flows with
    /// async calls): <c>using (GovernanceContext.Fields(new Dictionary&lt;string, object&gt; { ["ticket"] = "OPS-12" })) { ... }</c>.
    /// </summary>
    public static class GovernanceContext
    {
        internal sealed class Frame
        {
            public string AgentId;
            public IDictionary<string, object> Agent;
            public Dictionary<string, object> Fields = new Dictionary<string, object>(StringComparer.Ordinal);
        }

        internal static readonly AsyncLocal<Frame> Current = new AsyncLocal<Frame>();

        /// <summary>Adds context.&lt;name&gt; fields; nested blocks merge, inner values winning.</summary>
        public static IDisposable Fields(IDictionary<string, object> fields)
        {
            var outer = Current.Value;
            var frame = new Frame();
            if (outer != null) { frame.AgentId = outer.AgentId; frame.Agent = outer.Agent; foreach (var kv in outer.Fields) frame.Fields[kv.Key] = kv.Value; }
            foreach (var kv in fields) frame.Fields[kv.Key] = kv.Value;
            return Push(frame, outer);
        }

        /// <summary>Acts as this agent (agent.id and attributes) in place of the governor's.</summary>
        public static IDisposable Agent(string id, IDictionary<string, object> attributes = null)
        {
            if (string.IsNullOrEmpty(id)) throw new ArgumentException("the agent id must not be empty", "id");
            var outer = Current.Value;
            var frame = new Frame { AgentId = id, Agent = attributes };
            if (outer != null) foreach (var kv in outer.Fields) frame.Fields[kv.Key] = kv.Value;
            return Push(frame, outer);
        }

        static IDisposable Push(Frame frame, Frame outer)
        {
            Current.Value = frame;
            return new Pop(outer);
        }

        sealed class Pop : IDisposable
        {
            readonly Frame outer;
            public Pop(Frame outer) { this.outer = outer; }
            public void Dispose() { Current.Value = outer; }
        }
    }

    /// <summary>
    /// Runs the governed-call pipeline for one compiled policy set: evaluate (in the Rust engine),
    /// rate limits, the approval handler for require_approval, the audit log; every refusal takes
    /// the same audited path. Thread-safe; delegates governed by one Governor share its rate limits
    /// and audit log.
    /// </summary>
    public sealed class Governor
    {
        static readonly string[] Stages = { "pre_input", "pre_tool", "post_tool", "pre_output" };

        readonly RateLimiterHandle limiter;
        readonly IApprovalHandler approval;
        readonly TimeSpan? approvalTimeout;
        readonly Func<double> clock;
        readonly Func<DateTime> now;
        readonly Dictionary<string, object> agent;
        readonly Dictionary<string, object> context;
        readonly bool postTool;

        public PolicySet Policy { get; private set; }
        /// <summary>Where decisions are recorded (null when auditing is off).</summary>
        public AuditLog AuditLog { get; private set; }

        public Governor(PolicySet policy, GovernorOptions options = null)
        {
            if (policy == null) throw new ArgumentNullException("policy");
            options = options ?? new GovernorOptions();
            Policy = policy;
            AuditLog = options.NoAudit ? null : (options.AuditLog ?? new AuditLog(now: options.Now));
            approval = options.ApprovalHandler ?? new DenyApprovals();
            if (options.ApprovalTimeout.HasValue && options.ApprovalTimeout.Value < TimeSpan.Zero)
                throw new ArgumentException("the approval timeout must not be negative");
            approvalTimeout = options.ApprovalTimeout;
            var watch = Stopwatch.StartNew();
            clock = options.RateLimitClock ?? (() => watch.Elapsed.TotalSeconds);
            now = options.Now ?? (() => DateTime.UtcNow);
            agent = new Dictionary<string, object>(StringComparer.Ordinal);
            if (options.AgentAttributes != null) foreach (var kv in options.AgentAttributes) agent[kv.Key] = kv.Value;
            agent["id"] = options.AgentId ?? "default";
            context = new Dictionary<string, object>(StringComparer.Ordinal);
            if (options.Context != null) foreach (var kv in options.Context) context[kv.Key] = kv.Value;
            Codec.Encode(agent, "agent");
            Codec.Encode(context, "context");
            postTool = policy.Stages.Contains("post_tool");
            limiter = Native.NewRateLimiter();
        }

        /// <summary>Loads a policy file and returns a governor over it.</summary>
        public static Governor FromFile(string path, GovernorOptions options = null) { return new Governor(PolicySet.FromFile(path), options); }

        /// <summary>
        /// Runs the pipeline on one request (JSON: action, args, agent, context, stage). A refusal is
        /// not an exception: the outcome says Allowed false. Throws AuditException when the outcome
        /// could not be recorded (the call must not run) and ApprovalException when the approval
        /// handler failed (the refusal was recorded first).
        /// </summary>
        public Enforcement Enforce(string requestJson)
        {
            string canonical;
            try { canonical = Canonical.Json(requestJson); }
            catch (Exception e) when (!(e is OutOfMemoryException))
            {
                return Refuse(Unreadable(requestJson), "request could not be read: " + e.Message, "kernel:request");
            }
            // The engine judges the request as given: canonical JSON writes 100.0 as `100`, which a
            // condition would read as an int. The canonical form is what the audit records.
            var decision = Decide(requestJson);
            if (decision.Effect != Effects.RequireApproval) return Finish(canonical, decision, null);
            var request = new ApprovalRequest { Decision = decision, Request = canonical, RequestHash = Canonical.ContentHash(canonical) };
            Exception failed;
            var record = Ask(request, out failed);
            var outcome = Finish(canonical, decision, record);
            if (failed != null) throw new ApprovalException(decision.Rule, failed.GetType().Name + ": " + failed.Message, failed);
            return outcome;
        }

        /// <summary>Evaluates and applies rate limits; any failure of the engine is a deny naming it, never an allow.</summary>
        public Decision Decide(string requestJson)
        {
            try
            {
                return Decision.FromJson(JsonValue.Parse(Native.Decide(Policy.Handle, limiter, requestJson, clock())));
            }
            catch (RequestException e) { return Refusal("request could not be judged: " + e.Message, StageOf(requestJson), "kernel:request"); }
            catch (Exception e) when (!(e is OutOfMemoryException))
            {
                var by = e is EngineException && ((EngineException)e).Status == Native.StatusInvalid ? "kernel:request" : "kernel:evaluator";
                return Refusal("the policy evaluator failed: " + e.Message, StageOf(requestJson), by);
            }
        }

        /// <summary>Records and returns a refusal decided outside the policy (<paramref name="by"/> names who: "guard:kill-switch").</summary>
        public Enforcement Refuse(string requestJson, string reason, string by)
        {
            string canonical;
            try { canonical = Canonical.Json(requestJson); }
            catch (Exception) { canonical = Unreadable(requestJson); }
            return Finish(canonical, Refusal(reason, StageOf(canonical), by), null);
        }

        Decision Refusal(string reason, string stage, string by)
        {
            var d = new Decision { Effect = Effects.Deny, Allowed = false, PolicySetHash = Policy.Hash, Message = reason, Stage = stage, RefusedBy = by };
            d.Errors = new List<RuleError> { new RuleError { Message = reason } };
            return d;
        }

        Enforcement Finish(string request, Decision decision, ApprovalRecord record)
        {
            var e = new Enforcement { Allowed = decision.Allowed || (record != null && record.Approved), Decision = decision, Approval = record, Request = request };
            if (AuditLog != null)
            {
                try { e.AuditHash = AuditLog.Append(request, decision, record); }
                catch (AuditException x)
                {
                    throw new AuditException("the call was refused because its decision could not be recorded: " + x.Message, x);
                }
            }
            return e;
        }

        ApprovalRecord Ask(ApprovalRequest request, out Exception failed)
        {
            failed = null;
            string handler = approval.GetType().Name;
            Func<bool, string, string, bool, ApprovalRecord> record = (approved, approver, reason, pending) => new ApprovalRecord
            {
                Approved = approved, Approver = approver, DecidedAt = AuditLog.Timestamp(now()), RequestHash = request.RequestHash,
                Handler = handler, Reason = reason ?? "", Pending = pending,
            };
            ApprovalResponse answer;
            try
            {
                var task = Task.Run(() => approval.Decide(request));
                if (approvalTimeout.HasValue && !task.Wait(approvalTimeout.Value))
                    return record(false, null, "approval handler gave no answer within " + approvalTimeout.Value.TotalSeconds.ToString(CultureInfo.InvariantCulture) + " s", false);
                answer = task.Result;
            }
            catch (Exception e)
            {
                var inner = e is AggregateException ? ((AggregateException)e).Flatten().InnerExceptions.First() : e;
                var pending = inner as ApprovalPendingException;
                if (pending != null) return record(false, null, pending.Message.Length > 0 ? pending.Message : "waiting for a decision out of band", true);
                failed = inner;
                return record(false, null, "approval handler failed: " + inner.GetType().Name + ": " + inner.Message, false);
            }
            if (answer == null) return record(false, null, "approval handler returned null, not an ApprovalResponse", false);
            if (answer.Approved)
            {
                if (answer.RequestHash == null)
                    return record(false, null, "the approval is not bound to a request; answer with request.Approve(approver)", false);
                if (answer.RequestHash != request.RequestHash)
                    return record(false, null, "the approval was given for a different request (request hash mismatch)", false);
            }
            return record(answer.Approved, answer.Approver, answer.Reason, false);
        }

        /// <summary>
        /// Wraps <paramref name="fn"/> so every call is judged first. The argument (an object whose
        /// public properties are the arguments, or a dictionary with string keys) becomes args;
        /// action.type is the normalised "action" argument when there is one, else the tool name.
        /// The delegate receives a fresh copy decoded from the judged JSON, so what runs is what was
        /// judged; arguments that do not read back as the same JSON are refused. A refused call
        /// throws GovernanceDeniedException (audited). With post_tool rules, the result is judged
        /// too and a refused result is withheld.
        /// </summary>
        public Func<TArgs, TResult> Govern<TArgs, TResult>(string tool, Func<TArgs, TResult> fn)
        {
            if (fn == null) throw new ArgumentNullException("fn");
            return args =>
            {
                TArgs fresh;
                var outcome = Before(tool, args, out fresh);
                var result = fn(fresh);
                After(tool, outcome, result);
                return result;
            };
        }

        /// <summary>
        /// <see cref="Govern{TArgs, TResult}"/> for asynchronous delegates: the judging (and a
        /// waiting approval handler) runs on the thread pool, never on the caller's thread, and the
        /// delegate is awaited only when the call was allowed.
        /// </summary>
        public Func<TArgs, Task<TResult>> GovernAsync<TArgs, TResult>(string tool, Func<TArgs, Task<TResult>> fn)
        {
            if (fn == null) throw new ArgumentNullException("fn");
            return async args =>
            {
                TArgs fresh = default(TArgs);
                var outcome = await Task.Run(() => Before(tool, args, out fresh)).ConfigureAwait(false);
                var result = await fn(fresh).ConfigureAwait(false);
                if (postTool) await Task.Run(() => After(tool, outcome, result)).ConfigureAwait(false);
                return result;
            };
        }

        /// <summary>The pre_tool judgement of one call: the allowed outcome, or a GovernanceDeniedException.</summary>
        Enforcement Before<TArgs>(string tool, TArgs args, out TArgs fresh)
        {
            string request;
            try { request = BuildRequest(tool, args, out fresh); }
            catch (RequestException e)
            {
                var refused = Refuse(KnownRequest(tool), "request could not be built: " + e.Message, "kernel:request");
                throw new GovernanceDeniedException(tool, refused, e.Help, e);
            }
            var outcome = Enforce(request);
            if (!outcome.Allowed) throw Denied(tool, outcome);
            return outcome;
        }

        /// <summary>With post_tool rules, the result is judged too; a refused result is withheld.</summary>
        void After<TResult>(string tool, Enforcement outcome, TResult result)
        {
            if (!postTool) return;
            string resultJson;
            try { resultJson = Codec.Encode(result, "result"); }
            catch (RequestException e)
            {
                var refused = Refuse(WithStage(outcome.Request, "null"), "result could not be checked: " + e.Message, "kernel:request");
                throw new GovernanceDeniedException(tool, refused, e.Help, e);
            }
            var post = Enforce(WithStage(outcome.Request, resultJson));
            if (!post.Allowed) throw Denied(tool, post);
        }

        static GovernanceDeniedException Denied(string tool, Enforcement outcome)
        {
            string help = null;
            if (outcome.Approval != null && !outcome.Approval.Approved && outcome.Approval.Handler == "DenyApprovals")
                help = "no approval handler is configured, so approvals are refused; set GovernorOptions.ApprovalHandler";
            return new GovernanceDeniedException(tool, outcome, help);
        }

        string BuildRequest<TArgs>(string tool, TArgs args, out TArgs fresh)
        {
            object boxed = args;
            if (boxed == null) throw new RequestException("the arguments are null", "pass an object or a dictionary of named arguments");
            string argsJson = Codec.Encode(boxed, "args");
            if (!argsJson.StartsWith("{", StringComparison.Ordinal))
                throw new RequestException("the arguments `" + typeof(TArgs).Name + "` are not an object or a dictionary with string keys",
                    "govern a delegate whose argument is an object (or IDictionary<string, T>) of named arguments");
            JsonValue parsed;
            try { parsed = JsonValue.Parse(argsJson); }
            catch (FormatException e) { throw new RequestException("the arguments have no JSON form: " + e.Message, null); }
            try { fresh = (TArgs)Codec.Decode(parsed, typeof(TArgs), "args"); }
            catch (RequestException) { throw; }
            catch (Exception e) { throw new RequestException("the arguments do not read back from their JSON form: " + e.Message, null); }
            if (Codec.Encode(fresh, "args") != argsJson)
                throw new RequestException("the arguments do not survive a JSON round trip, so the delegate would not receive what was judged",
                    "use public properties of JSON types with a public parameterless constructor");
            var frame = GovernanceContext.Current.Value;
            return "{\"action\":" + ActionOf(tool, parsed) + ",\"args\":" + argsJson + ",\"agent\":" + AgentJson(frame) +
                ",\"context\":" + ContextJson(frame) + ",\"stage\":\"pre_tool\"}";
        }

        string AgentJson(GovernanceContext.Frame frame)
        {
            if (frame == null || frame.AgentId == null) return Codec.Encode(agent, "agent");
            var merged = new Dictionary<string, object>(StringComparer.Ordinal);
            if (frame.Agent != null) foreach (var kv in frame.Agent) merged[kv.Key] = kv.Value;
            merged["id"] = frame.AgentId;
            return Codec.Encode(merged, "agent");
        }

        string ContextJson(GovernanceContext.Frame frame)
        {
            if (frame == null || frame.Fields.Count == 0) return Codec.Encode(context, "context");
            var merged = new Dictionary<string, object>(context, StringComparer.Ordinal);
            foreach (var kv in frame.Fields) merged[kv.Key] = kv.Value;
            return Codec.Encode(merged, "context");
        }

        string KnownRequest(string tool)
        {
            var frame = GovernanceContext.Current.Value;
            string agentJson, contextJson;
            try { agentJson = AgentJson(frame); contextJson = ContextJson(frame); }
            catch (RequestException) { agentJson = Codec.Encode(agent, "agent"); contextJson = Codec.Encode(context, "context"); }
            return "{\"action\":{\"type\":" + JsonValue.Quote(tool) + ",\"tool\":" + JsonValue.Quote(tool) + "},\"args\":{},\"agent\":" + agentJson +
                ",\"context\":" + contextJson + ",\"stage\":\"pre_tool\"}";
        }

        static string ActionOf(string tool, JsonValue args)
        {
            var given = args.Get("action");
            if (given == null || given.Kind == JsonKind.Null)
                return "{\"type\":" + JsonValue.Quote(tool) + ",\"tool\":" + JsonValue.Quote(tool) + "}";
            if (given.Kind == JsonKind.String)
                return "{\"type\":" + JsonValue.Quote(NormalizeAction(given.AsString)) + ",\"tool\":" + JsonValue.Quote(tool) + "}";
            if (given.Kind == JsonKind.Object)
            {
                var type = given.Get("type");
                if (type == null || type.Kind != JsonKind.String) throw new RequestException("argument `action` is a mapping without a string `type`", null);
                var members = given.Members.Where(m => m.Key != "type" && m.Key != "tool").ToList();
                members.Add(new KeyValuePair<string, JsonValue>("type", JsonValue.String(NormalizeAction(type.AsString))));
                members.Add(new KeyValuePair<string, JsonValue>("tool", JsonValue.String(tool)));
                return JsonValue.Object(members).ToString();
            }
            throw new RequestException("argument `action` is a " + given.Kind + ", which cannot name an action",
                "pass the action as a string (or an object with a string `type`)");
        }

        /// <summary>
        /// The form of an action name policies see as action.type: NFKC, lowercased, invisible format
        /// characters removed, whitespace trimmed, so <c>action.type in ['drop']</c> refuses "DROP",
        /// "Ｄｒｏｐ" and "dr\u200Bop". (.NET has no full Unicode case folding: "ß" stays "ß" where
        /// Python folds it to "ss"; ASCII and NFKC forms agree.)
        /// </summary>
        public static string NormalizeAction(string text)
        {
            bool ascii = text.All(c => c < 0x80);
            if (ascii) return text.ToLowerInvariant().Trim(PythonSpace);
            var folded = text.Normalize(NormalizationForm.FormKC).ToLowerInvariant();
            var sb = new StringBuilder(folded.Length);
            foreach (var c in folded) if (CharUnicodeInfo.GetUnicodeCategory(c) != UnicodeCategory.Format) sb.Append(c);
            return sb.ToString().Normalize(NormalizationForm.FormKC).Trim(PythonSpace);
        }

        // What Python's str.strip() strips (Unicode White_Space plus U+001C..U+001F), so "drop\x1f"
        // is "drop" here as it is to the Python toolkit.
        static readonly char[] PythonSpace = Enumerable.Range(0, 0x3001).Select(i => (char)i)
            .Where(c => char.IsWhiteSpace(c) || (c >= '\x1c' && c <= '\x1f')).ToArray();

        static string WithStage(string request, string result)
        {
            var parsed = JsonValue.Parse(request);
            var members = parsed.Members.Where(m => m.Key != "stage" && m.Key != "result").ToList();
            members.Add(new KeyValuePair<string, JsonValue>("stage", JsonValue.String("post_tool")));
            members.Add(new KeyValuePair<string, JsonValue>("result", JsonValue.Parse(result)));
            return JsonValue.Object(members).ToString();
        }

        static string StageOf(string request)
        {
            try
            {
                var stage = JsonValue.Parse(request).Get("stage");
                if (stage != null && stage.Kind == JsonKind.String && Stages.Contains(stage.AsString)) return stage.AsString;
            }
            catch (FormatException) { }
            return "pre_tool";
        }

        static string Unreadable(string request)
        {
            var text = request ?? "";
            if (text.Length > 200) text = text.Substring(0, 200) + "…";
            var sb = new StringBuilder();
            foreach (var c in text) sb.Append(char.IsSurrogate(c) || c == '\0' ? '\uFFFD' : c);
            return "{\"unreadable_request\":" + JsonValue.Quote(sb.ToString()) + "}";
        }
    }
}
