"""The retry budget is stated once, in `store/retries.py`: the models' botocore retries must be that number."""

from chalicelib.store.retries import SEND_RETRIES
from chalicelib.store.tables import ALL_TABLES


def test_every_model_retries_a_request_as_often_as_the_stated_budget_says() -> None:
    assert {model.Meta.max_retry_attempts for model in ALL_TABLES} == {SEND_RETRIES}
