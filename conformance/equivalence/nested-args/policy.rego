# A nested argument: recursive deletes are denied.
package files
import rego.v1

default decision := {"effect": "allow"}

decision := {"effect": "deny", "rule": "no-recursive-delete"} if {
	input.action.type == "delete"
	input.args.options.recursive == true
}
