"""The Python hooks automatic steps call: registered by the embedding backend, checked on the way back."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from engine.errors import HookError, PayloadInvalid
from engine.fields import coerce
from engine.spec import WorkflowSpec

Hook = Callable[[Mapping[str, Any]], Mapping[str, Any] | None]


class HookRegistry:
    """Hooks by name. A hook gets a read-only view of the variables and returns variable updates."""

    def __init__(self) -> None:
        self._hooks: dict[str, Hook] = {}

    def register(self, name: str, fn: Hook) -> None:
        if not callable(fn):
            raise PayloadInvalid("fn", "a callable taking the variables and returning a dict", fn, where="hook")
        self._hooks[name] = fn

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._hooks))

    def call(self, spec: WorkflowSpec, name: str, instance_id: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        """Run the hook and return its updates, coerced to the declared variable types; HookError otherwise."""
        fn = self._hooks.get(name)
        if fn is None:
            known = ", ".join(self.names()) or "none"
            raise HookError(name, instance_id, f"no hook registered under this name (registered: {known})")
        try:
            result = fn(MappingProxyType(dict(variables)))
        except Exception as err:  # any failure of backend code is recorded and retried, never lost
            raise HookError(name, instance_id, f"{type(err).__name__}: {err}") from err
        if result is None:
            return {}
        if not isinstance(result, Mapping):
            raise HookError(name, instance_id, f"returned {type(result).__name__}; return a dict of variable updates")
        out: dict[str, Any] = {}
        for key, value in result.items():
            f = spec.variables.get(key)
            if f is None:
                raise HookError(name, instance_id, f"returned undeclared variable {key!r}")
            try:
                out[key] = coerce(f, value, where=f"hook {name}")
            except PayloadInvalid as err:
                raise HookError(name, instance_id, str(err)) from err
        return out
