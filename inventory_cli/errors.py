"""The core's exception types.

The core raises these; the CLI turns each kind into one line on stderr and an
exit status in one place (``inventory_cli.cli.app``). A failed check (bad
signature, invalid payload) is not an exception: it is a verdict.
"""

from __future__ import annotations

from collections.abc import Iterable


class InvwhError(Exception):
    """Base class for every error the core raises on purpose."""


class InputError(InvwhError):
    """The user's input cannot be used: unreadable file, bad option value."""


class MissingSecretError(InputError):
    """No secret was given by any of the supported ways."""


class UnknownSchemeError(InputError):
    """A scheme name that is neither built in nor configured, or a scheme defined wrongly."""


class SchemeDefinitionError(UnknownSchemeError):
    """A scheme whose fields do not make a usable scheme; ``field`` names the field at fault."""

    def __init__(self, scheme: str, field: str, problem: str) -> None:
        super().__init__(f"scheme {scheme!r}: {field} {problem}")
        self.field = field
        self.problem = problem


class ExistingFilesError(InputError):
    """Files that would be overwritten hold other content (someone's edits); ``paths`` names them.
    The CLI adds how to overwrite them anyway."""

    def __init__(self, message: str, paths: list[str]) -> None:
        super().__init__(message)
        self.paths = paths


class UnknownCaseError(InputError):
    """A ``check`` case id that no case has. The CLI adds how to list them."""


class ConfigError(InputError):
    """A config file (``invwh.toml``, ``[tool.invwh]``) that cannot be used; the message names the file."""


class InvalidPayloadError(InvwhError):
    """A payload to be sent is not a valid inventory event: a failed check (exit 1), not a usage error.

    ``details`` are its problems, one line each, said indented under the message.
    """

    def __init__(self, message: str, details: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.details = tuple(details)


class DeliveryError(InvwhError):
    """A request could not be delivered: refused, DNS, TLS, timeout."""

    def __init__(self, url: str, cause: str) -> None:
        super().__init__(f"could not deliver to {url}: {cause}")
        self.url = url
        self.cause = cause
