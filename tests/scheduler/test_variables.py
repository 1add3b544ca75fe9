"""A schedule fills a routine's variables from their defaults only."""

from chalicelib.services.commands import VariableDefinition
from chalicelib.store import issues
from tests.scheduler.conftest import Schedules, dispatch_one, utc


def test_a_scheduled_firing_fills_the_title_from_defaults_and_the_builtin_date(schedules: Schedules) -> None:
    repo = VariableDefinition(name="repo", default_value="web")
    routine, trigger = schedules.scheduled(
        "0 9 * * *", utc(2026, 3, 2, 8, 0), title="Deploy {{repo}} on {{date}}", variables=[repo]
    )

    dispatch_one(trigger.id, utc(2026, 3, 2, 9, 0))

    [run] = schedules.runs(routine)
    assert run.status == "issue_created"
    assert run.trigger_payload == {"variables": {"repo": "web"}}
    assert run.dispatch_fingerprint
    issue = issues.get_issue(run.linked_issue_id or "")
    assert issue is not None and issue.title == "Deploy web on 2026-03-02"
