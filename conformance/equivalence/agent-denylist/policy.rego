# Named agents are denied everything.
package denylist
import rego.v1

default decision := {"effect": "allow"}

decision := {"effect": "deny", "rule": "rogue-agents"} if input.agent.id in ["rogue-1", "rogue-2"]
