"""The Prometheus adapter: prometheus-api-client on a session we configure, with tenacity retries.

prometheus-api-client hides the HTTP status in an exception string and retries 5xx itself through urllib3.
We hand it our own ``requests.Session`` whose response hook classifies every non-200 answer, disable its
retries, and retry with jitter here, only where a retry can help: connection errors, timeouts and 5xx.
400/422 become ``QueryRejected`` (the PromQL is wrong); everything else that prevents an answer becomes
``SourceUnavailable`` (outage: hold, don't blame green).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from prometheus_api_client import PrometheusConnect
from requests.adapters import HTTPAdapter
from tenacity import Retrying, retry_if_exception, stop_after_attempt, stop_after_delay, wait_random_exponential
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

from controller.analysis.source import QueryRejected, Series, SourceUnavailable

REJECTED = frozenset({400, 422})
LONG_QUERY = 1500
"""Characters above which a query is POSTed as a form instead of sent in the URL: batched queries name many
tracks (issue 15), and proxies in front of Prometheus cap request lines at a few KiB (nginx: 8 KiB)."""
MAX_ANSWER_BYTES = 32 * 2**20
"""Our queries return a few series of at most a few hundred points; anything this big is not an answer."""


class _DeadlineAdapter(HTTPAdapter):
    """Bounds the whole answer, not each read: a server that trickles a byte per second cannot hold a worker.

    requests' ``timeout`` applies to the connection and to each socket read; here the body is read in
    chunks as they arrive and the request fails once the total time exceeds the read timeout given.
    """

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        total = timeout[1] if isinstance(timeout, tuple) else timeout
        started = time.monotonic()
        response = super().send(request, stream=True, timeout=timeout, verify=verify, cert=cert, proxies=proxies)
        if stream or total is None:
            return response
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                if time.monotonic() - started > float(total):
                    raise requests.Timeout(f"timed out: answer not complete within {float(total):g}s")
                chunk = response.raw.read1(65536, decode_content=True)
                if not chunk:
                    break
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    raise requests.ConnectionError(f"answer larger than {MAX_ANSWER_BYTES // 2**20} MiB")
                chunks.append(chunk)
        finally:
            response.close()
        response._content = b"".join(chunks)
        response._content_consumed = True  # type: ignore[attr-defined]  # requests' own bookkeeping
        return response


ERROR_LIMIT = 300
"""Characters of a remote error kept for status and events (Events are truncated at 1 KiB anyway)."""


class _ServerError(Exception):
    """5xx: worth retrying."""


class _Refused(Exception):
    """Other non-200 answers (401, 403, 404, 429…): not the query's fault, not worth retrying."""


