"""Pages of a DynamoDB Query: at most so many items, and while more remain a cursor, the last item's key, from
which the next page's query starts. Every paged list (issues, routines, runs) pages this way."""

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from typing import Any, Generic, TypeVar

from pynamodb.indexes import GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.domain.errors import Invalid
from chalicelib.domain.ids import is_id

T = TypeVar("T")
M = TypeVar("M", bound=Model)
Check = Callable[[str], bool]


class BadCursor(Invalid):
    """A page cursor this store did not hand out (422: well-formed as a string, meaningless as a cursor)."""

    def __init__(self) -> None:
        super().__init__("nextCursor is not a cursor this list handed out")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list, with the cursor of the next page (None on the last)."""

    items: list[T]
    next_cursor: str | None


def is_stamp(text: str) -> bool:
    """Our timestamps are fixed width (`2026-11-29T09:00:00.000Z`)."""
    return len(text) == 24


BY_ID = (("id", is_id),)
BY_UPDATE = (("id", is_id), ("updatedAt", is_stamp))


def query_page(
    source: type[M] | GlobalSecondaryIndex[M],
    convert: Callable[[M], T],
    hash_value: str,
    size: int,
    cursor: str | None,
    carried: tuple[tuple[str, Check], ...],
    **query: Any,
) -> Page[T]:
    """At most `size` items of `source.query(hash_value, **query)` after the cursor, converted; `carried` names
    the key attributes (other than the query's hash key) that make the cursor, each with the check it must pass."""
    start = _start_key(source, hash_value, cursor, carried)
    found = iter(source.query(hash_value, last_evaluated_key=start, **query))
    items = list(islice(found, size))
    more = next(found, None) is not None
    return Page([convert(item) for item in items], _cursor(items[-1], carried) if more and items else None)


def _cursor(last: Model, carried: tuple[tuple[str, Check], ...]) -> str:
    values = [getattr(last, name) for name, _ in carried]
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _start_key(
    source: type[Model] | GlobalSecondaryIndex[Any],
    hash_value: str,
    cursor: str | None,
    carried: tuple[tuple[str, Check], ...],
) -> dict[str, Any] | None:
    """The query's exclusive start, rebuilt from a cursor of `_cursor` (the hash key is the query's own)."""
    if cursor is None:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise BadCursor() from exc
    if not isinstance(values, list) or len(values) != len(carried):
        raise BadCursor()
    if not all(isinstance(value, str) and check(value) for value, (_, check) in zip(values, carried, strict=True)):
        raise BadCursor()
    start = {name: {"S": value} for value, (name, _) in zip(values, carried, strict=True)}
    return {**start, _hash_name(source): {"S": hash_value}}


def _hash_name(source: type[Model] | GlobalSecondaryIndex[Any]) -> str:
    attributes = source.Meta.attributes if isinstance(source, GlobalSecondaryIndex) else source.get_attributes()
    return next(attribute.attr_name for attribute in attributes.values() if attribute.is_hash_key)
