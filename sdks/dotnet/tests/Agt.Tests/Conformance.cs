using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;

namespace Agt.Tests
{
    /// <summary>
    /// The language-neutral vectors in conformance/, read unchanged and run through the public API.
    /// Policies and requests reach the engine as the file's own JSON text (JsonValue keeps number
    /// spellings), so 5 stays a CEL int and 5.0 a double.
    /// </summary>
    public static class Conformance
    {
        /// <summary>Vectors the engine does not pass yet, with the reason; one that passes fails the run.</summary>
        static readonly Dictionary<string, string> KnownGaps = new Dictionary<string, string>
        {
        };

        static string Dir(params string[] parts) { return Path.Combine(new[] { Runner.Repo, "conformance" }.Concat(parts).ToArray()); }

        static JsonValue Load(string path) { return JsonValue.Parse(File.ReadAllText(path, Encoding.UTF8)); }

        public static IEnumerable<KeyValuePair<string, Action>> Tests()
        {
            var files = Directory.GetFiles(Dir("policy"), "*.json").OrderBy(f => f, StringComparer.Ordinal).ToList();
            Assert.True(files.Count >= 10, "expected the policy vector files");
            foreach (var path in files)
            {
                var name = Path.GetFileName(path);
                if (name == "hashes.json") continue;
                foreach (var c in Load(path).Get("cases").Items)
                {
                    var label = name + "::" + c.Get("name").AsString;
                    var @case = c;
                    yield return new KeyValuePair<string, Action>("policy/" + label, () => PolicyCase(name, label, @case));
                }
            }
            foreach (var c in Load(Dir("policy", "hashes.json")).Get("cases").Items)
            {
                var @case = c;
                yield return new KeyValuePair<string, Action>("policy/hashes.json::" + c.Get("name").AsString, () => HashCase(@case));
            }
            foreach (var path in Directory.GetFiles(Dir("canonical_json"), "*.json").OrderBy(f => f, StringComparer.Ordinal))
            {
                var file = "canonical_json/" + Path.GetFileName(path);
                var doc = Load(path);
                foreach (var c in doc.Get("cases").Items)
                {
                    var @case = c;
                    yield return new KeyValuePair<string, Action>(file + "::" + c.Get("name").AsString, () => CanonicalCase(file, @case));
                }
                foreach (var e in doc.Get("errors").Items)
                {
                    var error = e;
                    yield return new KeyValuePair<string, Action>(file + "::" + e.Get("name").AsString, () => CanonicalError(file, error));
                }
            }
            foreach (var t in AuditChain()) yield return t;
            foreach (var folder in Directory.GetDirectories(Dir("equivalence")).OrderBy(f => f, StringComparer.Ordinal))
            {
                var f = folder;
                if (File.Exists(Path.Combine(f, "policy.yaml")))
                    yield return new KeyValuePair<string, Action>("equivalence/" + Path.GetFileName(f) + "/policy.yaml", () => Equivalence(f));
            }
        }

        /// <summary>The YAML half of an equivalence folder (Rego and Cedar are Python-only), loaded from its file.</summary>
        static void Equivalence(string folder)
        {
            var problems = new List<string>();
            using (var set = PolicySet.FromFile(Path.Combine(folder, "policy.yaml")))
            {
                int index = 0;
                foreach (var step in Load(Path.Combine(folder, "cases.json")).Get("steps").Items)
                {
                    var expect = step.Get("expect");
                    var d = set.Evaluate(step.Get("request").ToString());
                    var effect = expect.Get("effect").AsString;
                    var approvers = expect.Get("approvers") == null ? "" : string.Join(",", expect.Get("approvers").Items.Select(a => a.AsString));
                    var rule = expect.Get("rule");
                    if (d.Effect != effect || d.Allowed != Effects.IsPermissive(effect) || string.Join(",", d.Approvers) != approvers
                        || (rule.Kind != JsonKind.Null && d.Rule != rule.AsString) || d.PolicySetHash != set.Hash)
                        problems.Add("step " + index + ": got " + d.ToJson() + ", expected " + expect);
                    index++;
                }
            }
            Check("equivalence/*/policy.yaml", problems.Count == 0, string.Join("\n    ", problems));
        }

