# Tiered trust: transfers below 0.8 need approval, below 0.3 are denied.
package transfers
import rego.v1

default decision := {"effect": "allow"}

decision := {"effect": "deny", "rule": "untrusted-transfer"} if {
	input.action.type == "transfer"
	input.agent.trust < 0.3
}

decision := {"effect": "require_approval", "rule": "low-trust-transfer", "approvers": ["treasury"]} if {
	input.action.type == "transfer"
	input.agent.trust >= 0.3
	input.agent.trust < 0.8
}
