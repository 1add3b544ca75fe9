"""Run lists show each run's linked issue and trigger, as Paperclip's UI reads them."""

from tests.support import World, json_of


def test_runs_carry_their_linked_issue_and_trigger_summaries(world: World) -> None:
    routine = world.routine(title="Digest")
    trigger = world.trigger(routine["id"], kind="api", label="From CI")["trigger"]
    fired = json_of(world.board.post(f"/routines/{routine['id']}/run", {"triggerId": trigger["id"]}), 202)
    untriggered = json_of(world.board.post(f"/routines/{routine['id']}/run", {}), 202)

    listed = json_of(world.board.get(f"/routines/{routine['id']}/runs"))
    detail = json_of(world.board.get(f"/routines/{routine['id']}"))
    [item] = [
        r for r in json_of(world.board.get(f"/companies/{world.company_id}/routines")) if r["id"] == routine["id"]
    ]

    issue = json_of(world.board.get(f"/issues/{fired['linkedIssueId']}"))
    summary = {key: issue[key] for key in ("id", "identifier", "title", "status", "priority", "updatedAt")}
    assert [run["id"] for run in listed] == [untriggered["id"], fired["id"]]
    assert listed[1]["linkedIssue"] == summary
    assert listed[1]["trigger"] == {"id": trigger["id"], "kind": "api", "label": "From CI"}
    assert listed[0]["trigger"] is None
    assert detail["recentRuns"] == listed
    assert item["lastRun"] == listed[0]
