# Only the ops-bot agent may deploy.
package deploys
import rego.v1

default decision := {"effect": "allow"}

decision := {"effect": "deny", "rule": "only-ops-bot"} if {
	input.action.type == "deploy"
	input.agent.id != "ops-bot"
}
