"""``greenlane analyze``: one evaluation of every check against a live Prometheus, no cluster.

For rollout authors: dry-run thresholds against production before any traffic moves, or backtest them
at a past instant with ``--at``. It judges exactly as the operator does: the same evaluation
(:func:`controller.analysis.evaluate_rollout` when the manifest carries the rollout's ``status``, e.g. from
``kubectl get bgr NAME -o yaml``: evidence since the step began, warm-up, budget share, blue's baseline)
and the same core assessment (:func:`controller.core.verdicts.assess`: warm-up set-asides, precedence).
Exit codes: 0 Pass, 1 Fail, 3 Inconclusive (also outage and warm-up), 2 bad input or usage.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

from controller.analysis import PrometheusSource, UnsafeValue, evaluate, evaluate_rollout, latest_pod_start
from controller.analysis.evaluate import tracks
from controller.cli.validate import load_all
from controller.core.judging import Judging, slot
from controller.core.results import CheckResult
from controller.core.verdicts import Assessment, assess, in_warmup
from controller.model.resource import BlueGreenRollout
from controller.model.status import CheckStatus

VERDICT = {"pass": "Pass", "fail": "Fail", "critical": "Fail"}
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
        help="exclude green data before this instant; default: the status' trafficStartedAt + analysis.warmup, "
        "else the newest green pod's process start + analysis.warmup",
    )
    parser.add_argument(
        "--step-started",
        metavar="TIME",
        help="traffic checks also judge all requests since this instant (the step's start); default: the "
        "status' stepStartedAt, else only their window",
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
    status = rollout.status
    if status is not None and status.traffic_started_at is not None:
        return status.traffic_started_at.timestamp() + rollout.spec.analysis.warmup
    _, green = tracks(rollout.spec, namespace, args.blue_pods, args.green_pods)
    try:
        started = latest_pod_start(source, namespace, green.pods, at)
    except Exception:  # an outage shows up in the checks themselves, with context
        return None
    return None if started is None else started + rollout.spec.analysis.warmup


def _judge(
    args: argparse.Namespace, rollout: BlueGreenRollout, source: PrometheusSource, namespace: str, at: float
) -> tuple[list[CheckResult], bool]:
    """The operator's evaluation when the manifest has a status, else one from what the flags say."""
    spec, status = rollout.spec, rollout.status
    now = datetime.fromtimestamp(at, UTC)
    if status is not None and not args.warmup_until and not args.step_started:
        results = evaluate_rollout(
            spec, status, source, namespace=namespace, now=now, blue_pods=args.blue_pods, green_pods=args.green_pods
        )
        return results, in_warmup(spec, status, now)
    warmup = _warmup_until(args, rollout, source, namespace, at)
    started = None if warmup is None else warmup - spec.analysis.warmup
    judging = Judging(
        slot=slot(spec, started, at),
        step_started=parse_time(args.step_started) if args.step_started else None,
        warmup_until=warmup,
        green_weight=status.weight if status is not None and status.phase != "Pending" else None,
        baselines={b.check: b for b in status.baselines} if status is not None else {},
    )
    results = evaluate(
        spec, source, namespace=namespace, at=at, blue_pods=args.blue_pods, green_pods=args.green_pods, judging=judging
    )
    return results, warmup is not None and at < warmup


def run(args: argparse.Namespace) -> int:
    try:
        rollout = _load(args.filename)
        at = parse_time(args.at) if args.at else time.time()
        namespace = getattr(args, "namespace", None) or rollout.metadata.namespace or "default"
        source = _source(args, rollout)
        results, warming = _judge(args, rollout, source, namespace, at)
    except (UsageError, UnsafeValue) as exc:
        print(f"greenlane analyze: {exc}", file=sys.stderr)
        return USAGE
    assessment = assess(rollout.spec, tuple(results), warming, datetime.fromtimestamp(at, UTC))
    verdict = VERDICT.get(assessment.judgement, "Inconclusive")
    print(json.dumps(report(verdict, at, assessment), indent=2) if args.json else text(verdict, at, assessment))
    return EXIT[verdict]


def _check_json(c: CheckStatus) -> dict[str, Any]:
    return {
        "name": c.name,
        "verdict": c.verdict,
        "green": c.green,
        "blue": c.blue,
        "threshold": c.threshold,
        "samples": c.samples,
        "blueSamples": c.blue_samples,
        "estimate": c.estimate,
        "low": c.low,
        "high": c.high,
        "confidence": c.confidence,
        "needs": c.needs,
        "needsUnit": c.needs_unit,
        "baseline": c.baseline,
        "message": c.message,
        "outage": c.outage,
    }


def report(verdict: str, at: float, assessment: Assessment) -> dict[str, Any]:
    return {
        "verdict": verdict,
        "judgement": assessment.judgement,
        "at": at,
        "checks": [_check_json(c) for c in assessment.checks],
    }


def text(verdict: str, at: float, assessment: Assessment) -> str:
    lines = [f"{c.verdict.upper():<12} {c.message}" for c in assessment.checks]
    when = datetime.fromtimestamp(at).astimezone().isoformat(timespec="seconds")
    why = f" ({assessment.judgement}: {assessment.lead.name})" if assessment.lead else f" ({assessment.judgement})"
    lines.append(f"verdict: {verdict} at {when}{why}")
    return "\n".join(lines)
