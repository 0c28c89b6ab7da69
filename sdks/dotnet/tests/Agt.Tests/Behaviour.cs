using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;

namespace Agt.Tests
{
    public sealed class SqlArgs
    {
        public string action { get; set; }
        public string table { get; set; }
        public Dictionary<string, object> filter { get; set; }
    }

    public sealed class EmailArgs
    {
        public string to { get; set; }
        public string subject { get; set; }
    }

    public sealed class WithDelegate
    {
        public Func<int> callback { get; set; }
    }

    /// <summary>Behaviour and attack tests of the .NET SDK (each security claim attacked).</summary>
    public static class Behaviour
    {
        const string Seed = @"{""apiVersion"": ""governance.toolkit/v1"", ""name"": ""production-policy"", ""default_action"": ""allow"",
 ""rules"": [
  {""name"": ""block-destructive"", ""condition"": ""action.type in ['drop', 'delete', 'truncate']"", ""action"": ""deny""},
  {""name"": ""require-approval-for-send"", ""condition"": ""action.type == 'send_email'"", ""action"": ""require_approval"",
   ""approvers"": [""security-team""]}]}";

        static Governor Gov(string policy, GovernorOptions options = null) { return new Governor(PolicySet.FromJson(policy), options); }

        static List<JsonValue> Verified(Governor g)
        {
            var head = g.AuditLog.Head;
            var lines = g.AuditLog.Lines();
            AuditLog.VerifyLines(lines, head.Hash, head.Count);
            return lines.Select(JsonValue.Parse).ToList();
        }

        public static IEnumerable<KeyValuePair<string, Action>> Tests()
        {
            var tests = new Dictionary<string, Action>
            {
                { "allowed runs, denied does not, both audited", AllowAndDeny },
                { "every spelling of an action is normalised", Spellings },
                { "the delegate receives the judged arguments", JudgedArguments },
                { "unjudgeable arguments are refused and audited", Unjudgeable },
                { "doubles stay doubles", Doubles },
                { "approvals", Approvals },
                { "rate limits", RateLimits },
                { "context and agent reach conditions", ContextAndAgent },
                { "an audit failure means the call does not run", AuditFailure },
                { "a malformed request is denied, never allowed", Malformed },
                { "post_tool rules judge the result", PostTool },
                { "concurrent calls keep one chain", Concurrent },
                { "tampered trails are rejected", Tampered },
                { "policy errors say where", PolicyErrors },
                { "async delegates are judged before they are awaited", Async },
            };
            return tests.Select(kv => new KeyValuePair<string, Action>("behaviour::" + kv.Key, kv.Value));
        }

        static void AllowAndDeny()
        {
            var g = Gov(Seed);
            int ran = 0;
            var sql = g.Govern<SqlArgs, string>("sql", a => { ran++; return a.action + " " + a.table; });
            Assert.Equal("read users", sql(new SqlArgs { action = "read", table = "users" }), "read");
            var denied = Assert.Throws<GovernanceDeniedException>(() => sql(new SqlArgs { action = "drop", table = "users" }), "drop");
            Assert.Equal("block-destructive", denied.Decision.Rule, "deciding rule");
            Assert.Equal(1, ran, "runs");
            var records = Verified(g);
            Assert.Equal(2, records.Count, "records");
            Assert.Equal(denied.AuditHash, records[1].Get("hash").AsString, "the refusal's record");
        }

        static void Spellings()
        {
            var sql = Gov(Seed).Govern<SqlArgs, string>("sql", a => "ran");
            foreach (var spelling in new[] { "DROP", " drop\t", "drop\x1f", "\u3000drop", "Ｄｒｏｐ", "dr\u200Bop", "DELETE", "ｔｒｕｎｃａｔｅ" })
                Assert.Throws<GovernanceDeniedException>(() => sql(new SqlArgs { action = spelling }), "action " + spelling);
            var tool = Gov(Seed).Govern<Dictionary<string, object>, string>("sql", a => "ran");
            Assert.Throws<GovernanceDeniedException>(() => tool(new Dictionary<string, object> { { "action", new Dictionary<string, object> { { "type", "DROP" } } } }), "action object");
            Assert.Throws<GovernanceDeniedException>(() => tool(new Dictionary<string, object> { { "action", 7 } }), "numeric action");
        }

