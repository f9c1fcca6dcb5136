"""One place for each default: a config field that follows a setting has no default of its own.

The rooms take config dataclasses (``RelayConfig``, ``HealthConfig`` ...) that
``webapp.configs`` builds from ``Settings``. A default written in such a class
beside the setting's is a second place to change (and to forget): it is what
every test and every caller that skips the builder gets, not what the settings
say. The check builds each config twice, from the default settings and from
settings where every one is moved off its default; a field whose value moves
follows a setting, and must have no default.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import annotated_types
import pytest
from pydantic import SecretStr

from webapp import configs
from webapp.settings import Settings
from webapp.wire.upstream import AuthMode

PACKAGE = Path(__file__).resolve().parent.parent / "webapp"

BUILDERS: dict[str, Callable[[Settings], Any]] = {
    "upstream": configs.upstream_config,
    "relay": configs.relay_config,
    "health": configs.health_config,
    "alerts": configs.alert_config,
    "redaction": configs.redaction_config,
    "bus": lambda settings: configs.bus_config(settings, "node-1"),
    "monitor": configs.monitor_config,
    "history": configs.history_retention,
}

# Settings that are neither numbers nor switches, each moved to another valid value.
MOVED: dict[str, Any] = {
    "burki_api_key": SecretStr("k" * 20),
    "burki_base_url": "https://burki.example.com",
    "burki_auth_mode": AuthMode.HEADER,
    "burki_ca_bundle": Path("/etc/ssl/private-burki.pem"),
    "redaction_caller_numbers": "full",
    "redaction_phone_region": "GB",
    "redaction_unredact_roles": "",
    "alert_keywords": "refund:low",
    "dashboard_session_secret": SecretStr("s" * 40),
}


def moved(name: str, field: Any) -> Any:
    """Another value the setting ``name`` accepts: a switch flipped, a number moved up
    (down where its bound forbids), else the value in ``MOVED``."""
    if name in MOVED:
        return MOVED[name]
    default = field.default
    if isinstance(default, bool):
        return not default
    if not isinstance(default, int | float):
        return default
    step = 1 if isinstance(default, int) else max(abs(default), 1.0)
    upper = [m for m in field.metadata if isinstance(m, annotated_types.Le | annotated_types.Lt)]
    bound = min((getattr(m, "le", None) or getattr(m, "lt", None) for m in upper), default=None)
    if bound is not None and default + step >= bound:
        return default - step / 2 if isinstance(default, float) else default - step
    return default + step


def all_moved() -> Settings:
    return Settings(**{name: moved(name, f) for name, f in Settings.model_fields.items()})


def has_default(field: dataclasses.Field[Any]) -> bool:
    missing = dataclasses.MISSING
    return field.default is not missing or field.default_factory is not missing


def followers_with_defaults(before: Any, after: Any, path: str = "") -> list[str]:
    """Fields of the dataclass ``before`` whose value differs in ``after`` (they follow a
    setting) yet have a default; nested config dataclasses are walked too."""
    wrong: list[str] = []
    for field in dataclasses.fields(before):
        old, new = getattr(before, field.name), getattr(after, field.name)
        name = f"{path}{type(before).__name__}.{field.name}"
        if dataclasses.is_dataclass(old) and not isinstance(old, type):
            wrong += followers_with_defaults(old, new, f"{name} -> ")
        if old != new and has_default(field):
            wrong.append(name)
    return wrong


def built_types(value: Any) -> set[str]:
    """The config dataclass ``value`` is and every one nested in it, by name."""
    found = {type(value).__name__}
    for field in dataclasses.fields(value):
        nested = getattr(value, field.name)
        if dataclasses.is_dataclass(nested) and not isinstance(nested, type):
            found |= built_types(nested)
    return found


def config_classes_with_defaults() -> set[str]:
    """Every ``...Config`` dataclass of the package that gives any field a default."""
    found = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.name.endswith("Config"):
                decorated = any("dataclass" in ast.unparse(d) for d in node.decorator_list)
                fields = [s for s in node.body if isinstance(s, ast.AnnAssign)]
                if decorated and any(s.value is not None for s in fields):
                    found.add(node.name)
    return found


def test_no_config_field_that_follows_a_setting_has_a_default_of_its_own() -> None:
    defaults, changed = Settings(), all_moved()
    wrong = [
        name
        for build in BUILDERS.values()
        for name in followers_with_defaults(build(defaults), build(changed))
    ]
    assert wrong == []


def test_every_setting_the_builders_read_moves_some_config_field() -> None:
    """The check is not vacuous: moving the settings moves the fields they give."""
    defaults, changed = Settings(), all_moved()
    relay = configs.relay_config(defaults), configs.relay_config(changed)
    assert relay[0].grace_period != relay[1].grace_period
    assert relay[0].health.silence_warn != relay[1].health.silence_warn
    redaction = configs.redaction_config(defaults), configs.redaction_config(changed)
    assert redaction[0].policy.region != redaction[1].policy.region


def test_every_config_class_with_defaults_is_built_from_the_settings() -> None:
    """A new config class with defaults is checked too: it must be built here."""
    built = set().union(*(built_types(b(Settings())) for b in BUILDERS.values()))
    assert config_classes_with_defaults() - built == set()


@dataclasses.dataclass(frozen=True)
class _Inner:
    level: float = 1.0


@dataclasses.dataclass(frozen=True)
class _ToyConfig:
    timeout: float
    inner: _Inner
    fixed: int = 4


@pytest.mark.parametrize(
    ("before", "after", "wrong"),
    [
        (_ToyConfig(1.0, _Inner(), 4), _ToyConfig(2.0, _Inner(), 4), []),
        (_ToyConfig(1.0, _Inner(), 4), _ToyConfig(1.0, _Inner(), 5), ["_ToyConfig.fixed"]),
        (
            _ToyConfig(1.0, _Inner(1.0), 4),
            _ToyConfig(1.0, _Inner(2.0), 4),
            ["_ToyConfig.inner -> _Inner.level"],
        ),
    ],
)
def test_the_check_catches_a_default_that_follows_a_setting(
    before: _ToyConfig, after: _ToyConfig, wrong: list[str]
) -> None:
    assert followers_with_defaults(before, after) == wrong


def test_every_number_and_switch_and_listed_setting_is_moved_off_its_default() -> None:
    """Strings not in ``MOVED`` stay (no builder reads them: add one there when one does)."""
    changed = all_moved()
    same = [
        name
        for name, field in Settings.model_fields.items()
        if (isinstance(field.default, int | float) or name in MOVED)
        and getattr(changed, name) == field.default
    ]
    assert same == []