def sanitise(text: str, limit: int = ERROR_LIMIT) -> str:
    """Text from a remote server made fit for status, events and logs: one line, printable, bounded."""
    printable = "".join(c if c.isprintable() else " " for c in text[: limit * 4])
    flat = " ".join(printable.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _classify(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """Response hook: raise for anything but 200, keeping Prometheus's own error text (sanitised).

    A redirect is refused, never followed: the address is the operator-allowed one, and following a
    redirect would send the query (and its credentials) to wherever the Prometheus side points.
    """
    if response.status_code == 200:
        return
    if response.is_redirect:
        target = urlsplit(response.headers.get("Location", ""))
        where = f"{target.scheme}://{target.netloc}" if target.netloc else "a relative location"
        raise _Refused(
            f"HTTP {response.status_code}: redirect to {sanitise(where, 100)} not followed; "
            "set spec.analysis.prometheus.address to the final URL"
        )
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error_type, error = sanitise(str(body.get("errorType", "")), 40), sanitise(str(body.get("error", "")))
    else:
        error_type, error = "", sanitise(response.text)
    detail = f"HTTP {response.status_code} {error_type}: {error}".strip()
    if response.status_code in REJECTED:
        raise QueryRejected("", response.status_code, error_type or "bad_data", error)
    if response.status_code >= 500:
        raise _ServerError(detail)
    raise _Refused(detail)


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, requests.exceptions.SSLError):
        return False
    return isinstance(exc, requests.ConnectionError | requests.Timeout | _ServerError)


class PrometheusSource:
    """A ``MetricSource`` for one Prometheus (or compatible: Thanos, Mimir, VictoriaMetrics) endpoint."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        headers: dict[str, str] | None = None,
        bearer_token: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        ca_file: str | None = None,
        insecure_skip_verify: bool = False,
        attempts: int = 3,
        backoff: float = 0.5,
    ) -> None:
        session = requests.Session()
        session.max_redirects = 0  # with the hook refusing 3xx, belt and braces: never a second request
        session.verify = False if insecure_skip_verify else (ca_file or True)
        session.hooks["response"].append(_classify)
        all_headers = dict(headers or {})
        if bearer_token:
            all_headers["Authorization"] = f"Bearer {bearer_token}"
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._client = PrometheusConnect(
            url=self.url,
            headers=all_headers,
            auth=basic_auth,
            session=session,
            retry=Retry(total=0, raise_on_status=False),
            timeout=timeout,
        )
        session.mount(self.url, _DeadlineAdapter(max_retries=0))  # after PrometheusConnect mounted its own
        self._attempts, self._backoff = attempts, backoff
        self._session, self._headers, self._auth = session, all_headers, basic_auth

    def _retrying(self, call: Any) -> Any:
        """Retries within one overall deadline of ``timeout`` seconds for the query, retries included."""
        deadline = time.monotonic() + self.timeout

        def attempt() -> Any:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise requests.Timeout(f"timed out after {self.timeout:g}s")
            return call(max(0.1, remaining))

        retrying = Retrying(
            stop=stop_after_attempt(self._attempts) | stop_after_delay(self.timeout),
            wait=wait_random_exponential(multiplier=self._backoff, max=self._backoff * 8),
            retry=retry_if_exception(_retryable),
            reraise=True,
        )
        return retrying(attempt)

    def close(self) -> None:
        self._client.close()

    def instant(self, query: str, at: float) -> list[Series]:
        params = {"time": f"{at:.3f}", "timeout": f"{self.timeout:g}s"}
        if len(query) > LONG_QUERY:
            return self._call(query, lambda left: self._post("query", {"query": query, **params}, left))
        return self._call(query, lambda left: self._client.custom_query(query, params=params, timeout=left))

    def range(self, query: str, start: float, end: float, step: float) -> list[Series]:
        if len(query) > LONG_QUERY:  # the same rounding of start and end as the client's GET
            form = {
                "query": query,
                "start": str(round(datetime.fromtimestamp(start, UTC).timestamp())),
                "end": str(round(datetime.fromtimestamp(end, UTC).timestamp())),
                "step": f"{step:g}",
                "timeout": f"{self.timeout:g}s",
            }
            return self._call(query, lambda left: self._post("query_range", form, left))

        def call(left: float) -> Any:
            return self._client.custom_query_range(
                query,
                start_time=datetime.fromtimestamp(start, UTC),
                end_time=datetime.fromtimestamp(end, UTC),
                step=f"{step:g}",
                params={"timeout": f"{self.timeout:g}s"},
                timeout=left,
            )

        return self._call(query, call)

    def _post(self, endpoint: str, form: dict[str, str], timeout: float) -> Any:
        """A query as a form body (same session, hooks, deadline and credentials as the client's GETs)."""
        response = self._session.post(
            f"{self.url}/api/v1/{endpoint}", data=form, headers=self._headers, auth=self._auth, timeout=timeout
        )
        return response.json()["data"]["result"]

    def clock_skew(self) -> float:
        """Prometheus' clock minus ours, in seconds: ``time()`` evaluated at the server's own "now".

        The query carries no ``time`` parameter, so the server uses its clock; ours is taken as the
        midpoint of the round trip, which bounds the error by half the round-trip time.
        """
        before = time.time()
        series = self._call("time()", lambda left: self._client.custom_query("time()", timeout=left))
        after = time.time()
        if not series or not series[0].points:
            raise SourceUnavailable(f"{self.url}: time() returned nothing")
        return series[0].points[-1][1] - (before + after) / 2

    def _call(self, query: str, call: Any) -> list[Series]:
        try:
            return parse_result(self._retrying(call))
        except QueryRejected as exc:
            raise QueryRejected(query, exc.status, exc.error_type, exc.error) from None
        except (requests.RequestException, _ServerError, _Refused, ValueError, KeyError, TypeError) as exc:
            raise SourceUnavailable(f"{self.url}: {sanitise(_describe(exc))}") from None


def _timed_out(exc: BaseException) -> bool:
    """With urllib3 retries off, requests reports a read timeout as ConnectionError(MaxRetryError(ReadTimeout))."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.Timeout) or isinstance(reason, ReadTimeoutError)


def _describe(exc: BaseException) -> str:
    if _timed_out(exc):
        return "timed out"
    if isinstance(exc, requests.ConnectionError):
        return "cannot connect"
    if isinstance(exc, ValueError | KeyError | TypeError) and not isinstance(exc, requests.RequestException):
        return f"unexpected answer ({type(exc).__name__})"
    return str(exc)


def parse_result(result: Any) -> list[Series]:
    """The ``data.result`` of an instant or range query as Series (a scalar becomes one unlabelled series)."""
    if isinstance(result, list) and len(result) == 2 and not isinstance(result[0], dict):
        return [Series({}, ((float(result[0]), float(result[1])),))]
    out: list[Series] = []
    for item in result:
        raw = item["values"] if "values" in item else [item["value"]]
        points = tuple((float(t), float(v)) for t, v in raw)
        out.append(Series(dict(item.get("metric", {})), points))
    return out


__all__ = ["PrometheusSource", "parse_result", "sanitise"]
