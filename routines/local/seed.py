"""Demo data for the local stack: a company, a project, agents Alpha and Bravo, and their keys."""

from typing import Any

from chalicelib import runtime
from chalicelib.domain.models import OPERATOR, Principal
from chalicelib.domain.timefmt import to_iso
from chalicelib.services import auth, directory


def seed_demo() -> dict[str, Any]:
    """Creates the demo directory and returns what dev.json shows (the keys exist nowhere else)."""
    now = runtime.now()
    company = directory.create_company(OPERATOR, "Demo Company", "DEMO", now, runtime.new_id)
    project = directory.create_project(company, "Demo Project", "Seeded by routines dev", now, runtime.new_id)
    board_key = directory.create_board_key(None, "local board", now)
    agents = []
    for name in ("Alpha", "Bravo"):
        agent = directory.create_agent(company, name, "engineer", now, runtime.new_id)
        principal = Principal.for_agent(agent.id, company.id)
        agents.append({"id": agent.id, "name": name, "apiKey": auth.issue_key(principal, "demo", to_iso(now))})
    return {"companyId": company.id, "projectId": project.id, "boardApiKey": board_key, "agents": agents}
