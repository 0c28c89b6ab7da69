using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace Agt
{
    /// <summary>A compiled, immutable policy set (thread-safe). The Rust engine compiled it and makes every decision.</summary>
    public sealed class PolicySet : IDisposable
    {
        internal readonly PolicySetHandle Handle;

        /// <summary>Content hash of the whole set ("sha256:&lt;hex&gt;"); decisions carry it.</summary>
        public string Hash { get; private set; }
        /// <summary>Each policy's name and content hash, in load order.</summary>
        public IList<KeyValuePair<string, string>> PolicyHashes { get; private set; }
        /// <summary>The loader's warnings.</summary>
        public IList<string> Warnings { get; private set; }
        /// <summary>The stages the set has rules for.</summary>
        public IList<string> Stages { get; private set; }

        PolicySet(PolicySetHandle handle)
        {
            Handle = handle;
            var info = JsonValue.Parse(Native.Info(handle));
            Hash = info.Get("hash").AsString;
            PolicyHashes = info.Get("policies").Items
                .Select(p => new KeyValuePair<string, string>(p.Get("name").AsString, p.Get("hash").AsString)).ToList().AsReadOnly();
            Warnings = info.Get("warnings").Items.Select(w => w.AsString).ToList().AsReadOnly();
            Stages = info.Get("stages").Items.Select(w => w.AsString).ToList().AsReadOnly();
        }

        /// <summary>
        /// Compiles policies given as JSON: a list of <c>governance.toolkit/v1</c> documents (or
        /// resolved policies as agt-core dumps them), or one document.
        /// </summary>
        /// <exception cref="PolicyException">A policy does not load; says where.</exception>
        public static PolicySet FromJson(string policiesJson)
        {
            var text = policiesJson.TrimStart();
            if (text.StartsWith("{", StringComparison.Ordinal)) text = "[" + text + "]";
            return new PolicySet(Native.Compile(text));
        }

        /// <summary>
        /// Compiles a policy file: <c>governance.toolkit/v1</c> YAML (<c>.yaml</c>, <c>.yml</c>; one
        /// policy per document; <c>extends</c> resolved from the file's folder) or JSON (<c>.json</c>).
        /// </summary>
        /// <exception cref="PolicyException">The file does not load; says file, line and column.</exception>
        public static PolicySet FromFile(string path)
        {
            return FromFiles(path);
        }

        /// <summary>Compiles policy files or folders (a folder: every *.yaml, *.yml, *.json directly inside, by name), in order.</summary>
        public static PolicySet FromFiles(params string[] paths)
        {
            var list = "[" + string.Join(",", paths.Select(p => JsonValue.Quote(System.IO.Path.GetFullPath(p)))) + "]";
            return new PolicySet(Native.LoadFiles(list));
        }

        /// <summary>Compiles <c>governance.toolkit/v1</c> YAML text (one policy per <c>---</c> document); <c>extends</c> needs files.</summary>
        public static PolicySet FromYaml(string yaml) { return new PolicySet(Native.LoadYaml(yaml)); }

        /// <summary>Judges one request (JSON: action, args, agent, context, stage) without rate limits.</summary>
        public Decision Evaluate(string requestJson) { return Decision.FromJson(JsonValue.Parse(Native.Evaluate(Handle, requestJson))); }

        public void Dispose() { Handle.Dispose(); }
    }

    /// <summary>RFC 8785 canonical JSON and content hashes, as the toolkit hashes and signs them.</summary>
    public static class Canonical
    {
        /// <summary>The canonical form of a JSON text (integer tokens exact; NaN, lone surrogates, duplicate keys and inexact integers refused).</summary>
        public static string Json(string json) { return Native.CanonicalJson(json); }

        /// <summary>"sha256:" + the hex SHA-256 of the canonical form.</summary>
        public static string ContentHash(string json) { return Native.ContentHash(json); }

        /// <summary>The version of the linked engine library.</summary>
        public static string EngineVersion { get { return Native.Version(); } }
    }
}
