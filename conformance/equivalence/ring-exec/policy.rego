# Only rings 0-2 may execute commands.
package rings
import rego.v1

default decision := {"effect": "allow"}

decision := {"effect": "deny", "rule": "exec-needs-ring"} if {
	input.action.type == "exec"
	input.agent.ring > 2
}
