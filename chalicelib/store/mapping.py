"""Domain values ⇄ pynamodb items: a field `snake_name` is the attribute `snakeName`; enums go by value.

A field holding a nested dataclass (a trigger's `schedule` or `webhook` spec) is stored flat, its fields
beside the others; reading builds it back when the item has every field it requires.
"""

import functools
from dataclasses import MISSING, Field, dataclass, fields, is_dataclass
from enum import Enum
from typing import Any, TypeVar, get_args, get_type_hints

from pynamodb.attributes import Attribute
from pynamodb.expressions.update import Action
from pynamodb.models import Model

T = TypeVar("T")
M = TypeVar("M", bound=Model)


def to_item(model: type[M], value: Any, **overrides: Any) -> M:
    """The item holding `value`'s fields; `overrides` set attributes the value does not carry (or replace)."""
    known = model.get_attributes()
    attributes = {**_flat(value), **overrides}
    return model(**{name: item for name, item in attributes.items() if name in known and item is not None})


def from_item(cls: type[T], item: Model, **overrides: Any) -> T:
    """The domain value an item holds; an absent attribute leaves the field's default."""
    values: dict[str, Any] = {}
    for slot in _slots(cls):
        if slot.name in overrides:
            continue
        raw = _read_nested(slot.nested, item) if slot.nested else getattr(item, slot.attribute, None)
        if raw is not None:
            values[slot.name] = slot.enum(raw) if slot.enum else raw
        elif slot.required:
            values[slot.name] = None
    return cls(**values, **overrides)


def update_actions(item: Model, kept: frozenset[str] = frozenset(), since: Model | None = None) -> list[Action]:
    """Actions that make a stored item's attributes those of `item` (absent ones removed), but for `kept`;
    with `since` (the item as read), only the attributes that differ from it."""
    actions: list[Action] = []
    for name, attribute in type(item).get_attributes().items():
        value = getattr(item, name)
        if name in kept or (since is not None and getattr(since, name) == value):
            continue
        actions.append(set_or_remove(attribute, value))
    return actions


def set_or_remove(attribute: Attribute[Any], value: Any) -> Action:
    """The action that stores `value`, or removes the attribute for None."""
    return attribute.set(value) if value is not None else attribute.remove()


def _flat(value: Any) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for slot in _slots(type(value)):
        held = getattr(value, slot.name)
        if is_dataclass(held):
            flat.update(_flat(held))
        elif held is not None or not slot.nested:
            flat[slot.attribute] = _stored(held)
    return flat


def _read_nested(cls: type, item: Model) -> Any:
    """The nested value, or None when the item lacks one of its required fields."""
    if any(getattr(item, slot.attribute, None) is None for slot in _slots(cls) if slot.required):
        return None
    return from_item(cls, item)


@dataclass(frozen=True)
class _Slot:
    """How one field of a domain class is stored: worked out once per class, not per item read."""

    name: str
    attribute: str
    nested: type | None  # a dataclass stored flat beside the other fields
    enum: type[Enum] | None  # stored by its value
    required: bool  # no default: an absent attribute reads as None


_SLOTS: dict[type, tuple[_Slot, ...]] = {}


def _slots(cls: type) -> tuple[_Slot, ...]:
    if cls not in _SLOTS:
        hints = get_type_hints(cls)
        _SLOTS[cls] = tuple(
            _Slot(
                field.name,
                _camel(field.name),
                _nested_class(hints[field.name]),
                _enum_class(hints[field.name]),
                not _has_default(field),
            )
            for field in fields(cls)
        )
    return _SLOTS[cls]


def _nested_class(hint: Any) -> type | None:
    return next((kind for kind in get_args(hint) or (hint,) if isinstance(kind, type) and is_dataclass(kind)), None)


def _enum_class(hint: Any) -> type[Enum] | None:
    return next((kind for kind in get_args(hint) or (hint,) if isinstance(kind, type) and issubclass(kind, Enum)), None)


def _stored(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _has_default(field: Field[Any]) -> bool:
    return field.default is not MISSING or field.default_factory is not MISSING


@functools.cache
def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
