"""DynamoDB failures translated once into named conditions."""

from pynamodb.exceptions import PynamoDBException, TransactWriteError


def is_condition_failure(exc: PynamoDBException) -> bool:
    return exc.cause_response_code == "ConditionalCheckFailedException"


def failed_items(exc: TransactWriteError) -> list[str | None]:
    """Cancellation codes in sent order (`ConditionalCheckFailed`, `TransactionConflict`, None)."""
    return [reason.code if reason else None for reason in exc.cancellation_reasons]


def is_transient(exc: TransactWriteError) -> bool:
    """Conflicts and throttling that real DynamoDB produces and a retry resolves."""
    transient = {
        "TransactionConflict",
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
    }
    codes = set(failed_items(exc)) if exc.cause_response_code == "TransactionCanceledException" else set()
    return bool(codes & transient) or exc.cause_response_code in {
        "TransactionConflictException",
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
    }
