"""A sign-in that failed, as one line that says what to do; the SDK's own account of it
(each credential's reason, what azure-identity logs) only under ``-v``.

azure-identity raises :class:`~azure.core.exceptions.ClientAuthenticationError` with a text of
many lines (a chain lists every credential it tried), and logs the same as warnings through
``logging``, which with no handler configured Python prints raw on standard error: a failed
sign-in came out as fourteen lines.
"""

from __future__ import annotations

import logging
import re
import sys
from dataclasses import dataclass

from policyengine.sources.azure.auth import TOKEN_ENV

#: What the SDK's credentials say when they did not try (nothing configured, a tool not
#: installed), as opposed to having tried and been refused.
_UNAVAILABLE = re.compile(r"unavailable|not (found|installed|configured)|could not be found|requires the "
                          r"|is required|no accounts were found", re.IGNORECASE)
CLIENT_VARS = "AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET"
#: What to do, by the credential that failed.
HINTS = {
    "DefaultAzureCredential": f"run 'az login', or set {CLIENT_VARS}",
    "EnvironmentCredential": f"check {CLIENT_VARS} (the secret's value, not its id)",
    "AzureCliCredential": "run 'az login'",
    "ManagedIdentityCredential": "run where a managed identity is assigned, or choose another --auth",
    "DeviceCodeCredential": "sign in with the code when asked, or choose another --auth",
    TOKEN_ENV: f"put a fresh token in {TOKEN_ENV} (az account get-access-token), or unset it to sign in "
               "with --auth",
}
GENERIC_HINT = "run 'az login' (or choose a credential with --auth), or put a token in " + TOKEN_ENV


@dataclass(frozen=True)
class Attempt:
    """One credential of a chain, and what it said."""

    name: str
    reason: str

    @property
    def tried(self) -> bool:
        """Whether it tried and was refused (rather than had nothing to try with)."""
        return _UNAVAILABLE.search(self.reason) is None


def attempts(message: str) -> list[Attempt]:
    """The credentials a chain (DefaultAzureCredential) tried, from its error message: one
    ``\\tName: reason`` line each after ``Attempted credentials:`` (azure-identity's format;
    none if the message is not a chain's)."""
    lines = message.splitlines()
    if "Attempted credentials:" not in lines:
        return []
    found = []
    for line in lines[lines.index("Attempted credentials:") + 1:]:
        if not line.startswith("\t"):
            continue  # a reason's own further lines, or the closing advice
        name, _, reason = line.strip().partition(": ")
        found.append(Attempt(name, reason))
    return found


def sign_in_reason(exc: BaseException) -> str:
    """What went wrong, in one line: for a chain, which credential was refused and why (or
    that none could try); for one credential, the first sentence of its reason."""
    message = str(getattr(exc, "message", None) or exc).strip()
    chain = attempts(message)
    if chain:
        refused = [a for a in chain if a.tried]
        return f"{refused[-1].name}: {_first_sentence(refused[-1].reason)}" if refused else \
            "no credential available"
    return _first_sentence(message) or type(exc).__name__


def sign_in_failure(exc: BaseException, credential: str, *, verbose: bool) -> str:
    """The message for a sign-in that failed: one line, the SDK's detail left to ``-v``."""
    chain = attempts(str(getattr(exc, "message", None) or exc))
    reason = sign_in_reason(exc)
    hint = HINTS.get(credential, GENERIC_HINT)
    refused = [a for a in chain if a.tried]
    if refused:  # one credential of the chain tried: the advice is its own
        hint = HINTS.get(refused[-1].name, GENERIC_HINT)
    elif credential == "EnvironmentCredential" and not Attempt(credential, reason).tried:
        hint = f"set {CLIENT_VARS}, or choose another --auth"
    more = ""
    if chain:
        more = "; -v shows each credential's reason"
    elif reason != str(getattr(exc, "message", None) or exc).strip():
        more = "; -v shows the SDK's detail"
    return f"cannot sign in to Azure ({credential}): {reason} — {hint}{'' if verbose else more}"


_PREFIXES = re.compile(r"^(?:[\w.]+\.get_token(?:_info)? failed: )?(?:Authentication failed: )?")


def _first_sentence(text: str) -> str:
    """The first line of ``text`` up to its first full stop, without the SDK's repeated
    prefixes ("ClientSecretCredential.get_token failed: Authentication failed: ")."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    line = _PREFIXES.sub("", line)
    stop = line.find(". ")
    return line[:stop + 1] if stop > 0 else line


# -- the SDK's logging ---------------------------------------------------------------------------

class _SdkLog(logging.Handler):
    """The SDK's log records on standard error (as it is when they come: tests swap it), one
    line each, with the logger's name, and nothing the terminal would take as a command."""

    def emit(self, record: logging.LogRecord) -> None:
        from policyengine.reports.common import terminal

        try:
            # Its tabs and CRLF line ends (Entra ID's error descriptions) as plain lines.
            message = record.getMessage().replace("\r\n", "\n").replace("\t", "    ")
            sys.stderr.write(terminal(f"policyengine: {record.name}: {message}") + "\n")
        except (TypeError, ValueError, OSError):  # a record whose arguments do not format
            self.handleError(record)


_HANDLER = _SdkLog()


def route_sdk_logs(verbose: bool) -> None:
    """The SDK's log records (``azure.*``, ``msal``) to one handler of ours, which shows
    warnings with ``-v`` and nothing without (Python's last-resort handler is then never
    used); the error that stops the scan is one line either way (:func:`sign_in_failure`)."""
    level = logging.WARNING if verbose else logging.CRITICAL + 1
    _HANDLER.setLevel(level)
    for name in ("azure", "msal"):
        logger = logging.getLogger(name)
        if _HANDLER not in logger.handlers:
            logger.addHandler(_HANDLER)
        logger.setLevel(level)
