# A call may touch only the caller's own tenant.
package tenancy
import rego.v1

default decision := {"effect": "allow"}

decision := {"effect": "deny", "rule": "cross-tenant"} if {
	input.context.tenant != input.args.tenant
}
