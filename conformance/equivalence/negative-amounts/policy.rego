# Negative amounts are refused.
package refunds
import rego.v1

default decision := {"effect": "allow"}

decision := {"effect": "deny", "rule": "negative-amount"} if {
	input.action.type == "refund"
	input.args.amount < 0
}
