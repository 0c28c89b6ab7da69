# Shell and SSH tools only for ops-bot.
package remote
import rego.v1

default decision := {"effect": "allow"}

decision := {"effect": "deny", "rule": "remote-shells"} if {
	input.action.tool in ["shell", "ssh"]
	input.agent.id != "ops-bot"
}
