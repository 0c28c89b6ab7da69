# Reads and exports of the secrets table are denied.
package tables
import rego.v1

default decision := {"effect": "allow"}

decision := {"effect": "deny", "rule": "no-secrets"} if {
	input.action.type in ["select", "export"]
	input.args.table == "secrets"
}