        static void JudgedArguments()
        {
            const string policy = @"{""apiVersion"": ""governance.toolkit/v1"", ""name"": ""p"", ""default_action"": ""allow"", ""rules"": [
              {""name"": ""no-admin"", ""condition"": ""args.filter.table == 'admin'"", ""action"": ""deny""},
              {""name"": ""ask"", ""condition"": ""args.table == 'audited'"", ""action"": ""require_approval"", ""approvers"": [""ops""]}]}";
            var filter = new Dictionary<string, object> { { "table", "users" } };
            var g = Gov(policy, new GovernorOptions
            {
                ApprovalHandler = new CallbackApproval(r => { filter["table"] = "admin"; return r.Approve("ops-lead", "fine"); }),
            });
            object received = null;
            var query = g.Govern<SqlArgs, string>("query", a => { received = a.filter["table"]; return "ok"; });
            query(new SqlArgs { table = "audited", filter = filter });
            Assert.Equal((object)"users", received, "the delegate received the judged value");
        }

        static void Unjudgeable()
        {
            var g = Gov(Seed);
            int calls = 0;
            var withDelegate = g.Govern<WithDelegate, int>("tool", a => ++calls);
            var nan = g.Govern<Dictionary<string, double>, int>("tool", a => ++calls);
            var notObject = g.Govern<List<string>, int>("tool", a => ++calls);
            var surrogate = g.Govern<Dictionary<string, string>, int>("tool", a => ++calls);
            var attempts = new Action[]
            {
                () => withDelegate(new WithDelegate { callback = () => 1 }),
                () => nan(new Dictionary<string, double> { { "x", double.NaN } }),
                () => notObject(new List<string> { "a" }),
                () => surrogate(new Dictionary<string, string> { { "x", "\uD800" } }),
            };
            foreach (var attempt in attempts)
            {
                var denied = Assert.Throws<GovernanceDeniedException>(attempt, "unjudgeable arguments");
                Assert.Equal("kernel:request", denied.Decision.RefusedBy, "refused by");
            }
            Assert.Equal(0, calls, "calls");
            Assert.Equal(4, Verified(g).Count, "every refusal is audited");
        }

        static void Doubles()
        {
            const string policy = @"{""apiVersion"": ""governance.toolkit/v1"", ""name"": ""p"", ""default_action"": ""allow"", ""rules"": [
              {""name"": ""half"", ""condition"": ""args.amount / 2 > 100"", ""action"": ""deny""}]}";
            var g = Gov(policy);
            var doubles = g.Govern<Dictionary<string, double>, int>("pay", a => 1);
            var ints = g.Govern<Dictionary<string, long>, int>("pay", a => 1);
            var denied = Assert.Throws<GovernanceDeniedException>(() => doubles(new Dictionary<string, double> { { "amount", 100 } }), "double amount");
            Assert.True(denied.Decision.Matched.Single().Errored, "1000.0 / 2 errors and the deny matches (fail closed)");
            Assert.Equal(1, ints(new Dictionary<string, long> { { "amount", 100 } }), "an int divides");
        }

        static void Approvals()
        {
            var args = new EmailArgs { to = "a@example.com", subject = "hi" };
            Func<Governor, Func<EmailArgs, string>> send = g => g.Govern<EmailArgs, string>("send_email", a => "sent");

            var refused = Assert.Throws<GovernanceDeniedException>(() => send(Gov(Seed))(args), "no handler");
            Assert.Equal("DenyApprovals", refused.Approval.Handler, "handler");
            Assert.True(refused.Help != null, "help says how to configure a handler");
            Assert.Equal("security-team", refused.Decision.Approvers.Single(), "approvers");

            ApprovalRequest asked = null;
            var approving = Gov(Seed, new GovernorOptions { ApprovalHandler = new CallbackApproval(r => { asked = r; return r.Approve("alice", "checked"); }) });
            Assert.Equal("sent", send(approving)(args), "approved");
            Assert.Equal(Canonical.ContentHash(asked.Request), asked.RequestHash, "the approval is bound to its request");
            var approval = Verified(approving)[0].Get("approval");
            Assert.True(approval.Get("approved").AsBool && approval.Get("approver").AsString == "alice" && approval.Get("handler").AsString == "CallbackApproval", "record");

            ApprovalResponse first = null;
            var replaying = Gov(Seed, new GovernorOptions { ApprovalHandler = new CallbackApproval(r => first = first ?? r.Approve("alice")) });
            send(replaying)(args);
            var replayed = Assert.Throws<GovernanceDeniedException>(() => send(replaying)(new EmailArgs { to = "attacker@example.com" }), "replayed approval");
            Assert.True(replayed.Approval.Reason.Contains("different request"), "replay reason: " + replayed.Approval.Reason);
            var unbound = Gov(Seed, new GovernorOptions { ApprovalHandler = new CallbackApproval(r => new ApprovalResponse(true, "mallory", "", null)) });
            Assert.Throws<GovernanceDeniedException>(() => send(unbound)(args), "unbound approval");

            var failing = Gov(Seed, new GovernorOptions { ApprovalHandler = new CallbackApproval(r => { throw new InvalidOperationException("pager down"); }) });
            var failure = Assert.Throws<ApprovalException>(() => send(failing)(args), "failing handler");
            Assert.Equal("require-approval-for-send", failure.Rule, "rule");
            Assert.True(Verified(failing)[0].Get("approval").Get("reason").AsString.Contains("approval handler failed"), "failure recorded");

            var release = new ManualResetEventSlim(false);
            var hung = Gov(Seed, new GovernorOptions
            {
                ApprovalTimeout = TimeSpan.FromMilliseconds(1),
                ApprovalHandler = new CallbackApproval(r => { release.Wait(); return r.Approve("late"); }),
            });
            var timedOut = Assert.Throws<GovernanceDeniedException>(() => send(hung)(args), "hung handler");
            release.Set();
            Assert.True(timedOut.Approval.Reason.Contains("no answer"), "timeout reason");

            var pending = Gov(Seed, new GovernorOptions { ApprovalHandler = new CallbackApproval(r => { throw new ApprovalPendingException("ticket OPS-7"); }) });
            var waiting = Assert.Throws<GovernanceDeniedException>(() => send(pending)(args), "pending");
            Assert.True(waiting.Approval.Pending && waiting.Approval.Reason.Contains("OPS-7"), "pending record");
        }

        static void RateLimits()
        {
            const string policy = @"{""apiVersion"": ""governance.toolkit/v1"", ""name"": ""p"", ""default_action"": ""deny"", ""rules"": [
              {""name"": ""search"", ""condition"": ""action.type == 'search'"", ""action"": ""allow"", ""limit"": ""2/minute""}]}";
            double now = 0;
            var g = Gov(policy, new GovernorOptions { RateLimitClock = () => now });
            var search = g.Govern<Dictionary<string, string>, int>("search", a => 1);
            var q = new Dictionary<string, string> { { "q", "x" } };
            search(q);
            search(q);
            var limited = Assert.Throws<GovernanceDeniedException>(() => search(q), "third call");
            Assert.True(limited.Decision.RateLimited && limited.Decision.Rule == "search", "rate limited");
            using (GovernanceContext.Agent("other-agent")) search(q);
            now = 60;
            search(q);
        }

        static void ContextAndAgent()
        {
            const string policy = @"{""apiVersion"": ""governance.toolkit/v1"", ""name"": ""p"", ""default_action"": ""deny"", ""rules"": [
              {""name"": ""on-call"", ""condition"": ""context.ticket.startsWith('OPS-') && agent.team == 'sre'"", ""action"": ""allow""}]}";
            var g = Gov(policy, new GovernorOptions { AgentId = "bot-1", AgentAttributes = new Dictionary<string, object> { { "team", "sre" } } });
            var restart = g.Govern<Dictionary<string, string>, int>("restart", a => 1);
            Assert.Throws<GovernanceDeniedException>(() => restart(new Dictionary<string, string>()), "no ticket");
            using (GovernanceContext.Fields(new Dictionary<string, object> { { "ticket", "OPS-12" } }))
            {
                Assert.Equal(1, restart(new Dictionary<string, string>()), "with a ticket");
                using (GovernanceContext.Agent("intruder", new Dictionary<string, object> { { "team", "dev" } }))
                    Assert.Throws<GovernanceDeniedException>(() => restart(new Dictionary<string, string>()), "another agent");
            }
        }

        static void AuditFailure()
        {
            var log = new AuditLog(sink: line => { throw new System.IO.IOException("disk full"); });
            var g = Gov(Seed, new GovernorOptions { AuditLog = log });
            bool ran = false;
            var read = g.Govern<SqlArgs, int>("sql", a => { ran = true; return 1; });
            Assert.Throws<AuditException>(() => read(new SqlArgs { action = "read" }), "audit failure");
            Assert.True(!ran && log.Count == 0, "nothing ran, nothing recorded");
        }

        static void Malformed()
        {
            var g = Gov(Seed);
            foreach (var request in new[] { "not json", "{\"action\": {\"type\": \"read\"}, \"a\": 1, \"a\": 2}", "[]", "{\"agent\": {\"id\": 5}}", "{\"x\": \"\0\"}", "{\"x\": \"\uDC00\"}" })
            {
                var outcome = g.Enforce(request);
                Assert.True(!outcome.Allowed && outcome.Decision.Effect == Effects.Deny, "request " + request + " was allowed");
            }
            Verified(g);
        }

        static void PostTool()
        {
            const string policy = @"{""apiVersion"": ""governance.toolkit/v1"", ""name"": ""p"", ""default_action"": ""allow"", ""rules"": [
              {""name"": ""no-secrets-out"", ""stage"": ""post_tool"", ""condition"": ""result.contains('BEGIN PRIVATE KEY')"", ""action"": ""deny""}]}";
            var read = Gov(policy).Govern<Dictionary<string, string>, string>("read_file", a => a["content"]);
            Assert.Equal("hello", read(new Dictionary<string, string> { { "content", "hello" } }), "plain result");
            Assert.Throws<GovernanceDeniedException>(() => read(new Dictionary<string, string> { { "content", "-----BEGIN PRIVATE KEY-----" } }), "secret result");
        }

        static void Concurrent()
        {
            var g = Gov(Seed);
            var sql = g.Govern<SqlArgs, int>("sql", a => 1);
            Parallel.For(0, 8, i =>
            {
                for (int j = 0; j < 20; j++)
                {
                    try { sql(new SqlArgs { action = j % 3 == 0 ? "drop" : "read", table = i.ToString() }); }
                    catch (GovernanceDeniedException) { }
                }
            });
            Assert.Equal(160, Verified(g).Count, "records");
        }

        static void Tampered()
        {
            var g = Gov(Seed);
            var sql = g.Govern<SqlArgs, int>("sql", a => 1);
            foreach (var action in new[] { "read", "drop", "read" })
                try { sql(new SqlArgs { action = action }); } catch (GovernanceDeniedException) { }
            var lines = g.AuditLog.Lines();
            var head = g.AuditLog.Head;
            var flipped = lines.ToList();
            flipped[1] = flipped[1].Replace("\"effect\":\"deny\"", "\"effect\":\"allow\"");
            var trails = new Dictionary<string, IList<string>>
            {
                { "decision edited", flipped },
                { "record removed", new[] { lines[0], lines[2] } },
                { "records swapped", new[] { lines[1], lines[0], lines[2] } },
                { "end cut off", lines.Take(2).ToList() },
            };
            foreach (var t in trails)
                Assert.Throws<AuditIntegrityException>(() => AuditLog.VerifyLines(t.Value, head.Hash, head.Count), t.Key);
            Assert.Throws<ArgumentException>(() => AuditLog.VerifyLines(lines, null, null), "unpinned");
        }

        static void PolicyErrors()
        {
            var e = Assert.Throws<PolicyException>(() => PolicySet.FromJson(@"[{""apiVersion"": ""governance.toolkit/v1"", ""name"": ""p"", ""rules"": [{""name"": ""r"", ""condition"": ""lookup(args.x)"", ""action"": ""deny""}]}]"), "unknown function");
            Assert.Equal("rules[0].condition", e.Path, "path");
            Assert.Throws<PolicyException>(() => PolicySet.FromFile("/nonexistent/policy.json"), "missing file");
        }

        static void Async()
        {
            const string policy = @"{""apiVersion"": ""governance.toolkit/v1"", ""name"": ""p"", ""default_action"": ""allow"", ""rules"": [
              {""name"": ""block-destructive"", ""condition"": ""action.type == 'drop'"", ""action"": ""deny""},
              {""name"": ""tickets-only"", ""condition"": ""action.type == 'restart' && !has(context.ticket)"", ""action"": ""deny""}]}";
            var g = Gov(policy);
            int ran = 0;
            var sql = g.GovernAsync<SqlArgs, string>("sql", async a => { await Task.Yield(); ran++; return a.action; });
            Assert.Equal("read", sql(new SqlArgs { action = "read" }).Result, "allowed");
            var failed = Assert.Throws<AggregateException>(() => sql(new SqlArgs { action = "DROP" }).Wait(), "denied");
            Assert.True(failed.InnerException is GovernanceDeniedException, "the task faults with GovernanceDeniedException");
            Assert.Equal(1, ran, "the denied delegate was never awaited");
            var restart = g.GovernAsync<Dictionary<string, string>, int>("restart", a => Task.FromResult(1));
            Assert.Throws<AggregateException>(() => restart(new Dictionary<string, string>()).Wait(), "no ticket");
            using (GovernanceContext.Fields(new Dictionary<string, object> { { "ticket", "OPS-1" } }))
                Assert.Equal(1, restart(new Dictionary<string, string>()).Result, "the context flows into the judging task");
            Assert.Equal(4, Verified(g).Count, "records");
        }
    }
}
