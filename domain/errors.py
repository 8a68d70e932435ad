"""Named domain errors. Each says what is wrong in words a client can show.

`kind` groups them for translation at the edges (HTTP status, CLI exit code)
so that the edges need no list of every error class.
"""


class DomainError(Exception):
    kind = "conflict"

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    """A value breaks a rule of the domain (empty text, control characters...)."""

    kind = "invalid"


class TextEmpty(InvalidInput):
    pass


class TextTooLong(InvalidInput):
    pass


class ControlCharacters(InvalidInput):
    pass


class NameInvalid(InvalidInput):
    pass


class NotFound(DomainError):
    kind = "not_found"


class ThreadNotFound(NotFound):
    pass


class CommentNotFound(NotFound):
    pass


class AuthorNotFound(NotFound):
    pass


class ParentNotFound(InvalidInput):
    """A reply names a parent that does not exist in the same thread."""


class ThreadLocked(DomainError):
    pass


class CommentRetracted(DomainError):
    pass


class CommentHidden(DomainError):
    pass


class CommentErased(DomainError):
    pass


class RevisionNotFound(NotFound):
    pass


class InvalidTransition(DomainError):
    """E.g. restoring a comment that is not hidden, unlocking an open thread."""


class ThreadKeyTaken(DomainError):
    pass


class PermissionDenied(DomainError):
    kind = "forbidden"


class NotAuthenticated(DomainError):
    kind = "unauthenticated"


class VersionConflict(DomainError):
    """The expected version is no longer current (optimistic concurrency)."""

    kind = "version_conflict"

    def __init__(self, message: str, current_version: int | None = None):
        super().__init__(message)
        self.current_version = current_version


class NotPending(DomainError):
    """Approving or rejecting what is not awaiting review (issue 13)."""


class AwaitingReview(DomainError):
    """The comment is held for review: it cannot be replied to yet."""


class CommentRejected(DomainError):
    """The comment was rejected by a moderator: it cannot be changed."""


class Refused(InvalidInput):
    """A moderation rule refused the text (domain/moderation_rules.py); `rule` names it."""

    def __init__(self, message: str, rule: str, field: str | None = "text"):
        super().__init__(message, field=field)
        self.rule = rule
