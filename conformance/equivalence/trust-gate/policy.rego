# Agents below trust 0.5 are denied; an agent without a trust score is denied too (fail closed).
package trust
import rego.v1

default decision := {"effect": "allow"}

# Written to fail closed: a missing or non-numeric trust denies, as the CEL condition's error does.
decision := {"effect": "deny", "rule": "low-trust"} if not trusted

trusted if {
	is_number(input.agent.trust)
	input.agent.trust >= 0.5
}
