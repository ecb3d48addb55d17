"""Exit codes shared by the cluster commands (documented in the README's CLI reference).

``analyze`` keeps its own (0 Pass, 1 Fail, 3 Inconclusive, 2 bad input).
"""

OK = 0
FAILED = 1
"""The server answered no (not found, forbidden, rejected), the rollout failed (``status``: RolledBack,
Aborted, Invalid), or a command was not applied."""
USAGE = 2
"""Bad flags or arguments; for ``status``, also: the timeout passed before the rollout finished."""
TIMEOUT = 2
UNAVAILABLE = 3
"""No conversation with the API server: unreachable, TLS, timeout, HTTP 5xx, or no usable kubeconfig."""
