"""Routine variables: `{{name}}` placeholders in a routine's title and description, their definitions, and
the values a firing fills in. Pure: the rules and texts of Paperclip's `routine-variables`."""

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from chalicelib.domain.errors import Invalid

Value = str | int | float | bool
BUILTINS = ("date", "timestamp")
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# A name may carry `\_` (markdown editors escape underscores): `{{pr\_url}}` is `pr_url`.
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z](?:[A-Za-z0-9_]|\\_)*)\s*\}\}")
_DATE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$")
_TRUE, _FALSE = {"true", "1", "yes", "y", "on"}, {"false", "0", "no", "n", "off"}
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


class VariableType(StrEnum):
    text = "text"
    textarea = "textarea"
    number = "number"
    boolean = "boolean"
    select = "select"
    date = "date"


@dataclass(frozen=True)
class Variable:
    """One defined placeholder; `default_value` fills it when a firing gives none."""

    name: str
    type: VariableType = VariableType.text
    label: str | None = None
    default_value: Value | None = None
    required: bool = True
    options: tuple[str, ...] = ()


def placeholder_names(*templates: str | None) -> list[str]:
    """The names the templates use, in order of first appearance (title first), without duplicates."""
    names: list[str] = []
    for template in templates:
        for match in _PLACEHOLDER.finditer(template or ""):
            name = match.group(1).replace("\\_", "_")
            if name not in names:
                names.append(name)
    return names


def sync_variables(supplied: Iterable[Variable], title: str, description: str | None) -> tuple[Variable, ...]:
    """One definition per placeholder, by exact name; unused definitions are dropped, new names get defaults."""
    by_name = {variable.name: variable for variable in supplied}
    names = [name for name in placeholder_names(title, description) if name not in BUILTINS]
    return tuple(by_name.get(name) or _fresh(name) for name in names)


def _fresh(name: str) -> Variable:
    dated = len(name) > 4 and name.endswith("Date")
    return Variable(name, VariableType.date if dated else VariableType.text)


def definition_problem(variable: Variable) -> str | None:
    """Why a definition is unusable (the 400 texts of the reference's schema), or None."""
    if variable.type == VariableType.select and not variable.options:
        return "Select variables require at least one option"
    if variable.type != VariableType.select and variable.options:
        return "Only select variables can define options"
    default = variable.default_value
    if variable.type == VariableType.select and default is not None and default not in variable.options:
        return "Select variable defaults must match one of the allowed options"
    if variable.type == VariableType.date and default is not None and not is_calendar_date(default):
        return "Date variable defaults must be valid YYYY-MM-DD calendar dates"
    return None


def check_defaults(variables: Iterable[Variable]) -> None:
    """Options and defaults must fit each type, and every default coerce (422 with the reference's texts)."""
    for variable in variables:
        problem = definition_problem(variable)
        if problem:
            raise Invalid(problem)
        if variable.type == VariableType.select and not variable.options:
            raise Invalid(f'Variable "{variable.name}" must define at least one option')
        if variable.default_value is not None:
            coerce(variable, variable.default_value)


def schedule_missing(variables: Iterable[Variable]) -> list[str]:
    """The required variables a schedule (defaults only) could not fill."""
    missing = []
    for variable in variables:
        try:
            value = coerce(variable, variable.default_value) if variable.default_value is not None else None
        except Invalid:
            value = None
        if variable.required and _blank(value):
            missing.append(variable.name)
    return missing


def is_calendar_date(value: Any) -> bool:
    match = _DATE.match(value) if isinstance(value, str) else None
    if match is None:
        return False
    year, month, day = (int(part) for part in match.groups())
    if not 1 <= month <= 12:
        return False
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return 1 <= day <= _MONTH_DAYS[month - 1] + (1 if month == 2 and leap else 0)


def coerce(variable: Variable, value: Any) -> Any:
    """The value as its variable's type, or `Invalid` with the reference's text."""
    name = variable.name
    if value is None:
        return None
    if variable.type == VariableType.boolean:
        return _boolean(name, value)
    if variable.type == VariableType.number:
        return _number(name, value)
    if variable.type == VariableType.date:
        if not isinstance(value, str):
            raise Invalid(f'Variable "{name}" must be a YYYY-MM-DD date')
        if not is_calendar_date(value.strip()):
            raise Invalid(f'Variable "{name}" must be a valid YYYY-MM-DD date')
        return value.strip()
    text = as_text(value)
    if variable.type == VariableType.select and text not in variable.options:
        raise Invalid(f'Variable "{name}" must match one of: {", ".join(variable.options)}')
    return text


