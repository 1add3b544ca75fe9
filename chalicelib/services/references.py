"""References a routine, run or issue names: its project, goal, parent issue and assignee.

Apart from the routines service, which takes the request commands (pydantic): the dispatch funnel checks an
assignee too, and the tick's and dispatcher's import path must not load pydantic.
"""

from typing import TYPE_CHECKING

from chalicelib.domain.errors import Invalid, NotFound
from chalicelib.domain.models import Agent, Goal, Project, Routine
from chalicelib.domain.policies import assignee_problem
from chalicelib.store import directory, issues

if TYPE_CHECKING:
    from chalicelib.services.commands import CreateRoutine


Ref = tuple[type[directory.AnyMember], str]
_DIRECTORY_REFS: tuple[tuple[str, type[directory.AnyMember]], ...] = (
    ("project_id", Project),
    ("goal_id", Goal),
    ("assignee_agent_id", Agent),
)


def directory_refs(named: "CreateRoutine | Routine", changed: frozenset[str]) -> list[Ref]:
    """The project, goal and assignee the caller named (`changed`), as directory `(kind, id)` pairs."""
    return [(kind, ref) for field, kind in _DIRECTORY_REFS if field in changed and (ref := getattr(named, field))]


def check_references(routine: Routine, changed: frozenset[str], read: list[directory.AnyMember] | None = None) -> None:
    """The project, goal, parent issue and assignee the caller named must exist in the routine's company; the
    directory's are read in one batch, unless `read` holds them already."""
    company_id, refs = routine.company_id, directory_refs(routine, changed)
    members = read if read is not None else directory.get_members(company_id, refs)
    found = {(type(member), member.id): member for member in members}
    for kind, ref in refs:
        if kind is not Agent and (kind, ref) not in found:
            _refuse_missing(kind, company_id, ref)
    _check_parent(routine, changed)
    for kind, ref in refs:
        if kind is Agent:
            _judge_assignee(company_id, ref, found.get((kind, ref)))


def _check_parent(routine: Routine, changed: frozenset[str]) -> None:
    if "parent_issue_id" in changed and routine.parent_issue_id:
        parent = issues.get_issue(routine.parent_issue_id)
        if parent is None:
            raise NotFound("Parent issue not found")
        if parent.company_id != routine.company_id:
            raise Invalid("Parent issue must belong to same company")


def _refuse_missing(kind: type[directory.AnyMember], company_id: str, entity_id: str) -> None:
    if directory.owner_of(entity_id) not in (None, company_id):
        raise Invalid(f"{kind.__name__} must belong to same company")
    raise NotFound(f"{kind.__name__} not found")


def check_assignable(company_id: str, agent_id: str) -> None:
    _judge_assignee(company_id, agent_id, directory.get_member(Agent, company_id, agent_id))


def _judge_assignee(company_id: str, agent_id: str, agent: directory.AnyMember | None) -> None:
    found = agent if isinstance(agent, Agent) else None
    problem = assignee_problem(found, company_id, None if found else directory.owner_of(agent_id))
    if problem:
        raise problem
