# Reads are logged (allowed, annotated); wipes are denied.
package audit_reads
import rego.v1

default decision := {"effect": "allow"}

decision := {"effect": "log", "rule": "reads-logged"} if input.action.type == "read"

decision := {"effect": "deny", "rule": "no-wipe"} if input.action.type == "wipe"
