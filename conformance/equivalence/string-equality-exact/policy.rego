# Exact string matching: case, whitespace and Unicode look-alikes do not match.
package exact
import rego.v1

default decision := {"effect": "allow"}

decision := {"effect": "deny", "rule": "no-shutdown"} if input.action.type == "shutdown"