        static void Check(string file, bool ok, string message)
        {
            Runner.Count(file, ok);
            Assert.True(ok, message);
        }

        static void PolicyCase(string name, string label, JsonValue c)
        {
            var problems = new List<string>();
            try
            {
                if (c.Has("expect_load_error")) LoadError(c, problems);
                else Decisions(c, problems);
            }
            catch (Exception e) { problems.Add(e.GetType().Name + ": " + e.Message); }
            string reason;
            if (KnownGaps.TryGetValue(label, out reason))
            {
                Runner.Count("policy/" + name, false, true);
                Assert.True(problems.Count > 0, "listed as a known gap (" + reason + ") but passes: remove it from KnownGaps");
                return;
            }
            Check("policy/" + name, problems.Count == 0, string.Join("\n    ", problems));
        }

        static void LoadError(JsonValue c, List<string> problems)
        {
            var expect = c.Get("expect_load_error");
            try
            {
                PolicySet.FromJson(c.Get("policies").ToString()).Dispose();
                problems.Add("expected a PolicyException, the policies compiled");
            }
            catch (PolicyException e)
            {
                var path = expect.Get("path");
                if (path != null && e.Path != path.AsString) problems.Add("path: expected " + path.AsString + ", got " + e.Path + " (" + e.Message + ")");
                var contains = expect.Get("contains");
                if (contains != null && e.Reason.ToLowerInvariant().IndexOf(contains.AsString.ToLowerInvariant(), StringComparison.Ordinal) < 0)
                    problems.Add("message: \"" + contains.AsString + "\" not in \"" + e.Reason + "\"");
            }
        }

        static void Decisions(JsonValue c, List<string> problems)
        {
            using (var set = PolicySet.FromJson(c.Get("policies").ToString()))
            {
                var warnings = c.Get("expect_warnings");
                if (warnings != null)
                {
                    var want = warnings.Items.Select(w => w.AsString).ToList();
                    bool ok = want.Count == set.Warnings.Count;
                    for (int i = 0; ok && i < want.Count; i++) ok = set.Warnings[i].ToLowerInvariant().Contains(want[i].ToLowerInvariant());
                    if (!ok) problems.Add("expect_warnings: expected [" + string.Join(", ", want) + "], got [" + string.Join(", ", set.Warnings) + "]");
                }
                double now = 0;
                var governor = new Governor(set, new GovernorOptions { NoAudit = true, RateLimitClock = () => now });
                int index = 0;
                foreach (var step in c.Get("steps").Items)
                {
                    var at = step.Get("at");
                    if (at != null) now = at.AsDouble;
                    var decision = governor.Decide(step.Get("request").ToString());
                    var diffs = Differences(decision, step.Get("expect")).Concat(Invariants(decision)).ToList();
                    if (diffs.Count > 0)
                        problems.Add("step " + index + ": request " + step.Get("request") + "\n      " + string.Join("\n      ", diffs) + "\n      decision: " + decision.ToJson());
                    index++;
                }
            }
        }

        static string Refs(IEnumerable<KeyValuePair<string, string>> pairs, JsonValue want)
        {
            var w = want == null ? new List<string>() : want.Items.Select(x => x.AsString).ToList();
            return "[" + string.Join(", ", pairs.Select((p, i) => i >= w.Count || w[i].Contains("/") ? p.Key + "/" + p.Value : p.Value)) + "]";
        }

        static string List(JsonValue v) { return "[" + string.Join(", ", v.Items.Select(x => x.AsString)) + "]"; }

