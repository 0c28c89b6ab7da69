# Mail outside example.com needs approval.
package mail
import rego.v1

default decision := {"effect": "allow"}

decision := {"effect": "require_approval", "rule": "external-mail", "approvers": ["security-team"]} if {
	input.action.type == "send_email"
	not internal
}

internal if endswith(input.args.to, "@example.com")
