"""Helpers shared by the dataclass configs: named presets, JSON round trip, validation."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from maskgit.errors import ConfigError

C = TypeVar("C")


def lookup_preset(kind: str, presets: Mapping[str, Callable[[], C]], name: str) -> C:
    """Build preset `name` from a registry, or raise a ConfigError that lists the valid names."""
    if name not in presets:
        raise ConfigError(f"unknown {kind} preset {name!r}: choose one of {', '.join(presets)}")
    return presets[name]()


def config_to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready dict of a dataclass config (tuples become lists)."""
    return dataclasses.asdict(config)


def config_from_dict(cls: type[C], data: Mapping[str, Any]) -> C:
    """Rebuild a dataclass config from `config_to_dict` output; unknown keys are an error."""
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ConfigError(f"{cls.__name__} has no field(s) {', '.join(unknown)}: remove them from the config")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return cls(**values)


def replace_config(config: C, **changes: Any) -> C:
    """dataclasses.replace with a ConfigError (naming the valid fields) for a misspelt field."""
    names = [f.name for f in dataclasses.fields(config)]
    bad = sorted(set(changes) - set(names))
    if bad:
        raise ConfigError(f"{type(config).__name__} has no field(s) {', '.join(bad)}: valid are {', '.join(names)}")
    return dataclasses.replace(config, **changes)


def field_default(cls: type, name: str) -> Any:
    """A dataclass field's default value (or its default factory's value): for command-line defaults."""
    found = {f.name: f for f in dataclasses.fields(cls)}[name]
    if found.default is not dataclasses.MISSING:
        return found.default
    return found.default_factory()  # type: ignore[misc]


def require(condition: bool, message: str) -> None:
    """Raise ConfigError(message) unless condition holds (used by __post_init__ checks)."""
    if not condition:
        raise ConfigError(message)
