"""Notifications: Slack, Microsoft Teams and a Flagger-compatible webhook, per rollout and operator-wide.

Entry point for the reconcile loop: :meth:`Notifier.publish` with the event it just recorded; it
never blocks and never raises. The Secret reader (``controller.kube.webhooks``) is passed in.
"""

from controller.notify.message import Message, RolloutRef, build
from controller.notify.sender import NotificationRefused, Notifier, Sink

__all__ = ["Message", "NotificationRefused", "Notifier", "RolloutRef", "Sink", "build"]
