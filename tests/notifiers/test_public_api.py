"""The package's public surface: `__all__` names exist, and every shipped channel type is registered."""

from __future__ import annotations

import notifiers
from notifiers.base import channel_types


def test_all_names_exist() -> None:
    """Every name in `notifiers.__all__` is importable from the package, sorted."""
    missing = [name for name in notifiers.__all__ if not hasattr(notifiers, name)]
    assert missing == []
    assert notifiers.__all__ == sorted(notifiers.__all__)


def test_shipped_channel_types_are_registered() -> None:
    """The registry finds the five shipped channel types by name."""
    assert set(channel_types()) >= {"smtp", "webhook", "dingtalk", "wecom", "file"}
