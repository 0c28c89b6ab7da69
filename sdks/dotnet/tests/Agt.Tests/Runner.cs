using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace Agt.Tests
{
    /// <summary>
    /// A small test runner: Debian's Mono has no NUnit that current .NET also runs, and no NuGet is
    /// reachable here, so the tests are a console program that runs every check, prints failures,
    /// ends with "N passed, N failed" and exits non-zero on any failure.
    /// </summary>
    public static class Runner
    {
        static int passed, failed;
        static readonly SortedDictionary<string, int[]> Table = new SortedDictionary<string, int[]>(StringComparer.Ordinal);

        public static string Repo;

        public static int Main(string[] args)
        {
            Repo = FindRepo();
            string filter = args.Length > 0 ? args[0] : null;
            foreach (var test in Conformance.Tests().Concat(Behaviour.Tests()))
            {
                if (filter != null && test.Key.IndexOf(filter, StringComparison.Ordinal) < 0) continue;
                Run(test.Key, test.Value);
            }
            var table = string.Join("\n", Table.Select(kv => "| " + kv.Key + " | " + kv.Value[0] + " / " + kv.Value[1] + (kv.Value[2] > 0 ? " (" + kv.Value[2] + " known gap)" : "") + " |"));
            var path = Environment.GetEnvironmentVariable("AGT_CONFORMANCE_TABLE");
            if (!string.IsNullOrEmpty(path) && table.Length > 0) File.WriteAllText(path, table + "\n");
            Console.WriteLine(passed + " passed, " + failed + " failed");
            return failed == 0 ? 0 : 1;
        }

        static void Run(string name, Action test)
        {
            try
            {
                test();
                passed++;
            }
            catch (Exception e)
            {
                failed++;
                Console.WriteLine("FAIL " + name + ": " + e.Message);
                if (!(e is AssertionException)) Console.WriteLine(e);
            }
        }

        /// <summary>Counts one vector of a conformance file for the table.</summary>
        public static void Count(string file, bool ok, bool gap = false)
        {
            int[] row;
            if (!Table.TryGetValue(file, out row)) Table[file] = row = new int[3];
            row[1]++;
            if (ok) row[0]++;
            if (gap) row[2]++;
        }

        static string FindRepo()
        {
            var dir = new DirectoryInfo(AppDomain.CurrentDomain.BaseDirectory);
            var env = Environment.GetEnvironmentVariable("AGT_REPO");
            if (!string.IsNullOrEmpty(env)) return env;
            for (var d = new DirectoryInfo(Directory.GetCurrentDirectory()); d != null; d = d.Parent)
                if (Directory.Exists(System.IO.Path.Combine(d.FullName, "conformance", "policy"))) return d.FullName;
            for (var d = dir; d != null; d = d.Parent)
                if (Directory.Exists(System.IO.Path.Combine(d.FullName, "conformance", "policy"))) return d.FullName;
            throw new InvalidOperationException("conformance/ not found above the working directory; set AGT_REPO");
        }
    }

    public sealed class AssertionException : Exception
    {
        public AssertionException(string message) : base(message) { }
    }

    public static class Assert
    {
        public static void True(bool condition, string message)
        {
            if (!condition) throw new AssertionException(message);
        }

        public static void Equal<T>(T expected, T actual, string what)
        {
            if (!EqualityComparer<T>.Default.Equals(expected, actual))
                throw new AssertionException(what + ": expected " + expected + ", got " + actual);
        }

        public static TException Throws<TException>(Action action, string what) where TException : Exception
        {
            try { action(); }
            catch (TException e) { return e; }
            catch (Exception e) { throw new AssertionException(what + ": expected " + typeof(TException).Name + ", got " + e.GetType().Name + ": " + e.Message); }
            throw new AssertionException(what + ": expected " + typeof(TException).Name + ", nothing was thrown");
        }
    }
}
