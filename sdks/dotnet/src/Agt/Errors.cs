using System;

namespace Agt
{
    // The exceptions of this library. Each one means the governed call did not run:
    //
    //   AgtException
    //   ├── GovernanceDeniedException  the decision refused the call (deny, unapproved require_approval, refusal)
    //   ├── PolicyException            a policy could not be loaded or compiled (at setup, never per call)
    //   ├── RequestException           the arguments cannot be judged faithfully (the call is refused, audited)
    //   ├── ApprovalException          the approval handler failed (recorded as a refusal, then thrown)
    //   ├── AuditException             the decision could not be recorded, so the call did not run
    //   ├── AuditIntegrityException    an audit trail does not verify (names the first bad record)
    //   └── EngineException            the native engine failed or could not be reached

    /// <summary>The root of the toolkit's exceptions.</summary>
    public class AgtException : Exception
    {
        /// <summary>What to do about it, when the toolkit knows.</summary>
        public string Help { get; private set; }

        public AgtException(string message, string help = null, Exception inner = null) : base(message, inner) { Help = help; }
    }

    /// <summary>Thrown by a governed delegate whose call was refused.</summary>
    public sealed class GovernanceDeniedException : AgtException
    {
        public string Tool { get; private set; }
        public Decision Decision { get; private set; }
        /// <summary>The approval record when the decision required one.</summary>
        public ApprovalRecord Approval { get; private set; }
        /// <summary>Hash of the audit record of this refusal (null without an audit log).</summary>
        public string AuditHash { get; private set; }

        public GovernanceDeniedException(string tool, Enforcement outcome, string help = null, Exception cause = null)
            : base("call to `" + tool + "` refused: " + outcome.Decision.Summary(), help, cause)
        {
            Tool = tool;
            Decision = outcome.Decision;
            Approval = outcome.Approval;
            AuditHash = outcome.AuditHash;
        }
    }

    /// <summary>A policy that could not be loaded or compiled, with where.</summary>
    public sealed class PolicyException : AgtException
    {
        /// <summary>Where in the document (e.g. "rules[0].condition"), when known.</summary>
        public string Path { get; private set; }
        public string File { get; private set; }
        public int? Line { get; private set; }
        public int? Column { get; private set; }

        public PolicyException(string message, string path = null, string file = null, int? line = null, int? column = null, string help = null)
            : base(Describe(message, path, file, line, column), help)
        {
            Path = path;
            File = file;
            Line = line;
            Column = column;
            Reason = message;
        }

        /// <summary>The message without its location.</summary>
        public string Reason { get; private set; }

        static string Describe(string message, string path, string file, int? line, int? column)
        {
            string where = "";
            if (file != null) where = file + (line.HasValue ? ":" + line + ":" + column : "") + ": ";
            if (!string.IsNullOrEmpty(path)) where += path + ": ";
            return where + message;
        }
    }

    /// <summary>The arguments of a call cannot be judged faithfully; the call was refused.</summary>
    public sealed class RequestException : AgtException
    {
        public RequestException(string message, string help) : base(message, help) { }
    }

    /// <summary>The approval handler failed; the refusal was recorded before this was thrown.</summary>
    public sealed class ApprovalException : AgtException
    {
        public string Rule { get; private set; }

        public ApprovalException(string rule, string message, Exception inner)
            : base("approval handler failed for rule `" + rule + "`: " + message, "the action was refused and the failure recorded in the audit log", inner)
        {
            Rule = rule;
        }
    }

    /// <summary>A decision could not be recorded, so the call did not run.</summary>
    public sealed class AuditException : AgtException
    {
        public AuditException(string message, Exception inner) : base(message, null, inner) { }
    }

    /// <summary>An audit trail does not verify.</summary>
    public sealed class AuditIntegrityException : AgtException
    {
        /// <summary>Sequence number of the first record that does not verify.</summary>
        public long Index { get; private set; }

        public AuditIntegrityException(string message, long index) : base(message) { Index = index; }
    }

    /// <summary>The native engine failed (bad input at the boundary, a caught panic).</summary>
    public sealed class EngineException : AgtException
    {
        public int Status { get; private set; }

        public EngineException(int status, string message) : base("agt engine error " + status + ": " + message) { Status = status; }
    }
}
