"""Settings in one place.

Defaults live in the shipped, commented ``settings.toml``; a user TOML file overlays them,
then environment variables ``TIDINGS_<SECTION>__<KEY>``. One :class:`Settings` object is
passed down to every stage; a stage reads its own section.
"""

from __future__ import annotations

import copy
import functools
import os
import tomllib
from collections.abc import Mapping
from dataclasses import MISSING, fields
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConfigError

ENV_PREFIX = "TIDINGS_"
T = TypeVar("T")


def _defaults() -> dict[str, Any]:
    text = resources.files("tidings").joinpath("settings.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def _merge(base: dict[str, Any], over: Mapping[str, Any], origin: str) -> None:
    for section, values in over.items():
        if section not in base or not isinstance(values, Mapping):
            raise ConfigError(f"unknown settings section [{section}]", source=origin)
        for key, value in values.items():
            if key not in base[section]:
                raise ConfigError(f"unknown setting {section}.{key}", source=origin,
                                  hint="see docs/settings.md for the list")
            base[section][key] = value


def _parse_env_value(raw: str, current: Any) -> Any:
    if isinstance(current, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(current, int):
        return int(raw)
    if isinstance(current, float):
        return float(raw)
    if isinstance(current, list):
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw


class Settings:
    """Read-only view of the merged settings: ``settings.section("cluster")["window_hours"]``."""

    def __init__(self, values: dict[str, Any]):
        self._values = values

    @classmethod
    def load(cls, path: str | Path | None = None, env: Mapping[str, str] | None = None,
             overrides: Mapping[str, Mapping[str, Any]] | None = None) -> "Settings":
        values = _defaults()
        env = os.environ if env is None else env
        path = path or env.get("TIDINGS_CONFIG") or ("tidings.toml" if Path("tidings.toml").is_file() else None)
        if path:
            try:
                user = tomllib.loads(Path(path).read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ConfigError(f"cannot read settings file: {exc}", source=str(path)) from None
            _merge(values, user, str(path))
        for name, raw in env.items():
            if not name.startswith(ENV_PREFIX) or "__" not in name or name == "TIDINGS_CONFIG":
                continue
            section, _, key = name[len(ENV_PREFIX):].lower().partition("__")
            if section in values and key in values[section]:
                try:
                    values[section][key] = _parse_env_value(raw, values[section][key])
                except ValueError:
                    raise ConfigError(f"invalid value {raw!r}", source=name) from None
        if overrides:
            _merge(values, overrides, "overrides")
        return cls(values)

    def section(self, name: str) -> dict[str, Any]:
        return copy.deepcopy(self._values[name])

    def as_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self._values)


def default_settings() -> Settings:
    return Settings.load(env={})


def typed_section(cls: type[T], values: Mapping[str, Any] | None) -> T:
    """Build a stage's typed settings dataclass from its section, converting each value to the
    type of the field's default. Keys the dataclass does not know are ignored (old state files)."""
    values = dict(values or {})
    kwargs = {}
    for f in fields(cls):  # type: ignore[arg-type]
        if f.name in values:
            default = f.default
            kwargs[f.name] = values[f.name] if default is None or default is MISSING else type(default)(values[f.name])
    return cls(**kwargs)


@functools.lru_cache(maxsize=None)
def _shipped_section(name: str) -> dict[str, Any]:
    return default_settings().section(name)


def section_with_defaults(name: str, settings: Any = None) -> dict[str, Any]:
    """Section ``name`` of the shipped defaults, overlaid with what the caller gives: None, the
    section dict, the whole settings dict or a :class:`Settings` (stages accept all of these)."""
    section = dict(_shipped_section(name))
    if settings is None:
        return section
    if isinstance(settings, Settings):
        settings = settings.section(name)
    section.update(settings.get(name, settings))
    return section
