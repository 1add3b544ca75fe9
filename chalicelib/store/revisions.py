"""Routine revisions: each is written in the transaction of the change it records, with the routine's
`latestRevisionId`/`latestRevisionNumber`, conditioned on the routine's latest being the one before it."""

from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from chalicelib.domain.models import Revision
from chalicelib.domain.revisions import snapshot_trigger_ids
from chalicelib.store.mapping import from_item, to_item
from chalicelib.store.tables import ClaimItem, RevisionItem, RoutineItem, read, read_many
from chalicelib.store.tx import Tx

LISTED = 100


def add_revision(tx: Tx, revision: Revision) -> None:
    """The revision and its `revision#<id>` lookup; a number taken already fails the routine's condition."""
    item = to_item(RevisionItem, revision)
    tx.put("revision", item, RevisionItem.revisionNumber.does_not_exist())
    lookup = ClaimItem(
        _lookup_key(revision.id),
        routineId=revision.routine_id,
        companyId=revision.company_id,
        revisionNumber=revision.revision_number,
    )
    tx.put("revision-lookup", lookup, ClaimItem.key.does_not_exist())


def latest_is(number: int | None) -> Condition:
    """The routine's latest revision is still number `number` (None: it has none)."""
    if number is None:
        return RoutineItem.latestRevisionNumber.does_not_exist()
    return RoutineItem.latestRevisionNumber == number


def follows(revision: Revision) -> Condition:
    """The routine's latest revision is the one `revision` follows."""
    return latest_is(revision.revision_number - 1 if revision.revision_number > 1 else None)


def pointer_actions(revision: Revision) -> list[Action]:
    """What appending `revision` writes on its routine."""
    return [
        RoutineItem.latestRevisionId.set(revision.id),
        RoutineItem.latestRevisionNumber.set(revision.revision_number),
        RoutineItem.triggerIds.set(snapshot_trigger_ids(revision.snapshot)),
        RoutineItem.updatedAt.set(revision.created_at),
    ]


def append_revision(tx: Tx, revision: Revision) -> None:
    """Adds to `tx` the revision and its routine's pointers, if the revision follows the routine's latest
    (a change that writes the routine item itself uses `add_revision` and `follows` instead)."""
    condition = RoutineItem.id.exists() & follows(revision)
    tx.update("routine", RoutineItem(revision.routine_id), pointer_actions(revision), condition)
    add_revision(tx, revision)


def list_revisions(routine_id: str) -> list[Revision]:
    """The newest hundred revisions, newest first."""
    items = RevisionItem.query(routine_id, scan_index_forward=False, limit=LISTED, consistent_read=True)
    return [_revision(item) for item in items]


def get_revision(routine_id: str, revision_id: str) -> Revision | None:
    """The routine's revision with this id (None when it is another routine's or no revision)."""
    lookup = read(ClaimItem, _lookup_key(revision_id))
    if lookup is None or lookup.routineId != routine_id or lookup.revisionNumber is None:
        return None
    return get_numbered(routine_id, int(lookup.revisionNumber))


def get_numbered(routine_id: str, number: int) -> Revision | None:
    item = read(RevisionItem, routine_id, number)
    return _revision(item) if item else None


def get_many_numbered(keys: set[tuple[str, int]]) -> dict[str, Revision]:
    """Revisions by (routine id, number), read consistently in batches of a hundred, by routine id."""
    return {item.routineId: _revision(item) for item in read_many(RevisionItem, keys)}


def _lookup_key(revision_id: str) -> str:
    return f"revision#{revision_id}"


def _revision(item: RevisionItem) -> Revision:
    member = item.snapshot.get("routine", {})
    return from_item(Revision, item, title=member.get("title", ""), description=member.get("description"))
