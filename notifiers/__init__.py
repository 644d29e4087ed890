"""Alerts that reach people: channel plug-ins, Chinese templates, the outbox dispatcher, digests, the directory."""

from __future__ import annotations

from notifiers.base import (
    Notifier,
    Outgoing,
    RoutedChannel,
    channel_types,
    create_channel,
    find_channel,
    register_channel_type,
)
from notifiers.daily_digest import build_daily_digests, enqueue_daily_digests
from notifiers.directory import YamlDirectory
from notifiers.dispatcher import Backoff, DigestPolicy, OutboxDispatcher
from notifiers.errors import (
    ChannelConfigError,
    DeliveryError,
    DirectoryError,
    NotifierError,
    TemplateRenderError,
    UnknownChannel,
)
from notifiers.rendering import Rendered, TemplateRenderer

__all__ = [
    "Backoff",
    "ChannelConfigError",
    "DeliveryError",
    "DigestPolicy",
    "DirectoryError",
    "Notifier",
    "NotifierError",
    "OutboxDispatcher",
    "Outgoing",
    "Rendered",
    "RoutedChannel",
    "TemplateRenderError",
    "TemplateRenderer",
    "UnknownChannel",
    "YamlDirectory",
    "build_daily_digests",
    "channel_types",
    "create_channel",
    "enqueue_daily_digests",
    "find_channel",
    "register_channel_type",
]
