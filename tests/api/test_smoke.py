from tests.support import World


def test_a_routine_can_be_created_and_run(world: World) -> None:
    routine = world.routine()
    assert routine["status"] == "active"
    detail = world.alpha.get(f"/routines/{routine['id']}")
    assert detail.status_code == 200, detail.text
    run = world.alpha.post(f"/routines/{routine['id']}/run", {})
    assert run.status_code == 202, run.text
    assert run.json()["status"] == "issue_created"
