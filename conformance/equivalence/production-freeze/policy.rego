# No deploys in production; a missing environment denies (fail closed).
package freeze
import rego.v1

default decision := {"effect": "allow"}

decision := {"effect": "deny", "rule": "prod-freeze"} if {
	input.action.type == "deploy"
	not is_string(input.context.env)
}

decision := {"effect": "deny", "rule": "prod-freeze"} if {
	input.action.type == "deploy"
	input.context.env == "production"
}