        static IEnumerable<string> Differences(Decision d, JsonValue expect)
        {
            var problems = new List<string>();
            Action<string, string, string> check = (key, want, got) => { if (want != got) problems.Add(key + ": expected " + want + ", got " + got); };
            Func<JsonValue, string> str = v => v.Kind == JsonKind.Null ? "null" : v.Kind == JsonKind.Bool ? (v.AsBool ? "true" : "false") : v.Kind == JsonKind.Number ? v.NumberToken : v.AsString;
            foreach (var m in expect.Members)
            {
                var want = m.Value;
                switch (m.Key)
                {
                    case "effect": check("effect", want.AsString, d.Effect); break;
                    case "allowed": check("allowed", str(want), d.Allowed ? "true" : "false"); break;
                    case "rule": check("rule", str(want), d.Rule ?? "null"); break;
                    case "policy": check("policy", str(want), d.Policy ?? "null"); break;
                    case "matched": check("matched", List(want), Refs(d.Matched.Select(r => new KeyValuePair<string, string>(r.Policy, r.Rule)), want)); break;
                    case "errored": check("errored", List(want), Refs(d.Matched.Where(r => r.Errored).Select(r => new KeyValuePair<string, string>(r.Policy, r.Rule)), want)); break;
                    case "error_rules": check("error_rules", List(want), Refs(d.Errors.Where(e => e.Rule != null).Select(e => new KeyValuePair<string, string>(e.Policy, e.Rule)), want)); break;
                    case "error_count": check("error_count", want.NumberToken, d.Errors.Count.ToString()); break;
                    case "errors_contain":
                        foreach (var phrase in want.Items)
                            if (!d.Errors.Any(e => e.Message.ToLowerInvariant().Contains(phrase.AsString.ToLowerInvariant())))
                                problems.Add("errors_contain: no error mentions \"" + phrase.AsString + "\"");
                        break;
                    case "rate_limited": check("rate_limited", str(want), d.RateLimited ? "true" : "false"); break;
                    case "approvers": check("approvers", List(want), "[" + string.Join(", ", d.Approvers) + "]"); break;
                    case "message_contains":
                        if (!d.Message.ToLowerInvariant().Contains(want.AsString.ToLowerInvariant())) problems.Add("message_contains: \"" + want.AsString + "\" not in \"" + d.Message + "\"");
                        break;
                    case "conflict_strategy": check("conflict_strategy", str(want), d.ConflictStrategy ?? "null"); break;
                    case "stage": check("stage", want.AsString, d.Stage); break;
                    default: problems.Add("unknown expectation `" + m.Key + "`"); break;
                }
            }
            return problems;
        }

        static IEnumerable<string> Invariants(Decision d)
        {
            var problems = new List<string>();
            if (d.RefusedBy == null && d.Evaluator != "native") problems.Add("invariant: decided by the engine but records evaluator " + d.Evaluator);
            if (d.Allowed != Effects.IsPermissive(d.Effect)) problems.Add("invariant: allowed contradicts effect " + d.Effect);
            if (d.RateLimited && d.Effect != Effects.Deny) problems.Add("invariant: a rate-limited decision must deny");
            if (d.Approvers.Count > 0 && d.Effect != Effects.RequireApproval) problems.Add("invariant: approvers on a decision that is not require_approval");
            var seen = new HashSet<string>();
            foreach (var m in d.Matched)
            {
                if (m.Errored && Effects.IsPermissive(m.Action)) problems.Add("invariant: permissive rule `" + m.Rule + "` counted as matched by an error");
                if (!seen.Add(m.Policy + "/" + m.Rule)) problems.Add("invariant: a rule is listed twice in matched");
            }
            if (d.Rule != null && !seen.Contains(d.Policy + "/" + d.Rule)) problems.Add("invariant: the deciding rule is not among the matched rules");
            return problems;
        }

        static void HashCase(JsonValue c)
        {
            var problems = new List<string>();
            var expect = c.Get("expect");
            using (var set = PolicySet.FromJson(c.Get("policies").ToString()))
            {
                var got = set.PolicyHashes.ToDictionary(p => p.Key, p => p.Value);
                foreach (var p in expect.Get("policies").Items)
                {
                    string hash;
                    if (!got.TryGetValue(p.Get("name").AsString, out hash) || hash != p.Get("hash").AsString)
                        problems.Add("policy " + p.Get("name").AsString + ": expected " + p.Get("hash").AsString + ", got " + hash);
                }
                if (got.Count != expect.Get("policies").Items.Count) problems.Add("policy count differs");
                var setHash = expect.Get("set_hash").AsString;
                if (set.Hash != setHash) problems.Add("set hash: expected " + setHash + ", got " + set.Hash);
                var d = set.Evaluate("{\"action\":{\"type\":\"x\",\"tool\":\"t\"},\"args\":{},\"agent\":{\"id\":\"ops\"},\"context\":{},\"stage\":\"pre_tool\"}");
                if (d.PolicySetHash != setHash) problems.Add("decision policy_set_hash " + d.PolicySetHash);
                if (d.Policy != null && d.PolicyHash != got[d.Policy]) problems.Add("decision policy_hash " + d.PolicyHash);
            }
            Check("policy/hashes.json", problems.Count == 0, string.Join("\n    ", problems));
        }

