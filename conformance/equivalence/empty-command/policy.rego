# An empty command string is refused.
package commands
import rego.v1

default decision := {"effect": "allow"}

decision := {"effect": "deny", "rule": "empty-command"} if {
	input.action.type == "exec"
	input.args.cmd == ""
}
