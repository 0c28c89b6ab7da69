# Exports are allowed with a warning.
package exports
import rego.v1

default decision := {"effect": "allow"}

decision := {"effect": "warn", "rule": "export-noted"} if input.action.type == "export"

decision := {"effect": "deny", "rule": "no-wipe"} if input.action.type == "wipe"
