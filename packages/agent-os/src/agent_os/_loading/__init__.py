"""Policy loading: sources to checked, resolved policies (`agt_core.ResolvedPolicy`).

One job per module: `_yaml` (YAML text to data, refusing what a policy must not hold),
`_source_map` and `_scalar_offsets` (where each value is in the file), `_document` (one document
validated and its conditions checked), `_validate` (pydantic's errors in the author's terms),
`_extends` (inheritance), `_fields` (load warnings), `_problems` (several errors as one) and
`_loader` (sources, folders and the whole load).
"""

from agent_os._loading._loader import (
    POLICY_FILE_SUFFIXES,
    STRICT_ENV,
    PolicySource,
    load_policies,
    strict_from_env,
)
from agent_os._loading._problems import PolicyProblems

__all__ = [
    "POLICY_FILE_SUFFIXES",
    "STRICT_ENV",
    "PolicyProblems",
    "PolicySource",
    "load_policies",
    "strict_from_env",
]