def _boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    word = value.strip().lower() if isinstance(value, str) else None
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise Invalid(f'Variable "{name}" must be a boolean')


def _number(name: str, value: Any) -> int | float:
    number: float = math.nan
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip():
        number = _js_number(value.strip())
    if not math.isfinite(number):
        raise Invalid(f'Variable "{name}" must be a number')
    return int(number) if float(number).is_integer() and abs(number) < 2**53 else number


def _js_number(text: str) -> float:
    """`Number(text)` for a trimmed, non-blank string: decimals, exponents and 0x/0o/0b integers."""
    try:
        if text[:2].lower() in ("0x", "0o", "0b"):
            return float(int(text, 0))
        return float(text) if text.lower().lstrip("+-") not in ("inf", "infinity", "nan") else math.nan
    except ValueError:
        return math.nan


def as_text(value: Any) -> str:
    """A value as the text a template shows: strings as they are, JSON for the rest, null as empty."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return canonical_json(value)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def provided_values(from_webhook: bool, payload: Any, explicit: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a firing offers: a webhook's top-level keys, then `payload.variables`, then explicit values."""
    provided: dict[str, Any] = {}
    if from_webhook and isinstance(payload, dict):
        provided.update(payload)
    nested = payload.get("variables") if isinstance(payload, dict) else None
    if isinstance(nested, dict):
        provided.update(nested)
    provided.update(explicit or {})
    provided.pop("variables", None)
    return provided


def resolve(variables: Iterable[Variable], provided: Mapping[str, Any]) -> dict[str, Any]:
    """The values of the defined variables; an explicit null or blank counts as given (no default)."""
    resolved: dict[str, Any] = {}
    missing: list[str] = []
    for variable in variables:
        candidate = provided.get(variable.name, variable.default_value)
        value = coerce(variable, candidate)
        if _blank(value):
            if variable.required:
                missing.append(variable.name)
            continue
        resolved[variable.name] = value
    if missing:
        raise Invalid(f"Missing routine variables: {', '.join(missing)}")
    return resolved


def builtin_values(now: datetime) -> dict[str, str]:
    """`{{date}}` (UTC day) and `{{timestamp}}` ("April 28, 2026 at 12:17 PM UTC")."""
    hour = now.hour % 12 or 12
    meridiem = "AM" if now.hour < 12 else "PM"
    stamp = f"{now:%B} {now.day}, {now.year} at {hour}:{now:%M}\u202f{meridiem} UTC"
    return {"date": now.date().isoformat(), "timestamp": stamp}


def interpolate(template: str, values: Mapping[str, Any]) -> str:
    """Replaces each known placeholder by its value's text; unknown ones stay exactly as written."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1).replace("\\_", "_")
        return as_text(values[name]) if name in values else match.group(0)

    return _PLACEHOLDER.sub(fill, template)


def merge_payload(payload: Any, resolved: Mapping[str, Any]) -> Any:
    """The run's `triggerPayload`: the payload with the resolved values overlaid on its `variables`."""
    if not resolved:
        return payload
    if payload is None:
        return {"variables": dict(resolved)}
    own = payload.get("variables") if isinstance(payload, dict) else None
    merged = dict(payload) if isinstance(payload, dict) else {}
    return {**merged, "variables": {**(own if isinstance(own, dict) else {}), **resolved}}


def canonical_json(value: Any) -> str:
    """JSON as JavaScript writes it, keys sorted: no spaces, literal non-ASCII, `5.0` as `5`."""
    return json.dumps(_canonical(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _canonical(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(key): _canonical(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    return value


def fingerprint(content: Mapping[str, Any]) -> str:
    """Lowercase hex SHA-256 of the canonical JSON of what a firing would create."""
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()


def variable_json(variable: Variable) -> dict[str, Any]:
    """A definition as stored and shown: the reference's camelCase object."""
    return {
        "name": variable.name,
        "label": variable.label,
        "type": variable.type.value,
        "defaultValue": variable.default_value,
        "required": variable.required,
        "options": list(variable.options),
    }


def variable_of(data: Mapping[str, Any]) -> Variable:
    return Variable(
        name=data["name"],
        type=VariableType(data.get("type", "text")),
        label=data.get("label"),
        default_value=data.get("defaultValue"),
        required=data.get("required", True),
        options=tuple(data.get("options", ())),
    )


def check_schedulable(variables: Iterable[Variable]) -> None:
    """A schedule fires with defaults only: each required variable needs one that coerces."""
    missing = schedule_missing(variables)
    if missing:
        raise Invalid(f"Scheduled routines require defaults for required variables: {', '.join(missing)}")
