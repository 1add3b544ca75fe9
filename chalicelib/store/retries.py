"""The retry budget of a write, stated once: three stacked layers, each for a different failure.

1. `SEND_RETRIES` (3): botocore resends one request after a throttle, a 5xx or a dropped connection
   (pynamodb's `max_retry_attempts`, set in `store/tables.py` Meta; legacy mode, exponential backoff).
   It never resends a cancelled transaction: a cancellation is an answer, not a transport failure.
2. `COMMIT_ATTEMPTS` (5): `Tx.commit` sends the transaction again, with a new `ClientRequestToken` and
   jitter (under 0.2 s in all), when real DynamoDB cancels it for `TransactionConflict` or throttling of an
   item; no condition failed, so the same writes are still right.
3. `DISPATCH_ATTEMPTS` (10): `start_run` reads the routine again and decides again when its condition
   failed (another firing or a close changed the open issues) or contention outlasted layer 2.

Worst case for one firing: 10 decisions x 5 commits x 4 sends = 200 `TransactWriteItems` requests (plus a
routine read per decision); in practice it is one. A tick that still fails counts the trigger as an error and
leaves it due, so the next tick (or an SQS redelivery) tries again; slot claims keep that exactly once.

This module imports nothing, so the model configuration can import it too.
"""

SEND_RETRIES = 3
COMMIT_ATTEMPTS = 5
DISPATCH_ATTEMPTS = 10
REVISION_ATTEMPTS = 5
"""Layer 3 for configuration changes: a trigger change (or a PATCH without `baseRevisionId`) reads the routine
again and records its revision again when another change appended one first."""
