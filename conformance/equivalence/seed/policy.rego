# The seed's quick-start policy (conformance/seed-policy.yaml) in all three languages.
package production_policy
import rego.v1

default decision := {"effect": "allow"}

decision := {"effect": "deny", "rule": "block-destructive"} if {
	input.action.type in ["drop", "delete", "truncate"]
}

decision := {"effect": "require_approval", "rule": "require-approval-for-send", "approvers": ["security-team"]} if {
	input.action.type == "send_email"
}
