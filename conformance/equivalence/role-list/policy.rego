# A list argument: deny when the roles asked for include admin.
package roles
import rego.v1

default decision := {"effect": "allow"}

decision := {"effect": "deny", "rule": "no-admin-grant"} if {
	input.action.type == "grant"
	"admin" in input.args.roles
}
