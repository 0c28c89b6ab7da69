# Tool and action together: migrations on the db tool need approval.
package migrations
import rego.v1

default decision := {"effect": "allow"}

decision := {"effect": "require_approval", "rule": "migration-approval", "approvers": ["dba"]} if {
	input.action.tool == "db"
	input.action.type == "migrate"
}
