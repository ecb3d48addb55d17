"""``spec.notifications``: where a rollout's events are announced (Slack, Microsoft Teams, a webhook).

Webhook URLs are secrets, so a rollout names a Secret in its own namespace rather than a URL; rollout
authors are tenants, so the operator only reads a Secret that opts in with the label
``greenlane.dev/notification-webhook: "true"`` (a Secret holding database passwords is never read).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from controller.model.base import DnsLabel, Model

Severity = Literal["info", "warning", "error"]
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "error")
SinkType = Literal["slack", "teams", "webhook"]
WEBHOOK_SECRET_LABEL = "greenlane.dev/notification-webhook"


class UrlSecretRef(Model):
    name: DnsLabel = Field(
        description="Secret in the rollout's namespace, labelled greenlane.dev/notification-webhook."
    )
    key: str = Field(default="url", min_length=1, max_length=253, description="Key holding the webhook URL.")


class Notification(Model):
    type: SinkType = Field(
        description="slack (incoming webhook, Block Kit), teams (Workflows webhook, Adaptive Card) or "
        "webhook (JSON like Flagger's event webhook, plus the check values)."
    )
    url_secret: UrlSecretRef
    severity: Severity = Field(
        default="info",
        description="Least severity sent: info (every event), warning (Warning events), error (rollbacks, "
        "aborts, invalid specs).",
    )
    reasons: list[str] = Field(
        default_factory=list, max_length=32, description="Only these event reasons (e.g. RolledBack); empty: all."
    )
