# Numeric thresholds on an argument: approval above 1,000, deny above 10,000.
package payments
import rego.v1

default decision := {"effect": "allow"}

decision := {"effect": "deny", "rule": "too-large"} if {
	input.action.type == "pay"
	input.args.amount > 10000
}

decision := {"effect": "require_approval", "rule": "large", "approvers": ["finance"]} if {
	input.action.type == "pay"
	input.args.amount > 1000
	input.args.amount <= 10000
}
