# Kernel operations need ring 0.
package ring_zero
import rego.v1

default decision := {"effect": "allow"}

decision := {"effect": "deny", "rule": "kernel-needs-ring-0"} if {
	input.action.type == "kernel_op"
	input.agent.ring != 0
}
