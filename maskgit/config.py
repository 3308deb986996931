"""Helpers shared by the dataclass configs: named presets, JSON round trip, validation."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import types
import typing
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
    """Rebuild a dataclass config from `config_to_dict` output (or YAML); unknown keys and values of the
    wrong type are a ConfigError (typed_values)."""
    names = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ConfigError(f"{cls.__name__} has no field(s) {', '.join(unknown)}: remove them from the config")
    return cls(**typed_values(cls, data))


def replace_config(config: C, **changes: Any) -> C:
    """dataclasses.replace with a ConfigError (naming the valid fields) for a misspelt field, and typed values."""
    names = [f.name for f in dataclasses.fields(config)]  # type: ignore[arg-type]
    bad = sorted(set(changes) - set(names))
    if bad:
        raise ConfigError(f"{type(config).__name__} has no field(s) {', '.join(bad)}: valid are {', '.join(names)}")
    return dataclasses.replace(config, **typed_values(type(config), changes))  # type: ignore[type-var]


def typed_values(cls: type, values: Mapping[str, Any]) -> dict[str, Any]:
    """Each value checked against its field's annotation and converted where a user's meaning is plain:
    YAML reads `3e-4` as a string (PyYAML follows YAML 1.1), so a float field takes it as the number; an int
    field takes 32.0; a tuple field takes a list. Anything else of the wrong type is a ConfigError that
    names the field, the value and the type expected."""
    hints = typing.get_type_hints(cls)
    return {name: _typed(name, hints[name], value) for name, value in values.items()}


def _typed(name: str, hint: Any, value: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (hint,) = [a for a in args if a is not type(None)]  # Optional[X]: the configs use no other unions
        return _typed(name, hint, value)
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{name} must be one of {', '.join(map(repr, args))}, got {value!r}")
        return value
    if hint is Any:
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{name} must be a whole number, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = float(value)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ConfigError(f"{name} must be a finite number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{name} must be a string, got {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{name} must be a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_typed(f"{name}[{i}]", args[0], v) for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{name} must be a list of {len(args)} values, got {value!r}")
        return tuple(_typed(f"{name}[{i}]", a, v) for i, (a, v) in enumerate(zip(args, value, strict=True)))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{name} must be a mapping of fields to values, got {value!r}")
        return value
    return value


def typed_fields(config: Any) -> None:
    """Check (and convert, as typed_values does) every field of a dataclass config in place: called first in
    __post_init__, so a config built in Python (`DecodeConfig(total_steps=4.5)`) gets the same ConfigError as one
    read from YAML, not a raw error from deep inside torch later."""
    values = {f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.init}
    for name, value in typed_values(type(config), values).items():
        object.__setattr__(config, name, value)  # frozen dataclasses too


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
