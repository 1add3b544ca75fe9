"""The latest qualifying activity of each scope (a company, a project): one directory item per scope, updated
inside the transactions of the writes that make the activity, read once per gated due trigger."""

from pynamodb.expressions.update import Action

from chalicelib.domain.gate import Activity, ScopeActivity
from chalicelib.store.tables import DirectoryItem, read
from chalicelib.store.tx import Tx


def record(tx: Tx, activity: Activity) -> None:
    """Adds the activity to `tx`, in its company's scope and, if it has one, its project's.

    No condition and no read: a busy scope must never cancel the write that made the activity.
    """
    for sk in _scopes(activity.project_id):
        tx.update(f"activity:{sk}", DirectoryItem(activity.company_id, sk), _actions(activity))


def _actions(activity: Activity) -> list[Action]:
    actions: list[Action] = [DirectoryItem.activityAt.set(activity.at)]
    if activity.origin_routine_id is None:
        actions += [DirectoryItem.activityOrigin.remove(), DirectoryItem.externalActivityAt.set(activity.at)]
    else:
        actions.append(DirectoryItem.activityOrigin.set(activity.origin_routine_id))
    return actions


def _scopes(project_id: str | None) -> list[str]:
    return [_sk(None), _sk(project_id)] if project_id else [_sk(None)]


def _sk(project_id: str | None) -> str:
    return f"ACTIVITY#PROJECT#{project_id}" if project_id else "ACTIVITY"


def scope_activity(company_id: str, project_id: str | None) -> ScopeActivity:
    """What the company's (or the project's) scope recorded, read consistently; empty when nothing happened."""
    item = read(DirectoryItem, company_id, _sk(project_id))
    if item is None:
        return ScopeActivity()
    return ScopeActivity(item.activityAt, item.activityOrigin, item.externalActivityAt)
