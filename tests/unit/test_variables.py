"""Routine variables: placeholders, sync, coercion with the reference's 422 texts, resolution, templating."""

from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.domain.errors import Invalid
from chalicelib.domain.variables import (
    Variable,
    VariableType,
    builtin_values,
    canonical_json,
    check_defaults,
    coerce,
    definition_problem,
    fingerprint,
    interpolate,
    is_calendar_date,
    merge_payload,
    placeholder_names,
    provided_values,
    resolve,
    schedule_missing,
    sync_variables,
)

T = VariableType


def test_placeholders_are_read_title_first_without_duplicates_and_unescape_underscores() -> None:
    names = placeholder_names("Deploy {{ repo }} to {{env}}", r"{{repo}} at {{pr\_url}}; {{1abc}} {{a-b}}")
    assert names == ["repo", "env", "pr_url"]


def test_sync_keeps_definitions_by_exact_name_drops_unused_and_infers_dates() -> None:
    kept = Variable("repo", T.select, options=("web", "api"), default_value="web")
    synced = sync_variables([kept, Variable("gone")], "Deploy {{repo}} on {{startDate}}", "{{date}} {{note}}")
    assert synced == (kept, Variable("startDate", T.date), Variable("note", T.text))


@pytest.mark.parametrize(
    ("variable", "problem"),
    [
        (Variable("a", T.select), "Select variables require at least one option"),
        (Variable("a", T.text, options=("x",)), "Only select variables can define options"),
        (
            Variable("a", T.select, options=("x",), default_value="y"),
            "Select variable defaults must match one of the allowed options",
        ),
        (
            Variable("a", T.date, default_value="2023-02-29"),
            "Date variable defaults must be valid YYYY-MM-DD calendar dates",
        ),
        (Variable("a", T.date, default_value="2024-02-29"), None),
        (Variable("a", T.number, default_value="abc"), None),
    ],
)
def test_definition_problems_carry_the_reference_texts(variable: Variable, problem: str | None) -> None:
    assert definition_problem(variable) == problem


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("2024-02-29", True),
        ("2023-02-29", False),
        ("2024-02-30", False),
        ("1900-02-29", False),
        ("2000-02-29", True),
        ("2024-13-01", False),
        ("2024-1-01", False),
        (" 2024-01-01", False),
    ],
)
def test_calendar_dates_follow_the_gregorian_leap_rule(text: str, valid: bool) -> None:
    assert is_calendar_date(text) is valid


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        (T.boolean, True, True),
        (T.boolean, 0, False),
        (T.boolean, " Yes ", True),
        (T.boolean, "off", False),
        (T.number, 5, 5),
        (T.number, " 1e3 ", 1000),
        (T.number, "0x10", 16),
        (T.number, "2.5", 2.5),
        (T.date, " 2024-02-29 ", "2024-02-29"),
        (T.text, 5, "5"),
        (T.text, True, "true"),
        (T.textarea, {"b": 1, "a": [1.0]}, '{"a":[1],"b":1}'),
        (T.select, "web", "web"),
    ],
)
def test_values_coerce_to_their_type(kind: VariableType, value: Any, expected: Any) -> None:
    options = ("web", "api") if kind == T.select else ()
    assert coerce(Variable("v", kind, options=options), value) == expected


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        (T.boolean, "maybe", 'Variable "v" must be a boolean'),
        (T.boolean, 2, 'Variable "v" must be a boolean'),
        (T.number, "abc", 'Variable "v" must be a number'),
        (T.number, "  ", 'Variable "v" must be a number'),
        (T.number, True, 'Variable "v" must be a number'),
        (T.date, 20240101, 'Variable "v" must be a YYYY-MM-DD date'),
        (T.date, "2024-02-30", 'Variable "v" must be a valid YYYY-MM-DD date'),
        (T.select, "Web", 'Variable "v" must match one of: web, api'),
    ],
)
def test_values_that_do_not_coerce_get_the_reference_422_texts(kind: VariableType, value: Any, message: str) -> None:
    options = ("web", "api") if kind == T.select else ()
    with pytest.raises(Invalid) as raised:
        coerce(Variable("v", kind, options=options), value)
    assert raised.value.message == message


def test_a_default_that_does_not_coerce_is_refused() -> None:
    with pytest.raises(Invalid, match='Variable "n" must be a number'):
        check_defaults([Variable("n", T.number, default_value="abc")])


def test_webhook_top_level_keys_lose_to_payload_variables_which_lose_to_explicit_values() -> None:
    payload = {"repo": "top", "env": "top", "only": "top", "variables": {"repo": "nested", "env": "nested"}}
    assert provided_values(True, payload, {"repo": "explicit"}) == {"repo": "explicit", "env": "nested", "only": "top"}
    assert provided_values(False, payload, None) == {"repo": "nested", "env": "nested"}


def test_resolution_uses_defaults_but_an_explicit_blank_counts_as_missing() -> None:
    variables = [Variable("repo"), Variable("env", default_value="prod"), Variable("note", required=False)]
    assert resolve(variables, {"repo": "web"}) == {"repo": "web", "env": "prod"}
    with pytest.raises(Invalid) as raised:
        resolve(variables, {"repo": " ", "env": None})
    assert raised.value.message == "Missing routine variables: repo, env"


def test_schedules_need_a_usable_default_for_each_required_variable() -> None:
    variables = [Variable("a"), Variable("b", default_value="x"), Variable("c", T.number, default_value="no")]
    assert schedule_missing(variables) == ["a", "c"]


def test_interpolation_fills_known_names_and_leaves_unknown_ones_as_written() -> None:
    values = {"repo": "web", "n": 3, "flag": False, "pr_url": "u"}
    assert interpolate(r"Deploy {{ repo }} x{{n}} {{flag}} {{pr\_url}} {{ other }}", values) == (
        "Deploy web x3 false u {{ other }}"
    )


def test_builtins_give_the_utc_day_and_a_long_timestamp() -> None:
    now = datetime(2026, 4, 28, 12, 17, 5, tzinfo=UTC)
    assert builtin_values(now) == {"date": "2026-04-28", "timestamp": "April 28, 2026 at 12:17\u202fPM UTC"}
    assert builtin_values(datetime(2026, 1, 2, 0, 5, tzinfo=UTC))["timestamp"] == "January 2, 2026 at 12:05\u202fAM UTC"


def test_the_trigger_payload_gets_the_resolved_values_overlaid_on_its_variables() -> None:
    assert merge_payload(None, {}) is None
    assert merge_payload({"a": 1}, {}) == {"a": 1}
    assert merge_payload(None, {"repo": "web"}) == {"variables": {"repo": "web"}}
    merged = merge_payload({"a": 1, "variables": {"x": 1, "repo": "old"}}, {"repo": "web"})
    assert merged == {"a": 1, "variables": {"x": 1, "repo": "web"}}


def test_canonical_json_is_javascripts_and_the_fingerprint_ignores_key_order() -> None:
    assert canonical_json({"b": 5.0, "a": "é"}) == '{"a":"é","b":5}'
    assert fingerprint({"a": 1, "b": 2}) == fingerprint({"b": 2, "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})
