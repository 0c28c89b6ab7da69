using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Security.Cryptography;
using System.Text;

namespace Agt
{
    /// <summary>Where a verified chain ends: publish or sign it to pin every record before it.</summary>
    public sealed class ChainHead
    {
        public long Count { get; internal set; }
        public long Seq { get; internal set; }
        public string Hash { get; internal set; }
    }

    /// <summary>Who approved or refused a require_approval decision, when, and for which request.</summary>
    public sealed class ApprovalRecord
    {
        public bool Approved { get; internal set; }
        public string Approver { get; internal set; }
        public string DecidedAt { get; internal set; }
        public string RequestHash { get; internal set; }
        public string Handler { get; internal set; }
        public string Reason { get; internal set; }
        public bool Pending { get; internal set; }

        internal string ToJson()
        {
            var sb = new StringBuilder("{\"approved\":").Append(Approved ? "true" : "false").Append(",\"approver\":");
            if (Approver == null) sb.Append("null"); else JsonValue.WriteString(sb, Approver);
            sb.Append(",\"decided_at\":"); JsonValue.WriteString(sb, DecidedAt);
            sb.Append(",\"request_hash\":"); JsonValue.WriteString(sb, RequestHash);
            sb.Append(",\"handler\":"); JsonValue.WriteString(sb, Handler);
            sb.Append(",\"reason\":"); JsonValue.WriteString(sb, Reason ?? "");
            return sb.Append(",\"pending\":").Append(Pending ? "true" : "false").Append('}').ToString();
        }
    }

    /// <summary>
    /// An append-only, hash-chained, in-memory audit trail (thread-safe). Each record is the RFC 8785
    /// canonical JSON of {approval, decision, prev_hash, request, seq, timestamp}, built by the
    /// engine in agt-core's layout; its hash (SHA-256 of those bytes) is the next record's
    /// prev_hash. A trail exported here verifies in every SDK, and theirs verify here.
    /// </summary>
    public sealed class AuditLog
    {
        /// <summary>prev_hash of the first record.</summary>
        public const string GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000";

        readonly object gate = new object();
        readonly List<KeyValuePair<string, string>> entries = new List<KeyValuePair<string, string>>(); // (hash, body)
        readonly Func<DateTime> now;
        readonly Action<string> sink;
        string head = GenesisHash;

        /// <param name="sink">Called with each record's line before it joins the chain (e.g. to append to a file); if it throws, nothing is added and the call is refused.</param>
        /// <param name="now">Where timestamps come from (default: the UTC clock).</param>
        public AuditLog(Action<string> sink = null, Func<DateTime> now = null)
        {
            this.sink = sink;
            this.now = now ?? (() => DateTime.UtcNow);
        }

        /// <summary>Records one decision and returns the record's hash.</summary>
        /// <exception cref="AuditException">The record could not be built or the sink failed.</exception>
        public string Append(string requestJson, Decision decision, ApprovalRecord approval)
        {
            lock (gate)
            {
                long seq = entries.Count;
                string body, digest;
                try
                {
                    body = Native.RecordBody(seq, Timestamp(now()), head, requestJson, decision.ToJson(), approval == null ? null : approval.ToJson());
                    digest = Sha256Hex(body);
                    if (sink != null) sink(Native.RecordLine(body, digest));
                }
                catch (Exception e)
                {
                    throw new AuditException("audit record could not be written: " + e.Message, e);
                }
                entries.Add(new KeyValuePair<string, string>(digest, body));
                head = digest;
                return digest;
            }
        }

        public int Count { get { lock (gate) return entries.Count; } }

        /// <summary>Where the chain ends now.</summary>
        public ChainHead Head { get { lock (gate) return new ChainHead { Count = entries.Count, Seq = entries.Count - 1, Hash = head }; } }

        /// <summary>The records as canonical JSON lines (hash included), oldest first.</summary>
        public IList<string> Lines()
        {
            List<KeyValuePair<string, string>> copy;
            lock (gate) copy = new List<KeyValuePair<string, string>>(entries);
            var lines = new List<string>(copy.Count);
            foreach (var e in copy) lines.Add(Native.RecordLine(e.Value, e.Key));
            return lines;
        }

        /// <summary>Writes the trail as JSON lines.</summary>
        public void WriteTo(TextWriter writer)
        {
            foreach (var line in Lines()) { writer.Write(line); writer.Write('\n'); }
        }

        /// <summary>Checks every record against its hash, sequence number and predecessor, and the last against the head.</summary>
        public ChainHead Verify()
        {
            var h = Head;
            return VerifyLines(Lines(), h.Hash, h.Count);
        }

        /// <summary>
        /// Verifies an exported trail against a head and count published elsewhere (agt-core's
        /// verify_audit_lines, in the engine). A chain alone cannot show that nothing was cut off
        /// its end or that it was not rebuilt, so at least one of the two is required.
        /// </summary>
        /// <exception cref="AuditIntegrityException">Names the first record that does not verify.</exception>
        public static ChainHead VerifyLines(IEnumerable<string> lines, string expectedHead, long? expectedCount)
        {
            if (expectedHead == null && expectedCount == null)
                throw new ArgumentException("VerifyLines needs the expected head or count (from a published or signed head) to detect truncation or a rebuilt chain");
            var trail = new StringBuilder();
            foreach (var line in lines) trail.Append(line.TrimEnd('\n')).Append('\n');
            var pin = new StringBuilder("{\"expected_head\":");
            if (expectedHead == null) pin.Append("null"); else JsonValue.WriteString(pin, expectedHead);
            pin.Append(",\"expected_count\":").Append(expectedCount.HasValue ? expectedCount.Value.ToString(CultureInfo.InvariantCulture) : "null").Append('}');
            var h = JsonValue.Parse(Native.VerifyLines(trail.ToString(), pin.ToString()));
            return new ChainHead { Count = h.Get("count").AsLong, Seq = h.Get("seq").AsLong, Hash = h.Get("hash").AsString };
        }

        internal static string Timestamp(DateTime t)
        {
            return t.ToUniversalTime().ToString("yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'ffffff'Z'", CultureInfo.InvariantCulture);
        }

        internal static string Sha256Hex(string text)
        {
            using (var sha = SHA256.Create())
            {
                var sum = sha.ComputeHash(new UTF8Encoding(false, true).GetBytes(text));
                var sb = new StringBuilder(64);
                foreach (var b in sum) sb.Append(b.ToString("x2", CultureInfo.InvariantCulture));
                return sb.ToString();
            }
        }
    }

    /// <summary>agt-core's audit record layout, from the engine: for stores that keep records elsewhere.</summary>
    public static class AuditRecord
    {
        /// <summary>The canonical body of one record (parts canonicalised; approval null for none).</summary>
        public static string Body(long seq, string timestamp, string prevHash, string requestJson, string decisionJson, string approvalJson)
        {
            return Native.RecordBody(seq, timestamp, prevHash, requestJson, decisionJson, approvalJson);
        }

        /// <summary>The record's hash: lowercase hex SHA-256 of the body's UTF-8 bytes.</summary>
        public static string Hash(string body) { return AuditLog.Sha256Hex(body); }

        /// <summary>The exported line: the body with "hash" in canonical key order.</summary>
        public static string Line(string body, string hash) { return Native.RecordLine(body, hash); }
    }
}
