"""Domain values ⇄ pynamodb items: a field `snake_name` is the attribute `snakeName`; enums go by value."""

import functools
from dataclasses import MISSING, Field, fields
from enum import Enum
from typing import Any, TypeVar, get_args, get_type_hints

from pynamodb.models import Model

T = TypeVar("T")
M = TypeVar("M", bound=Model)


def to_item(model: type[M], value: Any, **overrides: Any) -> M:
    """The item holding `value`'s fields; `overrides` set attributes the value does not carry (or replace)."""
    known = model.get_attributes()
    attributes = {_camel(f.name): _stored(getattr(value, f.name)) for f in fields(value)}
    attributes.update(overrides)
    return model(**{name: item for name, item in attributes.items() if name in known and item is not None})


def from_item(cls: type[T], item: Model, **overrides: Any) -> T:
    """The domain value an item holds; an absent attribute leaves the field's default."""
    values: dict[str, Any] = {}
    for field in fields(cls):  # type: ignore[arg-type]
        if field.name in overrides:
            continue
        raw = getattr(item, _camel(field.name), None)
        if raw is not None:
            values[field.name] = _typed(_hints(cls)[field.name], raw)
        elif not _has_default(field):
            values[field.name] = None
    return cls(**values, **overrides)


def _stored(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _typed(hint: Any, raw: Any) -> Any:
    for kind in get_args(hint) or (hint,):
        if isinstance(kind, type) and issubclass(kind, Enum):
            return kind(raw)
    return raw


def _has_default(field: Field[Any]) -> bool:
    return field.default is not MISSING or field.default_factory is not MISSING


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = get_type_hints(cls)
    return _HINTS[cls]


@functools.cache
def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
