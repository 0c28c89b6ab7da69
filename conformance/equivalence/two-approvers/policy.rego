# An approval with two approver groups.
package releases
import rego.v1

default decision := {"effect": "allow"}

decision := {"effect": "require_approval", "rule": "release-approval", "approvers": ["release-managers", "qa"]} if {
	input.action.type == "release"
}
