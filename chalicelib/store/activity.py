"""The latest qualifying activity of each scope (a company, a project), updated inside the transactions of the
writes that make the activity, read with one batch per gated due trigger.

Each scope is spread over `SHARDS` items and a write updates one of them at random: every dispatch and issue
write of a company records activity, and on real DynamoDB transactions that write one item at once conflict
(`TransactionConflict`), so one item per company would serialise the company's dispatches.
"""

import secrets

from pynamodb.expressions.update import Action

from chalicelib.domain.gate import Activity, ScopeActivity
from chalicelib.store.tables import DirectoryItem, read_many
from chalicelib.store.tx import Tx

SHARDS = 8


def record(tx: Tx, activity: Activity) -> None:
    """Adds the activity to `tx`, in its company's scope and, if it has one, its project's.

    No condition and no read: a busy scope must never cancel the write that made the activity.
    """
    shard = secrets.randbelow(SHARDS)
    for sk in _scopes(activity.project_id):
        tx.update(f"activity:{sk}", DirectoryItem(activity.company_id, _shard(sk, shard)), _actions(activity))


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


def _shard(sk: str, shard: int) -> str:
    return f"{sk}#{shard}"


def scope_activity(company_id: str, project_id: str | None) -> ScopeActivity:
    """What the company's (or the project's) scope recorded, over all its shards, read consistently in one
    batch; empty when nothing happened.

    The shards merge as one item would have kept them: the latest activity is the latest of theirs (with its
    origin), and the latest external activity the latest of theirs.
    """
    keys = [(company_id, _shard(_sk(project_id), shard)) for shard in range(SHARDS)]
    items = read_many(DirectoryItem, keys)
    if not items:
        return ScopeActivity()
    last = max(items, key=lambda item: item.activityAt or "")
    external = max((item.externalActivityAt for item in items if item.externalActivityAt), default=None)
    return ScopeActivity(last.activityAt, last.activityOrigin, external)
