# Only named tools may run (default deny).
package tools
import rego.v1

default decision := {"effect": "deny"}

decision := {"effect": "allow", "rule": "known-tools"} if input.action.tool in ["search", "calculator"]