        static void CanonicalCase(string file, JsonValue c)
        {
            string got = null;
            string error = null;
            try { got = Canonical.Json(c.Get("input").ToString()); }
            catch (AgtException e) { error = e.Message; }
            string sha = null;
            if (got != null)
                using (var h = SHA256.Create())
                    sha = string.Concat(h.ComputeHash(Encoding.UTF8.GetBytes(got)).Select(b => b.ToString("x2")));
            Check(file, got == c.Get("canonical").AsString && sha == c.Get("sha256").AsString,
                "input " + c.Get("input") + ": got " + (got ?? error) + ", expected " + c.Get("canonical").AsString);
        }

        static void CanonicalError(string file, JsonValue e)
        {
            var text = e.Get("input_json_text").AsString;
            string got = null;
            try { got = Canonical.Json(text); }
            catch (AgtException) { }
            Check(file, got == null, e.Get("kind").AsString + ": " + text + " was accepted as " + got);
        }

        static IEnumerable<KeyValuePair<string, Action>> AuditChain()
        {
            const string file = "audit/chain.json";
            var doc = Load(Dir("audit", "chain.json"));
            var lines = new List<string>();
            foreach (var r in doc.Get("records").Items)
            {
                var record = r;
                lines.Add(r.Get("line").AsString);
                yield return new KeyValuePair<string, Action>(file + "::record-" + r.Get("seq").NumberToken, () =>
                {
                    var approval = record.Get("approval");
                    var body = AuditRecord.Body(record.Get("seq").AsLong, record.Get("timestamp").AsString, record.Get("prev_hash").AsString,
                        record.Get("request").ToString(), record.Get("decision").ToString(), approval.Kind == JsonKind.Null ? null : approval.ToString());
                    string sha;
                    using (var h = SHA256.Create()) sha = string.Concat(h.ComputeHash(Encoding.UTF8.GetBytes(body)).Select(b => b.ToString("x2")));
                    var line = AuditRecord.Line(body, sha);
                    Check(file, body == record.Get("body").AsString && sha == record.Get("hash").AsString && line == record.Get("line").AsString,
                        "record " + record.Get("seq") + ": got body " + body);
                });
            }
            var head = doc.Get("head");
            yield return new KeyValuePair<string, Action>(file + "::whole-trail", () =>
            {
                var got = AuditLog.VerifyLines(lines, head.Get("hash").AsString, head.Get("count").AsLong);
                Check(file, got.Hash == head.Get("hash").AsString && got.Count == head.Get("count").AsLong && got.Seq == head.Get("seq").AsLong,
                    "the whole trail verified to " + got.Hash);
            });
            foreach (var t in doc.Get("tampered").Items)
            {
                var tampered = t;
                yield return new KeyValuePair<string, Action>(file + "::" + t.Get("name").AsString, () =>
                {
                    var pin = tampered.Get("pin");
                    string wantHead = pin != null && pin.AsString == "count" ? null : head.Get("hash").AsString;
                    long? wantCount = pin != null && pin.AsString == "head" ? (long?)null : head.Get("count").AsLong;
                    string problem = null;
                    try
                    {
                        AuditLog.VerifyLines(tampered.Get("lines").Items.Select(l => l.AsString), wantHead, wantCount);
                        problem = "the tampered trail verified";
                    }
                    catch (AuditIntegrityException e)
                    {
                        var contains = tampered.Get("contains").AsString.ToLowerInvariant();
                        if (e.Index != tampered.Get("index").AsLong || !e.Message.ToLowerInvariant().Contains(contains))
                            problem = "got record " + e.Index + ": " + e.Message;
                    }
                    Check(file, problem == null, tampered.Get("name").AsString + ": " + problem);
                });
            }
        }
    }
}
