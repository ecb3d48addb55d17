"""HAProxy in front of the two apps, with the admin runtime socket the HAProxy router drives."""

from __future__ import annotations

from pathlib import Path

from controller.routing.base import RouterError
from controller.routing.haproxy import HaproxyRuntime, percent_to_weights
from controller.sandbox.binaries import ServerBinaries
from controller.sandbox.processes import ManagedProcess, ProcessSpec, unix_socket_ok

BACKEND = "checkout"
BLUE_SERVER = "blue"
GREEN_SERVER = "green"


def render_config(socket_path: Path, frontend_port: int, blue_port: int, green_port: int, green_percent: int) -> str:
    """Round-robin per request over both servers; health checks drop a dead app like a real LB would."""
    green_w, blue_w = percent_to_weights(green_percent)
    return f"""\
global
    stats socket {socket_path} mode 600 level admin
    maxconn 1024

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    option http-server-close

frontend greenlane
    bind 127.0.0.1:{frontend_port}
    default_backend {BACKEND}

backend {BACKEND}
    balance roundrobin
    option httpchk GET /healthz
    server {BLUE_SERVER} 127.0.0.1:{blue_port} weight {blue_w} check inter 1s
    server {GREEN_SERVER} 127.0.0.1:{green_port} weight {green_w} check inter 1s
"""


class HaproxyServer:
    """``haproxy -db`` (foreground) so its PID is the one we stop."""

    def __init__(
        self,
        bins: ServerBinaries,
        *,
        state_dir: Path,
        log_dir: Path,
        frontend_port: int,
        blue_port: int,
        green_port: int,
        green_percent: int = 0,
    ) -> None:
        self.frontend_port = frontend_port
        self.socket_path = state_dir / "haproxy.sock"
        self.config_path = state_dir / "haproxy.cfg"
        self.config_path.write_text(
            render_config(self.socket_path, frontend_port, blue_port, green_port, green_percent)
        )
        self.process = ManagedProcess(
            ProcessSpec(
                name="haproxy",
                argv=[str(bins.haproxy), "-db", "-f", str(self.config_path)],
                stop_timeout_s=5.0,
            ),
            log_dir,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.frontend_port}"

    def start(self) -> None:
        self.process.start()

    def servers_up(self) -> bool:
        """Both app servers pass their health check (``show stat`` status UP)."""
        try:
            csv = HaproxyRuntime(self.socket_path).command("show stat")
        except RouterError:
            return False
        header, *rows = csv.lstrip("# ").splitlines()
        columns = header.split(",")
        status = {
            r[columns.index("svname")]: r[columns.index("status")]
            for r in (x.split(",") for x in rows)
            if len(r) == len(columns) and r[0] == BACKEND
        }
        return all(status.get(s) == "UP" for s in (BLUE_SERVER, GREEN_SERVER))

    def wait_ready(self, timeout_s: float) -> None:
        self.process.wait_ready(unix_socket_ok(self.socket_path), timeout_s, "listening on its admin socket")
        self.process.wait_ready(self.servers_up, timeout_s, "seeing both app servers UP")
