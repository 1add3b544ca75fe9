"""References a routine, run or issue names: its project, goal, parent issue and assignee.

Apart from the routines service, which takes the request commands (pydantic): the dispatch funnel checks an
assignee too, and the tick's and dispatcher's import path must not load pydantic.
"""

from chalicelib.domain.errors import Invalid, NotFound
from chalicelib.domain.models import Agent, Goal, Project, Routine
from chalicelib.domain.policies import assignee_problem
from chalicelib.store import directory, issues


def check_references(routine: Routine, changed: frozenset[str]) -> None:
    """The project, goal, parent issue and assignee the caller named must exist in the routine's company."""
    company_id = routine.company_id
    if "project_id" in changed and routine.project_id:
        _check_directory_ref(Project, company_id, routine.project_id)
    if "goal_id" in changed and routine.goal_id:
        _check_directory_ref(Goal, company_id, routine.goal_id)
    if "parent_issue_id" in changed and routine.parent_issue_id:
        parent = issues.get_issue(routine.parent_issue_id)
        if parent is None:
            raise NotFound("Parent issue not found")
        if parent.company_id != company_id:
            raise Invalid("Parent issue must belong to same company")
    if "assignee_agent_id" in changed and routine.assignee_agent_id:
        check_assignable(company_id, routine.assignee_agent_id)


def _check_directory_ref(kind: type[Project | Goal], company_id: str, entity_id: str) -> None:
    if directory.get_member(kind, company_id, entity_id) is not None:
        return
    if directory.owner_of(entity_id) not in (None, company_id):
        raise Invalid(f"{kind.__name__} must belong to same company")
    raise NotFound(f"{kind.__name__} not found")


def check_assignable(company_id: str, agent_id: str) -> None:
    """The agent is the company's and may be given work."""
    agent = directory.get_member(Agent, company_id, agent_id)
    problem = assignee_problem(agent, company_id, None if agent else directory.owner_of(agent_id))
    if problem:
        raise problem
