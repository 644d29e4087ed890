"""The shipped channel types; importing this package registers them by name."""

from __future__ import annotations

from notifiers.channels import dingtalk, file, smtp, webhook, wecom

__all__ = ["dingtalk", "file", "smtp", "webhook", "wecom"]
