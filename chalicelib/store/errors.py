"""DynamoDB failures translated once into named conditions."""

from pynamodb.exceptions import PynamoDBException, TransactWriteError

from chalicelib.domain.errors import BadRequest, DomainError, PayloadTooLarge


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


def refused_request(exc: Exception) -> DomainError | None:
    """DynamoDB's `ValidationException` (an item over 400 KB, a key over 2,048 bytes) as the caller's 4xx,
    naming the limit: a retry could never succeed, so it is no server fault."""
    if not isinstance(exc, PynamoDBException) or exc.cause_response_code != "ValidationException":
        return None
    message = exc.cause_response_message or "the request is over a DynamoDB limit"
    if "size" in message.lower():
        return PayloadTooLarge(f"Request is over DynamoDB's 400 KB item size limit: {message}")
    return BadRequest(f"Request is over a DynamoDB limit (keys up to 2,048 bytes): {message}")
