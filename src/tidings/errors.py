"""One error hierarchy with stable codes.

A user-facing error names the input (file, line, URL) and the reason, and where it can,
suggests the fix. The CLI prints ``message``; ``--debug`` shows the traceback.
"""

from __future__ import annotations


class TidingsError(Exception):
    """Base class. ``code`` is stable across releases (documented in docs/errors.md)."""

    code = "T000"

    def __init__(self, message: str, *, source: str | None = None, hint: str | None = None):
        self.source = source
        self.reason = message
        self.hint = hint
        text = f"{source}: {message}" if source else message
        if hint:
            text += f" ({hint})"
        super().__init__(text)

    @property
    def message(self) -> str:
        return str(self)


class UsageError(TidingsError):
    """The command line itself is wrong: an unknown option, a missing argument, a bad value."""

    code = "T001"


class FileAccessError(TidingsError):
    """A file or directory named on the command line cannot be read or written (missing folder,
    no permission, a directory where a file is expected)."""

    code = "T002"


class InputError(TidingsError):
    """An input could not be read as an article (binary, empty, undecodable, malformed...)."""

    code = "T100"


class EmptyInput(InputError):
    code = "T101"


class BinaryInput(InputError):
    code = "T102"


class DecodeError(InputError):
    code = "T103"


class MalformedRecord(InputError):
    code = "T104"


class TooLarge(InputError):
    code = "T105"


class FetchError(InputError):
    """A URL or feed could not be fetched (unreachable, timeout, HTTP error, too many redirects)."""

    code = "T106"


class UnsupportedInput(InputError):
    code = "T107"


class BlockedAddress(FetchError):
    """A URL resolves (or redirects) to a loopback, private, link-local or cloud-metadata address,
    refused unless ``ingest.allow_private_addresses`` is true (tidings watch, ingest of URLs)."""

    code = "T108"


class RobotsDisallowed(FetchError):
    """robots.txt of the site does not allow tidings to fetch this URL."""

    code = "T109"


class NotFound(TidingsError):
    """An article, story or entity id that the store does not hold."""

    code = "T200"


class StoreError(TidingsError):
    """The store cannot be opened or is of a newer schema than this version understands."""

    code = "T300"


class NotAvailable(StoreError):
    """A feature the store's backend does not offer (yet): e.g. on PostgreSQL (docs/scaling.md)."""

    code = "T301"


class ConfigError(TidingsError):
    code = "T400"


class ProcessingError(InputError):
    """One document's processing failed unexpectedly (a bug or a pathological input); the batch
    goes on without it."""

    code = "T110"


class UnsafeInput(InputError):
    """An input that tries something a reader refuses to do (an XML feed declaring its own entities)."""

    code = "T111"
