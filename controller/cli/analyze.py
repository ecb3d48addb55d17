"""``greenlane analyze``: one evaluation of every check against a live Prometheus, no cluster.

For rollout authors: dry-run thresholds against production before any traffic moves, or backtest them
at a past instant with ``--at``. Exit codes: 0 Pass, 1 Fail, 3 Inconclusive, 2 bad input or usage.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from typing import Any

from controller.analysis import PrometheusSource, UnsafeValue, evaluate, latest_pod_start
from controller.analysis.evaluate import tracks
from controller.cli.validate import load_all
from controller.core.results import CheckResult, overall
from controller.model.resource import BlueGreenRollout

EXIT = {"Pass": 0, "Fail": 1, "Inconclusive": 3}
USAGE = 2


class UsageError(Exception):
    pass


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "analyze",
        help="evaluate a rollout's checks once against Prometheus, without a cluster",
        description="Evaluate every check of one BlueGreenRollout once. Exit 0 Pass, 1 Fail, 3 Inconclusive, "
        "2 bad input.",
    )
    parser.add_argument("-f", "--filename", required=True, metavar="FILE", help="manifest with one rollout")
    parser.add_argument("--prometheus", metavar="URL", help="default: spec.analysis.prometheus.address")
    parser.add_argument(
        "-n",
        "--namespace",
        metavar="NS",
        default=argparse.SUPPRESS,
        help="default: the rollout's namespace, else 'default'",
    )
    parser.add_argument("--blue-pods", metavar="REGEX", help="default: <blue.deployment>-[a-z0-9]{6,10}-[a-z0-9]{5}")
    parser.add_argument("--green-pods", metavar="REGEX", help="default: <green.deployment>-[a-z0-9]{6,10}-[a-z0-9]{5}")
    parser.add_argument("--at", metavar="TIME", help="RFC 3339 or unix seconds; default: now")
    parser.add_argument(
        "--warmup-until",
        metavar="TIME",
        help="exclude green data before this instant; default: newest green pod's process start + analysis.warmup",
    )
    parser.add_argument("--bearer-token-file", metavar="FILE")
    parser.add_argument("--basic-auth", metavar="USER:PASSWORD_FILE", help="user and a file holding the password")
    parser.add_argument("--ca-file", metavar="FILE", help="PEM CA bundle for https")
    parser.add_argument("--header", action="append", default=[], metavar="NAME=VALUE", help="extra HTTP header")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)


def parse_time(text: str) -> float:
    """Unix seconds from ``1700000000`` / ``1700000000.5`` or RFC 3339 (``2023-11-14T22:13:20Z``)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise UsageError(f"invalid time {text!r}: expected RFC 3339 (2024-05-01T12:00:00Z) or unix seconds") from None
    if parsed.tzinfo is None:
        raise UsageError(f"invalid time {text!r}: RFC 3339 needs a UTC offset such as Z or +02:00")
    return parsed.timestamp()


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None


def _load(path: str) -> BlueGreenRollout:
    loaded, problems = load_all([path])
    if problems:
        raise UsageError("\n".join(str(p) for p in problems))
    if len(loaded) != 1:
        raise UsageError(f"{path}: expected exactly one BlueGreenRollout, found {len(loaded)}")
    return loaded[0].rollout


def _source(args: argparse.Namespace, rollout: BlueGreenRollout) -> PrometheusSource:
    config = rollout.spec.analysis.prometheus
    url = args.prometheus or config.address
    if not url:
        raise UsageError("no Prometheus address: give --prometheus URL or set spec.analysis.prometheus.address")
    headers = dict(config.headers)
    for item in args.header:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"invalid --header {item!r}: expected NAME=VALUE")
        headers[name] = value
    basic = None
    if args.basic_auth:
        user, sep, password_file = args.basic_auth.partition(":")
        if not sep:
            raise UsageError("invalid --basic-auth: expected USER:PASSWORD_FILE")
        basic = (user, _read(password_file))
    token = _read(args.bearer_token_file) if args.bearer_token_file else None
    return PrometheusSource(
        url,
        timeout=config.timeout,
        headers=headers,
        bearer_token=token,
        basic_auth=basic,
        ca_file=args.ca_file,
        insecure_skip_verify=config.insecure_skip_verify,
    )


def _warmup_until(
    args: argparse.Namespace, rollout: BlueGreenRollout, source: PrometheusSource, namespace: str, at: float
) -> float | None:
    if args.warmup_until:
        return parse_time(args.warmup_until)
    _, green = tracks(rollout.spec, namespace, args.blue_pods, args.green_pods)
    try:
        started = latest_pod_start(source, namespace, green.pods, at)
    except Exception:  # an outage shows up in the checks themselves, with context
        return None
    return None if started is None else started + rollout.spec.analysis.warmup


def run(args: argparse.Namespace) -> int:
    try:
        rollout = _load(args.filename)
        at = parse_time(args.at) if args.at else time.time()
        namespace = getattr(args, "namespace", None) or rollout.metadata.namespace or "default"
        source = _source(args, rollout)
        warmup = _warmup_until(args, rollout, source, namespace, at)
        results = evaluate(
            rollout.spec,
            source,
            namespace=namespace,
            at=at,
            blue_pods=args.blue_pods,
            green_pods=args.green_pods,
            warmup_until=warmup,
        )
    except (UsageError, UnsafeValue) as exc:
        print(f"greenlane analyze: {exc}", file=sys.stderr)
        return USAGE
    verdict = overall(results)
    print(json.dumps(report(verdict, at, results), indent=2) if args.json else text(verdict, at, results))
    return EXIT[verdict]


def report(verdict: str, at: float, results: list[CheckResult]) -> dict[str, Any]:
    checks = [
        {
            "name": r.name,
            "verdict": r.verdict,
            "green": r.green,
            "blue": r.blue,
            "threshold": r.threshold,
            "samples": r.samples,
            "message": r.message,
            "outage": r.outage,
        }
        for r in results
    ]
    return {"verdict": verdict, "at": at, "checks": checks}


def text(verdict: str, at: float, results: list[CheckResult]) -> str:
    lines = [f"{r.verdict.upper():<12} {r.message}" for r in results]
    when = datetime.fromtimestamp(at).astimezone().isoformat(timespec="seconds")
    lines.append(f"verdict: {verdict} at {when}")
    return "\n".join(lines)
