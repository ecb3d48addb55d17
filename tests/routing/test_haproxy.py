"""The HAProxy router against a real haproxy's runtime API, plus the percent <-> weight arithmetic."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.routing.base import RouterError, WeightMismatch
from controller.routing.haproxy import (
    MAX_WEIGHT,
    HaproxyRouter,
    HaproxyRuntime,
    percent_to_weights,
    weights_to_percent,
)
from controller.sandbox.binaries import ServerBinaries
from controller.sandbox.processes import ManagedProcess, ProcessSpec, free_ports, unix_socket_ok

CONFIG = """\
global
    stats socket {sock} mode 600 level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    default_backend checkout
backend checkout
    server blue 127.0.0.1:{blue} weight 256
    server green 127.0.0.1:{green} weight 0
"""


@pytest.mark.parametrize("percent", range(101))
def test_every_percent_reads_back_exactly(percent: int) -> None:
    green_w, blue_w = percent_to_weights(percent)
    assert green_w + blue_w == MAX_WEIGHT
    assert weights_to_percent(green_w, blue_w) == percent


def test_quarter_maps_to_64_and_192() -> None:
    assert percent_to_weights(25) == (64, 192)
    assert percent_to_weights(0) == (0, 256)
    assert percent_to_weights(100) == (256, 0)


@pytest.mark.parametrize("bad", [-1, 101, 2.5, True, "25"])
def test_out_of_range_percent_is_refused(bad: object) -> None:
    with pytest.raises(RouterError, match=r"0\.\.100"):
        percent_to_weights(bad)  # type: ignore[arg-type]


def test_weights_not_summing_to_256_are_read_as_a_ratio() -> None:
    assert weights_to_percent(1, 1) == 50
    assert weights_to_percent(10, 30) == 25
    with pytest.raises(RouterError, match="no traffic"):
        weights_to_percent(0, 0)


@pytest.fixture(scope="module")
def haproxy_socket(server_binaries: ServerBinaries, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    state = tmp_path_factory.mktemp("haproxy")
    sock = state / "admin.sock"
    port, blue, green = free_ports(3)
    cfg = state / "haproxy.cfg"
    cfg.write_text(CONFIG.format(sock=sock, port=port, blue=blue, green=green))
    proc = ManagedProcess(ProcessSpec("haproxy", [str(server_binaries.haproxy), "-db", "-f", str(cfg)]), state)
    proc.start()
    try:
        proc.wait_ready(unix_socket_ok(sock), 10, "listening on its admin socket")
        yield sock
    finally:
        proc.stop()


@pytest.fixture
def router(haproxy_socket: Path) -> HaproxyRouter:
    return HaproxyRouter(haproxy_socket, "checkout", blue_server="blue", green_server="green")


@pytest.mark.servers
@pytest.mark.parametrize("percent", [0, 1, 5, 25, 50, 99, 100])
def test_set_weight_writes_both_servers_and_reads_back(router: HaproxyRouter, percent: int) -> None:
    assert router.set_weight(percent) == percent
    assert router.get_weight() == percent
    assert router.weights() == percent_to_weights(percent)


@pytest.mark.servers
def test_raw_haproxy_weights_for_a_quarter(router: HaproxyRouter, haproxy_socket: Path) -> None:
    router.set_weight(25)
    runtime = HaproxyRuntime(haproxy_socket)
    assert runtime.command("get weight checkout/green").startswith("64 ")
    assert runtime.command("get weight checkout/blue").startswith("192 ")


@pytest.mark.servers
def test_describe_names_backend_servers_and_socket(router: HaproxyRouter, haproxy_socket: Path) -> None:
    assert router.describe() == f"HAProxy backend checkout servers blue/green via {haproxy_socket}"


@pytest.mark.servers
def test_both_weights_zero_is_an_error_not_zero_percent(router: HaproxyRouter, haproxy_socket: Path) -> None:
    router.set_weight(0)
    HaproxyRuntime(haproxy_socket).command("set weight checkout/blue 0")
    try:
        with pytest.raises(RouterError, match="weight 0"):
            router.get_weight()
    finally:
        router.set_weight(0)


@pytest.mark.servers
def test_unknown_backend_names_it(haproxy_socket: Path) -> None:
    router = HaproxyRouter(haproxy_socket, "nope", blue_server="blue", green_server="green")
    with pytest.raises(RouterError, match=r"nope/green"):
        router.set_weight(10)


@pytest.mark.servers
def test_unknown_server_names_it(haproxy_socket: Path) -> None:
    router = HaproxyRouter(haproxy_socket, "checkout", blue_server="blue", green_server="greeen")
    with pytest.raises(RouterError, match=r"checkout/greeen"):
        router.get_weight()


def test_unreachable_socket_says_where(tmp_path: Path) -> None:
    router = HaproxyRouter(tmp_path / "missing.sock", "checkout", "blue", "green")
    with pytest.raises(RouterError, match=r"cannot reach the HAProxy runtime API at .*missing\.sock"):
        router.get_weight()


def test_multi_command_lines_are_refused(tmp_path: Path) -> None:
    with pytest.raises(RouterError, match="multi-command"):
        HaproxyRuntime(tmp_path / "x.sock").command("set weight a/b 1; shutdown sessions")


@pytest.fixture
def drifting_socket(tmp_path: Path) -> Iterator[Path]:
    """A stand-in runtime API whose weights someone else keeps resetting: writes succeed, reads say 7."""
    path = tmp_path / "drift.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen()
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                line = conn.recv(1024).decode()
                conn.sendall(b"7 (initial 1)\n" if line.startswith("get weight") else b"\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield path
    stop.set()
    thread.join(timeout=2)
    server.close()


def test_read_back_mismatch_raises_weight_mismatch_with_both_values(drifting_socket: Path) -> None:
    router = HaproxyRouter(drifting_socket, "checkout", "blue", "green")
    with pytest.raises(WeightMismatch, match=r"wrote green=64 blue=192 \(25%\), read back green=7 blue=7"):
        router.set_weight(25)
