using System;
using System.Collections.Generic;

namespace Agt
{
    /// <summary>What an approver is asked to decide.</summary>
    public sealed class ApprovalRequest
    {
        /// <summary>The require_approval decision (rule, message, approvers).</summary>
        public Decision Decision { get; internal set; }
        /// <summary>The canonical JSON of the judged request.</summary>
        public string Request { get; internal set; }
        /// <summary>"sha256:&lt;hex&gt;" of Request: an approval covers exactly this request.</summary>
        public string RequestHash { get; internal set; }

        public IList<string> Approvers { get { return Decision.Approvers; } }

        /// <summary>Yes, for exactly this request (bound to its hash, so it cannot be replayed onto another).</summary>
        public ApprovalResponse Approve(string approver, string reason = "")
        {
            return new ApprovalResponse(true, approver, reason, RequestHash);
        }

        public ApprovalResponse Refuse(string approver = null, string reason = "")
        {
            return new ApprovalResponse(false, approver, reason, RequestHash);
        }
    }

    /// <summary>An approval handler's answer; build it with ApprovalRequest.Approve or Refuse.</summary>
    public sealed class ApprovalResponse
    {
        public bool Approved { get; private set; }
        public string Approver { get; private set; }
        public string Reason { get; private set; }
        /// <summary>Must equal the request's RequestHash for an approval to count.</summary>
        public string RequestHash { get; private set; }

        public ApprovalResponse(bool approved, string approver, string reason, string requestHash)
        {
            Approved = approved;
            Approver = approver;
            Reason = reason ?? "";
            RequestHash = requestHash;
        }
    }

    /// <summary>
    /// Decides require_approval decisions. Throw ApprovalPendingException when the decision was
    /// handed to a person out of band (refused for now, recorded as pending). Any other exception
    /// refuses the call, is recorded, and is rethrown as ApprovalException.
    /// </summary>
    public interface IApprovalHandler
    {
        ApprovalResponse Decide(ApprovalRequest request);
    }

    /// <summary>The default: refuses every approval request.</summary>
    public sealed class DenyApprovals : IApprovalHandler
    {
        public ApprovalResponse Decide(ApprovalRequest request) { return request.Refuse(null, "no approval handler is configured"); }
    }

    /// <summary>Asks a function; a bare bool answer is bound to the request and recorded with <c>approver</c>.</summary>
    public sealed class CallbackApproval : IApprovalHandler
    {
        readonly Func<ApprovalRequest, ApprovalResponse> callback;

        public CallbackApproval(Func<ApprovalRequest, ApprovalResponse> callback) { this.callback = callback; }

        public CallbackApproval(Func<ApprovalRequest, bool> callback, string approver = "callback")
        {
            this.callback = r => callback(r) ? r.Approve(approver, "approved by callback") : r.Refuse(approver, "refused by callback");
        }

        public ApprovalResponse Decide(ApprovalRequest request) { return callback(request); }
    }

    /// <summary>Thrown by a handler that handed the decision to a person out of band.</summary>
    public sealed class ApprovalPendingException : Exception
    {
        public ApprovalPendingException(string reason = "") : base(reason) { }
    }
}
