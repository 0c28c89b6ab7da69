# Default deny; only reads and lists are allowed.
package read_only
import rego.v1

default decision := {"effect": "deny"}

decision := {"effect": "allow", "rule": "allow-reads"} if input.action.type in ["read", "list"]
