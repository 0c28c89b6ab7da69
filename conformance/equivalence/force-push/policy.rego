# A boolean argument: forced pushes are denied.
package git
import rego.v1

default decision := {"effect": "allow"}

decision := {"effect": "deny", "rule": "no-force-push"} if {
	input.action.type == "push"
	input.args.force == true
}
