using System;
using System.Runtime.InteropServices;
using System.Text;

namespace Agt
{
    /// <summary>
    /// The C ABI of the Rust engine (libagt, crate agt-ffi; header agt.h). Every decision,
    /// canonical form, hash layout and trail verification comes from there. Strings cross as
    /// NUL-terminated UTF-8 that this class encodes itself (strictly: a lone surrogate or a NUL
    /// character is refused, never replaced), and every string the library returns is copied and
    /// released with agt_string_free.
    /// </summary>
    internal static class Native
    {
        const string Lib = "agt";

        internal const int StatusOk = 0, StatusInvalid = 1, StatusJson = 2, StatusPolicy = 3, StatusCanonical = 4,
            StatusAuditIntegrity = 5, StatusAuditWrite = 6, StatusUnpinned = 7, StatusIo = 8, StatusRequest = 9;

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] static extern IntPtr agt_version();
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] static extern void agt_string_free(IntPtr text);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] static extern int agt_policy_set_compile(byte[] policies, out IntPtr set, out IntPtr error);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] static extern int agt_policy_set_load_yaml(byte[] yaml, byte[] baseDir, out IntPtr set, out IntPtr error);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] static extern int agt_policy_set_load_files(byte[] paths, byte[] baseDir, out IntPtr set, out IntPtr error);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] static extern int agt_policy_set_info(PolicySetHandle set, out IntPtr output, out IntPtr error);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] static extern int agt_policy_set_evaluate(PolicySetHandle set, byte[] request, out IntPtr output, out IntPtr error);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] static extern int agt_policy_set_decide(PolicySetHandle set, RateLimiterHandle limiter, byte[] request, double now, out IntPtr output, out IntPtr error);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern void agt_policy_set_free(IntPtr set);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] static extern int agt_rate_limiter_new(out IntPtr limiter, out IntPtr error);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern void agt_rate_limiter_free(IntPtr limiter);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] static extern int agt_canonical_json(byte[] json, out IntPtr output, out IntPtr error);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] static extern int agt_content_hash(byte[] json, out IntPtr output, out IntPtr error);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] static extern int agt_audit_record_body(ulong seq, byte[] timestamp, byte[] prevHash, byte[] request, byte[] decision, byte[] approval, out IntPtr output, out IntPtr error);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] static extern int agt_audit_record_line(byte[] body, byte[] hash, out IntPtr output, out IntPtr error);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] static extern int agt_audit_verify_lines(byte[] trail, byte[] pin, out IntPtr output, out IntPtr error);

        static readonly UTF8Encoding Strict = new UTF8Encoding(false, true);

        /// <summary>NUL-terminated strict UTF-8.</summary>
        static byte[] Utf8(string text, string what)
        {
            if (text == null) return null;
            if (text.IndexOf('\0') >= 0) throw new EngineException(StatusInvalid, what + " holds a NUL character, which is not valid JSON text");
            byte[] bytes;
            try { bytes = Strict.GetBytes(text); }
            catch (EncoderFallbackException) { throw new EngineException(StatusInvalid, what + " holds a lone surrogate, which has no UTF-8 form"); }
            var z = new byte[bytes.Length + 1];
            Buffer.BlockCopy(bytes, 0, z, 0, bytes.Length);
            return z;
        }

        static string Take(IntPtr p)
        {
            if (p == IntPtr.Zero) return null;
            try
            {
                int n = 0;
                while (Marshal.ReadByte(p, n) != 0) n++;
                var bytes = new byte[n];
                Marshal.Copy(p, bytes, 0, n);
                return Encoding.UTF8.GetString(bytes);
            }
            finally { agt_string_free(p); }
        }

        /// <summary>Turns a failed status and its error JSON into the toolkit's exceptions.</summary>
        static Exception Failure(int status, IntPtr error)
        {
            string raw = Take(error);
            JsonValue e = null;
            try { if (raw != null) e = JsonValue.Parse(raw); } catch (FormatException) { }
            string message = Str(e, "message") ?? raw ?? "the engine failed without a message";
            switch (status)
            {
                case StatusPolicy:
                case StatusIo:
                    return new PolicyException(message, Str(e, "path"), Str(e, "file"), Int(e, "line"), Int(e, "column"), Str(e, "help"));
                case StatusAuditIntegrity:
                case StatusUnpinned:
                    return new AuditIntegrityException(message, Int(e, "index") ?? -1);
                case StatusAuditWrite:
                    return new AuditException(message, null);
                case StatusRequest:
                    return new RequestException(message, null);
            }
            return new EngineException(status, message);
        }

        static string Str(JsonValue e, string key)
        {
            var v = e == null ? null : e.Get(key);
            return v != null && v.Kind == JsonKind.String ? v.AsString : null;
        }

        static int? Int(JsonValue e, string key)
        {
            var v = e == null ? null : e.Get(key);
            return v != null && v.Kind == JsonKind.Number && v.IsIntegerToken ? (int?)v.AsLong : null;
        }

        static string Check(int status, IntPtr output, IntPtr error)
        {
            if (status != StatusOk)
            {
                if (output != IntPtr.Zero) agt_string_free(output);
                throw Failure(status, error);
            }
            return Take(output);
        }

        internal static string Version() { return Marshal.PtrToStringAnsi(agt_version()); }

        internal static string CanonicalJson(string json)
        {
            IntPtr o, e;
            int s = agt_canonical_json(Utf8(json, "json text"), out o, out e);
            return Check(s, o, e);
        }

        internal static string ContentHash(string json)
        {
            IntPtr o, e;
            int s = agt_content_hash(Utf8(json, "json text"), out o, out e);
            return Check(s, o, e);
        }

        internal static PolicySetHandle Compile(string policies)
        {
            IntPtr handle, e;
            int s = agt_policy_set_compile(Utf8(policies, "policies"), out handle, out e);
            if (s != StatusOk) throw Failure(s, e);
            return new PolicySetHandle(handle);
        }

        internal static PolicySetHandle LoadYaml(string yaml)
        {
            IntPtr handle, e;
            int s = agt_policy_set_load_yaml(Utf8(yaml, "yaml"), null, out handle, out e);
            if (s != StatusOk) throw Failure(s, e);
            return new PolicySetHandle(handle);
        }

        internal static PolicySetHandle LoadFiles(string pathsJson)
        {
            IntPtr handle, e;
            int s = agt_policy_set_load_files(Utf8(pathsJson, "paths"), null, out handle, out e);
            if (s != StatusOk) throw Failure(s, e);
            return new PolicySetHandle(handle);
        }

        internal static string Info(PolicySetHandle set)
        {
            IntPtr o, e;
            int s = agt_policy_set_info(set, out o, out e);
            return Check(s, o, e);
        }

        internal static string Evaluate(PolicySetHandle set, string request)
        {
            IntPtr o, e;
            int s = agt_policy_set_evaluate(set, Utf8(request, "request"), out o, out e);
            return Check(s, o, e);
        }

        internal static string Decide(PolicySetHandle set, RateLimiterHandle limiter, string request, double now)
        {
            IntPtr o, e;
            int s = agt_policy_set_decide(set, limiter, Utf8(request, "request"), now, out o, out e);
            return Check(s, o, e);
        }

        internal static RateLimiterHandle NewRateLimiter()
        {
            IntPtr handle, e;
            int s = agt_rate_limiter_new(out handle, out e);
            if (s != StatusOk) throw Failure(s, e);
            return new RateLimiterHandle(handle);
        }

        internal static string RecordBody(long seq, string timestamp, string prevHash, string request, string decision, string approval)
        {
            if (seq < 0) throw new ArgumentOutOfRangeException("seq");
            IntPtr o, e;
            int s = agt_audit_record_body((ulong)seq, Utf8(timestamp, "timestamp"), Utf8(prevHash, "prev_hash"), Utf8(request, "request"),
                Utf8(decision, "decision"), Utf8(approval, "approval"), out o, out e);
            return Check(s, o, e);
        }

        internal static string RecordLine(string body, string hash)
        {
            IntPtr o, e;
            int s = agt_audit_record_line(Utf8(body, "body"), Utf8(hash, "hash"), out o, out e);
            return Check(s, o, e);
        }

        internal static string VerifyLines(string trail, string pin)
        {
            IntPtr o, e;
            int s = agt_audit_verify_lines(Utf8(trail, "trail"), Utf8(pin, "pin"), out o, out e);
            return Check(s, o, e);
        }
    }

    /// <summary>Owns a compiled policy set; released once, when disposed or finalised.</summary>
    internal sealed class PolicySetHandle : SafeHandle
    {
        public PolicySetHandle() : base(IntPtr.Zero, true) { }
        internal PolicySetHandle(IntPtr handle) : base(IntPtr.Zero, true) { SetHandle(handle); }
        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }
        protected override bool ReleaseHandle() { Native.agt_policy_set_free(handle); return true; }
    }

    /// <summary>Owns rate-limit state (calls counted per agent, policy and rule).</summary>
    internal sealed class RateLimiterHandle : SafeHandle
    {
        public RateLimiterHandle() : base(IntPtr.Zero, true) { }
        internal RateLimiterHandle(IntPtr handle) : base(IntPtr.Zero, true) { SetHandle(handle); }
        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }
        protected override bool ReleaseHandle() { Native.agt_rate_limiter_free(handle); return true; }
    }
}
