# A string prefix: writes under /etc/ are denied.
package paths
import rego.v1

default decision := {"effect": "allow"}

decision := {"effect": "deny", "rule": "no-etc"} if {
	input.action.type == "write_file"
	startswith(input.args.path, "/etc/")
}
