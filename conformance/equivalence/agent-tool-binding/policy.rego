# The reporter agent may use only the reports tool.
package binding
import rego.v1

default decision := {"effect": "allow"}

decision := {"effect": "deny", "rule": "reporter-only-reports"} if {
	input.agent.id == "reporter"
	input.action.tool != "reports"
}
