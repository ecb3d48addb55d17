"""HAProxy router: steers green's share through the runtime API on a ``level admin`` stats socket.

HAProxy weights are relative integers 0..256 per server. We always write a pair summing to 256, so
the share is simply ``green / 256``. Percent -> weight rounds half up (``g = round(p * 2.56)``); since
one percent is 2.56 weight units, every ``g`` is within 0.5 units (0.2 %) of ``p * 2.56`` and
reading it back as ``round(100 * g / 256)`` gives exactly ``p`` for all 0..100: the verify step never
fails on rounding alone, only when someone else changed the weights.
"""

from __future__ import annotations

import socket
from pathlib import Path

from controller.routing.base import RouterError, RouterUnreachable, WeightMismatch

MAX_WEIGHT = 256
_RECV_LIMIT = 1 << 20


def percent_to_weights(green: int) -> tuple[int, int]:
    """Green's percent as ``(green_weight, blue_weight)`` summing to 256, rounding half up."""
    if isinstance(green, bool) or not isinstance(green, int) or not 0 <= green <= 100:
        raise RouterError(f"green weight must be an integer percent 0..100, got {green!r}")
    green_w = (green * MAX_WEIGHT + 50) // 100
    return green_w, MAX_WEIGHT - green_w


def weights_to_percent(green_w: int, blue_w: int) -> int:
    """Green's effective share of a weight pair, rounding half up; the pair need not sum to 256."""
    total = green_w + blue_w
    if total == 0:
        raise RouterError("both HAProxy servers have weight 0: the backend serves no traffic at all")
    return (200 * green_w + total) // (2 * total)


class HaproxyRuntime:
    """One command per connection on the stats socket (HAProxy's non-interactive mode)."""

    def __init__(self, socket_path: str | Path, timeout_s: float = 2.0) -> None:
        self.socket_path = Path(socket_path)
        self.timeout_s = timeout_s

    def command(self, line: str) -> str:
        if "\n" in line or ";" in line:
            raise RouterError(f"refusing to send a multi-command line to HAProxy: {line!r}")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(self.timeout_s)
                sock.connect(str(self.socket_path))
                sock.sendall(line.encode() + b"\n")
                chunks: list[bytes] = []
                while sum(map(len, chunks)) < _RECV_LIMIT and (chunk := sock.recv(65536)):
                    chunks.append(chunk)
        except OSError as exc:
            raise RouterUnreachable(f"cannot reach the HAProxy runtime API at {self.socket_path}: {exc}") from exc
        return b"".join(chunks).decode(errors="replace").strip()


class HaproxyRouter:
    """``haproxy {socket, backend, blueServer, greenServer}`` from the rollout spec."""

    def __init__(
        self,
        socket_path: str | Path,
        backend: str,
        blue_server: str,
        green_server: str,
        *,
        timeout_s: float = 2.0,
    ) -> None:
        self.runtime = HaproxyRuntime(socket_path, timeout_s)
        self.backend = backend
        self.blue_server = blue_server
        self.green_server = green_server

    def describe(self) -> str:
        return (
            f"HAProxy backend {self.backend} servers {self.blue_server}/{self.green_server} "
            f"via {self.runtime.socket_path}"
        )

    def _get(self, server: str) -> int:
        reply = self.runtime.command(f"get weight {self.backend}/{server}")
        first = reply.split(maxsplit=1)[0] if reply else ""
        if not first.isdigit():
            raise RouterError(f"{self.describe()}: `get weight {self.backend}/{server}` answered {reply!r}")
        return int(first)

    def _set(self, server: str, weight: int) -> None:
        reply = self.runtime.command(f"set weight {self.backend}/{server} {weight}")
        if reply:  # success is an empty answer; anything else is HAProxy explaining a refusal
            raise RouterError(f"{self.describe()}: `set weight {self.backend}/{server} {weight}` answered {reply!r}")

    def weights(self) -> tuple[int, int]:
        """Raw ``(green, blue)`` HAProxy weights, for display and diagnostics."""
        return self._get(self.green_server), self._get(self.blue_server)

    def get_weight(self) -> int:
        return weights_to_percent(*self.weights())

    def set_weight(self, green: int) -> int:
        """Green first, so a rollback to 0 cuts green off before blue's weight is even touched."""
        green_w, blue_w = percent_to_weights(green)
        self._set(self.green_server, green_w)
        self._set(self.blue_server, blue_w)
        got_green, got_blue = self.weights()
        if (got_green, got_blue) != (green_w, blue_w):
            raise WeightMismatch(
                f"{self.describe()}: wrote green={green_w} blue={blue_w} ({green}%), read back "
                f"green={got_green} blue={got_blue} ({weights_to_percent(got_green, got_blue)}%): "
                "something else is changing these weights"
            )
        return weights_to_percent(got_green, got_blue)
