# Shell commands need approval; `rm` is denied outright (the most severe rule wins).
package shell
import rego.v1

default decision := {"effect": "allow"}

decision := {"effect": "deny", "rule": "no-rm"} if {
	input.action.tool == "shell"
	input.args.cmd == "rm"
}

decision := {"effect": "require_approval", "rule": "shell-approval", "approvers": ["ops"]} if {
	input.action.tool == "shell"
	input.args.cmd != "rm"
}
