"""An API client whose every call has connect and read timeouts.

The official client sends requests with no timeout unless each call passes ``_request_timeout``; one
half-open connection then hangs a worker (or the lease renewal) forever. Every call made through this
client gets :data:`DEFAULT_TIMEOUT` unless it asks for another one (watches do: their read timeout must
outlast the server-side ``timeoutSeconds``). Writes wait for the client-side rate limiter when one is set
(``controller/kube/ratelimit.py``); reads are not limited, they come from the informer caches.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client as k8s

from controller.kube.ratelimit import TokenBucket

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
DEFAULT_TIMEOUT = (CONNECT_TIMEOUT, READ_TIMEOUT)
READS = frozenset({"GET", "HEAD", "OPTIONS"})


class TimeoutApiClient(k8s.ApiClient):  # type: ignore[misc]  # the kubernetes package is untyped here
    def __init__(self, *args: Any, timeout: tuple[float, float] = DEFAULT_TIMEOUT, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.default_timeout = timeout
        self.limiter: TokenBucket | None = None

    def call_api(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("_request_timeout") is None and len(args) < 6:
            kwargs["_request_timeout"] = self.default_timeout
        method = str(args[0] if args else kwargs.get("method", "GET")).upper()
        if self.limiter is not None and method not in READS:
            self.limiter.acquire()
        return super().call_api(*args, **kwargs)


def with_timeouts(api: Any, timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> Any:
    """``api`` itself when it already applies timeouts, else a TimeoutApiClient on its configuration."""
    if isinstance(api, TimeoutApiClient):
        return api
    return TimeoutApiClient(api.configuration, timeout=timeout)
