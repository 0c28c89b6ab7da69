using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using Agt;

namespace AgtTrail
{
    /// <summary>
    /// Writes and verifies audit trails with the .NET SDK, for the cross-language audit test:
    ///   agt-trail write POLICY OUT.jsonl [CALLS.json]   runs the calls (default conformance/audit/cross_calls.json,
    ///                                                   a list of {tool, args, agent}) through Governor.Govern,
    ///                                                   writes the trail and prints {"head": "...", "count": N}
    ///   agt-trail verify TRAIL.jsonl --head H --count N exits 0 when the trail verifies, 1 with the reason
    /// </summary>
    public static class Program
    {
        public static int Main(string[] args)
        {
            try
            {
                if (args.Length >= 3 && args[0] == "write") return Write(args);
                if (args.Length >= 2 && args[0] == "verify") return Verify(args);
            }
            catch (AgtException e)
            {
                Console.Error.WriteLine("agt-trail: " + e.Message);
                return 1;
            }
            catch (IOException e)
            {
                Console.Error.WriteLine("agt-trail: " + e.Message);
                return 1;
            }
            Console.Error.WriteLine("usage: agt-trail write POLICY OUT.jsonl [CALLS.json] | verify TRAIL.jsonl --head H --count N");
            return 2;
        }

        static string DefaultCalls()
        {
            for (var d = new DirectoryInfo(Directory.GetCurrentDirectory()); d != null; d = d.Parent)
            {
                var path = Path.Combine(d.FullName, "conformance", "audit", "cross_calls.json");
                if (File.Exists(path)) return path;
            }
            throw new FileNotFoundException("conformance/audit/cross_calls.json not found above the working directory; pass CALLS.json");
        }

        static int Write(string[] args)
        {
            var calls = JsonValue.Parse(File.ReadAllText(args.Length > 3 ? args[3] : DefaultCalls(), Encoding.UTF8));
            if (calls.Kind == JsonKind.Object) calls = calls.Get("calls");
            var governor = Governor.FromFile(args[1]);
            var tools = new Dictionary<string, Func<JsonValue, string>>();
            foreach (var call in calls.Items)
            {
                var name = call.Get("tool").AsString;
                Func<JsonValue, string> tool;
                if (!tools.TryGetValue(name, out tool)) tools[name] = tool = governor.Govern<JsonValue, string>(name, a => name + " ran");
                var arguments = call.Get("args") ?? JsonValue.Object(new KeyValuePair<string, JsonValue>[0]);
                var agent = call.Get("agent");
                IDisposable scope = null;
                if (agent != null && agent.Kind == JsonKind.String) scope = GovernanceContext.Agent(agent.AsString);
                else if (agent != null && agent.Kind == JsonKind.Object)
                    scope = GovernanceContext.Agent(agent.Get("id").AsString,
                        agent.Members.Where(m => m.Key != "id").ToDictionary(m => m.Key, m => (object)m.Value));
                try { tool(arguments); }
                catch (GovernanceDeniedException) { }
                finally { if (scope != null) scope.Dispose(); }
            }
            using (var writer = new StreamWriter(args[2], false, new UTF8Encoding(false)))
                governor.AuditLog.WriteTo(writer);
            var head = governor.AuditLog.Head;
            Console.WriteLine("{\"head\": " + JsonValue.Quote(head.Hash) + ", \"count\": " + head.Count + "}");
            return 0;
        }

        static int Verify(string[] args)
        {
            string head = null;
            long? count = null;
            for (int i = 2; i + 1 < args.Length; i += 2)
            {
                if (args[i] == "--head") head = args[i + 1];
                else if (args[i] == "--count") count = long.Parse(args[i + 1]);
                else throw new AgtException("unknown option " + args[i]);
            }
            var text = File.ReadAllText(args[1], new UTF8Encoding(false, true));
            var lines = text.Length == 0 ? new string[0] : text.TrimEnd('\n').Split('\n');
            var got = AuditLog.VerifyLines(lines, head, count);
            Console.WriteLine("verified " + got.Count + " records ending at " + got.Hash);
            return 0;
        }
    }
}
