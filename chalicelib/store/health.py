"""Whether each table answers: one cheap GetItem of an absent key per table."""

from concurrent.futures import ThreadPoolExecutor

from pynamodb.attributes import NumberAttribute
from pynamodb.exceptions import PynamoDBException
from pynamodb.models import Model

from chalicelib.store.tables import ALL_TABLES

_PROBE = "health#probe"


def reachable_tables() -> dict[str, bool]:
    with ThreadPoolExecutor(max_workers=len(ALL_TABLES)) as pool:
        answers = pool.map(_answers, ALL_TABLES)
        return {model.Meta.table_name: ok for model, ok in zip(ALL_TABLES, answers, strict=True)}


def _answers(model: type[Model]) -> bool:
    try:
        model.get(_PROBE, _probe_range_key(model))
    except model.DoesNotExist:
        return True
    except PynamoDBException:
        return False
    return True


def _probe_range_key(model: type[Model]) -> str | int | None:
    if not model._range_keyname:
        return None
    return 0 if isinstance(model.get_attributes()[model._range_keyname], NumberAttribute) else _PROBE
