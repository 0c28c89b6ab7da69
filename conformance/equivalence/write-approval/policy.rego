# Inserts and updates need a DBA's approval.
package writes
import rego.v1

default decision := {"effect": "allow"}

decision := {"effect": "require_approval", "rule": "write-approval", "approvers": ["dba"]} if {
	input.action.type in ["insert", "update"]
}
