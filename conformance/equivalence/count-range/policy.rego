# Default deny; a batch is allowed only for 1 to 100 items.
package batches
import rego.v1

default decision := {"effect": "deny"}

decision := {"effect": "allow", "rule": "sane-batch"} if {
	input.action.type == "batch"
	input.args.count >= 1
	input.args.count <= 100
}
