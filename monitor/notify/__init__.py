"""Notifiers: turn alerts into Slack messages and e-mails (``base`` holds the interface).

Importing this package loads no notifier kind; each kind registers itself in
``Notifier.registry`` when its module is imported.
"""


def load_kinds() -> None:
    """Import every built-in notifier kind so each registers itself (idempotent, cheap after once)."""
    from monitor.notify import console, email, slack, slack_webhook  # noqa: F401
