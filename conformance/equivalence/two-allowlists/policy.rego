# Default deny with two allow rules: SQL reads, and search anywhere.
package allowlists
import rego.v1

default decision := {"effect": "deny"}

decision := {"effect": "allow", "rule": "sql-reads"} if {
	input.action.tool == "sql"
	input.action.type == "select"
}

decision := {"effect": "allow", "rule": "search"} if {
	input.action.type == "search"
	input.action.tool != "sql"
}
