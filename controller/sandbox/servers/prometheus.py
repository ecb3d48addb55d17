"""A real Prometheus scraping the two apps and postgres_exporter, with Kubernetes-style labels.

Prometheus scrapes the apps directly, so the labels a cluster's service discovery would add
(``namespace``, ``pod``, ``deployment``) are attached here as static target labels; the analysis
templates then work unchanged against the sandbox.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from controller.sandbox.binaries import ServerBinaries
from controller.sandbox.processes import ManagedProcess, ProcessSpec, http_ok


@dataclass(frozen=True)
class ScrapeTarget:
    """One ``host:port`` with the labels every series from it must carry."""

    job: str
    address: str
    labels: Mapping[str, str]


def render_config(targets: Sequence[ScrapeTarget], scrape_interval_s: float) -> dict[str, Any]:
    """One scrape job per ``job`` name; the timeout equals the interval (Prometheus rejects longer)."""
    interval = f"{int(scrape_interval_s * 1000)}ms"
    jobs: dict[str, list[dict[str, Any]]] = {}
    for t in targets:
        jobs.setdefault(t.job, []).append({"targets": [t.address], "labels": dict(t.labels)})
    return {
        "global": {"scrape_interval": interval, "scrape_timeout": interval, "evaluation_interval": interval},
        "scrape_configs": [{"job_name": job, "static_configs": cfgs} for job, cfgs in jobs.items()],
    }


class PrometheusServer:
    """Stoppable and restartable on the same port and TSDB, so an outage scenario keeps its history."""

    def __init__(
        self,
        bins: ServerBinaries,
        *,
        state_dir: Path,
        log_dir: Path,
        port: int,
        targets: Sequence[ScrapeTarget],
        scrape_interval_s: float,
    ) -> None:
        self.port = port
        self.config_path = state_dir / "prometheus.yml"
        config = render_config(targets, scrape_interval_s)
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.process = ManagedProcess(
            ProcessSpec(
                name="prometheus",
                argv=[
                    str(bins.prometheus),
                    f"--config.file={self.config_path}",
                    f"--storage.tsdb.path={state_dir / 'prometheus-data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--storage.tsdb.retention.time=1d",
                    "--log.level=warn",
                ],
            ),
            log_dir,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process.start()

    def wait_ready(self, timeout_s: float) -> None:
        self.process.wait_ready(http_ok(f"{self.url}/-/ready"), timeout_s, "ready (/-/ready)")

    def stop(self) -> None:
        self.process.stop()
