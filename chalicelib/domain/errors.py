"""The domain's error tree; `api.errors` maps each branch to one HTTP status."""


class DomainError(Exception):
    """Base of the errors the API maps to HTTP statuses."""

    def __init__(self, message: str, details: object | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class BadRequest(DomainError):
    """The request is malformed (400)."""


class Unauthorized(DomainError):
    """Missing or unknown credentials (401)."""


class Forbidden(DomainError):
    """The caller may not do this (403)."""


class NotFound(DomainError):
    """No such thing, or a malformed id (404)."""


class Conflict(DomainError):
    """The current state forbids this (409)."""


class PayloadTooLarge(DomainError):
    """The body is over the size limit (413)."""


class UnsupportedMediaType(DomainError):
    """The body is not JSON (415)."""


class Invalid(DomainError):
    """A semantic error in the request (422)."""


class RateLimited(DomainError):
    """Too many requests (429)."""

    def __init__(self, message: str, retry_after: int, limit: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.limit = limit
