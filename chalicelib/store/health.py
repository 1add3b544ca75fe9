"""Whether each table answers: one cheap GetItem of an absent key per table."""

from concurrent.futures import ThreadPoolExecutor

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
        model.get(_PROBE, _PROBE if model._range_keyname else None)
    except model.DoesNotExist:
        return True
    except PynamoDBException:
        return False
    return True
