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

        /// <summary>Compiles a policy file: <c>.json</c> (one document or a list); YAML needs the engine's YAML loader (see the README).</summary>
        public static PolicySet FromFile(string path)
        {
            string text;
            try { text = File.ReadAllText(path); }
            catch (Exception e) { throw new PolicyException("policy file could not be read: " + e.Message, file: path); }
            var extension = System.IO.Path.GetExtension(path).ToLowerInvariant();
            if (extension == ".json")
            {
                try { return FromJson(text); }
                catch (PolicyException e) when (e.File == null)
                {
                    throw new PolicyException(e.Reason, e.Path, path, e.Line, e.Column, e.Help);
                }
            }
            if (extension == ".yaml" || extension == ".yml")
                throw new PolicyException(
                    "YAML policies are not supported by this build: the engine's YAML loader has not landed in libagt yet",
                    file: path, help: "write the policy as JSON (policy.json: the same document) and load that");
            throw new PolicyException("policy file `" + path + "` is neither .json nor .yaml/.yml", file: path,
                help: "name the file policy.yaml (governance.toolkit/v1 YAML) or policy.json");
        }

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
