# Selects above 1,000 rows are denied.
package rows
import rego.v1

default decision := {"effect": "allow"}

decision := {"effect": "deny", "rule": "too-many-rows"} if {
	input.action.type == "select"
	input.args.limit > 1000
}
