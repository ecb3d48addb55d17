"""The Prometheus adapter's error classes, retries and credentials, against a scripted HTTP server."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from controller.analysis import PrometheusSource, QueryRejected, SourceUnavailable

OK = {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {"pod": "a"}, "value": [1, "2"]}]}}


class Script:
    def __init__(self) -> None:
        self.replies: list[tuple[int, object]] = []
        self.requests: list[dict[str, str]] = []
        self.delay = 0.0
        self.trickle: float | None = None  # seconds between body bytes: a server that never quite answers


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            script.requests.append({**dict(self.headers.items()), "path": self.path})
            time.sleep(script.delay)
            status, body = script.replies.pop(0) if script.replies else (200, OK)
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if script.trickle is None:
                    self.wfile.write(data)
                    return
                for byte in data:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(script.trickle)
            except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                pass

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", script
    httpd.shutdown()
    httpd.server_close()


def error(kind: str, text: str) -> dict[str, str]:
    return {"status": "error", "errorType": kind, "error": text}


def test_5xx_is_retried_then_answers(server: tuple[str, Script]) -> None:
    url, script = server
    script.replies = [(503, error("unavailable", "busy")), (502, "bad gateway")]
    result = PrometheusSource(url, attempts=3, backoff=0.01).instant("up", 1.0)
    assert result[0].value == 2.0 and result[0].labels == {"pod": "a"}
    assert len(script.requests) == 3


def test_5xx_after_retries_is_an_outage(server: tuple[str, Script]) -> None:
    url, script = server
    script.replies = [(503, error("unavailable", "busy"))] * 3
    with pytest.raises(SourceUnavailable, match="503"):
        PrometheusSource(url, attempts=3, backoff=0.01).instant("up", 1.0)


@pytest.mark.parametrize("status", [400, 422])
def test_rejected_query_is_not_retried(server: tuple[str, Script], status: int) -> None:
    url, script = server
    script.replies = [(status, error("bad_data", "parse error at char 5"))]
    with pytest.raises(QueryRejected) as exc:
        PrometheusSource(url, attempts=3, backoff=0.01).instant("sum(", 1.0)
    assert exc.value.query == "sum(" and exc.value.status == status and "parse error" in exc.value.error
    assert len(script.requests) == 1


def test_refused_credentials_are_an_outage_without_retry(server: tuple[str, Script]) -> None:
    url, script = server
    script.replies = [(401, "unauthorized")]
    with pytest.raises(SourceUnavailable, match="401"):
        PrometheusSource(url, attempts=3, backoff=0.01).instant("up", 1.0)
    assert len(script.requests) == 1


def test_timeout_is_one_deadline_for_the_query_retries_included(server: tuple[str, Script]) -> None:
    url, script = server
    script.delay = 0.5
    with pytest.raises(SourceUnavailable, match="timed out"):
        PrometheusSource(url, timeout=0.2, attempts=5, backoff=0.01).instant("up", 1.0)
    assert len(script.requests) == 1  # the first attempt used the whole deadline: no retry after it


def test_a_server_that_trickles_bytes_is_cut_off_at_the_deadline(server: tuple[str, Script]) -> None:
    """Each byte arrives well within the read timeout, so only an overall deadline can end the wait."""
    url, script = server
    script.trickle = 0.05  # the whole answer would take len(OK) * 0.05 = about 5 s
    started = time.monotonic()
    with pytest.raises(SourceUnavailable, match="timed out"):
        PrometheusSource(url, timeout=0.5, attempts=1).instant("up", 1.0)
    assert time.monotonic() - started < len(json.dumps(OK)) * script.trickle / 2  # far from the full trickle


def test_clock_skew_is_the_servers_time_minus_ours(server: tuple[str, Script]) -> None:
    url, script = server
    script.replies = [(200, {"status": "success", "data": {"resultType": "scalar", "result": [1, "1000.0"]}})]
    skew = PrometheusSource(url).clock_skew()
    assert skew == pytest.approx(1000.0 - time.time(), abs=5.0)
    assert "time=" not in script.requests[-1]["path"]  # evaluated at the server's own now


def test_credentials_headers_time_and_server_timeout_are_sent(server: tuple[str, Script]) -> None:
    url, script = server
    PrometheusSource(url, bearer_token="t0k", headers={"X-Scope-OrgID": "shop"}, timeout=7).instant("up", 1700000000.5)
    sent = script.requests[-1]
    assert sent["Authorization"] == "Bearer t0k" and sent["X-Scope-OrgID"] == "shop"
    assert "time=1700000000.500" in sent["path"] and "timeout=7s" in sent["path"]
    PrometheusSource(url, basic_auth=("u", "p")).instant("up", 1.0)
    assert script.requests[-1]["Authorization"] == "Basic " + base64.b64encode(b"u:p").decode()


def test_scalar_and_matrix_results(server: tuple[str, Script]) -> None:
    url, script = server
    script.replies = [
        (200, {"status": "success", "data": {"resultType": "scalar", "result": [5, "1.5"]}}),
        (
            200,
            {
                "status": "success",
                "data": {"resultType": "matrix", "result": [{"metric": {}, "values": [[1, "1"], [2, "NaN"]]}]},
            },
        ),
    ]
    source = PrometheusSource(url)
    assert source.instant("1.5", 5)[0].points == ((5.0, 1.5),)
    points = source.instant("x[1m]", 5)[0].points
    assert points[0] == (1.0, 1.0) and points[1][1] != points[1][1]  # NaN kept, judged later
