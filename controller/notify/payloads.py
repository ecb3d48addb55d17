"""One message, three wire formats: Slack Block Kit, a Teams Adaptive Card, and Flagger's event webhook.

- Slack incoming webhooks take ``{"text", "blocks"}``; ``text`` is the notification fallback.
- Teams Workflows webhooks ("Post to a channel when a webhook request is received") take a ``message``
  whose attachment is an Adaptive Card; Office 365 connector MessageCards are retired.
- The generic webhook is what Flagger sends (``name``, ``namespace``, ``phase``, ``metadata`` with
  ``eventMessage``, ``eventType``, ``timestamp`` in unix milliseconds, all strings), so receivers built
  for Flagger work unchanged; greenlane's facts are added to ``metadata`` and, typed, under ``greenlane``.
"""

from __future__ import annotations

from typing import Any

from controller.notify.message import Message

Json = dict[str, Any]
ICON = {"info": ":large_blue_circle:", "warning": ":warning:", "error": ":red_circle:"}
COLOR = {"info": "Default", "warning": "Warning", "error": "Attention"}
SLACK_HEADER_MAX = 150
SLACK_TEXT_MAX = 3000


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack(message: Message) -> Json:
    fields = [{"type": "mrkdwn", "text": f"*{label}*\n{_clip(value, 1900)}"} for label, value in message.facts()]
    return {
        "text": _clip(f"{message.title}: {message.text}", SLACK_TEXT_MAX),
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": _clip(message.title, SLACK_HEADER_MAX), "emoji": True},
            },
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"{ICON[message.severity]} {_clip(message.text, 2900)}"},
            },
            {"type": "section", "fields": fields[:10]},
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"{message.event_type} {message.reason} · {message.at.isoformat(timespec='seconds')}",
                    }
                ],
            },
        ],
    }


def teams(message: Message) -> Json:
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": [
            {
                "type": "TextBlock",
                "size": "Medium",
                "weight": "Bolder",
                "text": message.title,
                "color": COLOR[message.severity],
                "wrap": True,
            },
            {"type": "TextBlock", "text": message.text, "wrap": True},
            {"type": "FactSet", "facts": [{"title": label, "value": value} for label, value in message.facts()]},
            {
                "type": "TextBlock",
                "text": f"{message.event_type} {message.reason} · {message.at.isoformat(timespec='seconds')}",
                "isSubtle": True,
                "size": "Small",
                "wrap": True,
            },
        ],
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


def webhook(message: Message) -> Json:
    metadata = {
        "eventMessage": message.text,
        "eventType": message.event_type,
        "timestamp": str(int(message.at.timestamp() * 1000)),
        "reason": message.reason,
        "severity": message.severity,
    }
    metadata.update({label.lower(): value for label, value in message.facts()})
    checks = [
        {
            "name": c.name,
            "verdict": c.verdict,
            "green": c.green,
            "blue": c.blue,
            "threshold": c.threshold,
            "unit": c.unit,
            "measure": c.measure,
            "samples": c.samples,
        }
        for c in message.checks
    ]
    failing = message.check
    return {
        "name": message.rollout.name,
        "namespace": message.rollout.namespace,
        "phase": message.phase,
        "metadata": metadata,
        "greenlane": {
            "reason": message.reason,
            "severity": message.severity,
            "step": message.step,
            "weight": message.weight,
            "actor": message.actor,
            "failingCheck": None if failing is None else vars(failing),
            "checks": checks,
        },
    }


PAYLOADS = {"slack": slack, "teams": teams, "webhook": webhook}
