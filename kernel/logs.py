"""Log records without personal data, whatever logger made them: the last line of defence.

Our code logs ids, never content. What it cannot vouch for are exception messages and reprs (aiohttp's
InvalidHeader and the multipart reader's "Invalid boundary" quote the line they choked on, a pydantic
error its input, a PostgreSQL error the value it refused) and libraries that log what they were sent.
So every record is scrubbed as it is made:
- an exception given as an argument is logged as its type name;
- a traceback keeps its frames and exception types (and SQLSTATE), never the messages;
- phone numbers and email addresses left in the message are masked (kernel.privacy).
`install` puts this in the log record factory, so it holds for every logger (aiohttp's and asyncio's
included) and every handler, those added later too; the app factory and the CLI call it.
"""

from __future__ import annotations

import logging
import traceback
import warnings
from collections.abc import Mapping
from typing import Any

from kernel.privacy import mask_contacts

_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"


def exception_name(error: BaseException) -> str:
    """The exception's qualified type, with its SQLSTATE when it is a database error: never its message."""
    kind = type(error)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    sqlstate = getattr(error, "sqlstate", None)
    return f"{name} (SQLSTATE {sqlstate})" if isinstance(sqlstate, str) else name


def exception_summary(error: BaseException) -> str:
    """A traceback as Python prints it, each exception shown by its type alone (messages carry request content)."""
    chain: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if current.__cause__ is not None:
            chain.append((current, _CAUSE))
            current = current.__cause__
        elif current.__context__ is not None and not current.__suppress_context__:
            chain.append((current, _CONTEXT))
            current = current.__context__
        else:
            chain.append((current, ""))
            current = None
    parts: list[str] = []
    for exc, joint in reversed(chain):
        if parts:
            parts.append(joint)
        if exc.__traceback__ is not None:
            parts.append("Traceback (most recent call last):\n")
            parts.extend(traceback.format_list(traceback.extract_tb(exc.__traceback__)))
        parts.append(exception_name(exc) + "\n")
        if isinstance(exc, BaseExceptionGroup):
            for i, inner in enumerate(exc.exceptions, 1):
                nested = exception_summary(inner).rstrip("\n").replace("\n", "\n    ")
                parts.append(f"  +-- {i}: {nested}\n")
    return "".join(parts).rstrip("\n")


def _plain(value: Any) -> Any:
    return exception_name(value) if isinstance(value, BaseException) else value


def scrub(record: logging.LogRecord) -> None:
    """Take what may be personal data out of a record, in place (see the module docstring)."""
    if isinstance(record.msg, BaseException):
        record.msg = exception_name(record.msg)
    args = record.args
    if isinstance(args, tuple) and any(isinstance(a, BaseException) for a in args):
        record.args = tuple(_plain(a) for a in args)
    elif isinstance(args, Mapping) and any(isinstance(a, BaseException) for a in args.values()):
        record.args = {k: _plain(v) for k, v in args.items()}
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: logging reports it when a handler formats the record
        message = None
    if message is not None:
        masked = mask_contacts(message)
        if masked != message:
            record.msg, record.args = masked, ()
    if record.exc_info:
        error = record.exc_info[1]
        if error is not None:
            record.exc_text = mask_contacts(exception_summary(error))
        record.exc_info = None  # so that no formatter renders the messages after all
    elif record.exc_text:
        record.exc_text = mask_contacts(record.exc_text)


class PersonalDataFilter(logging.Filter):
    """`scrub` as a logging filter, for a handler that should scrub records made before `install`."""

    def filter(self, record: logging.LogRecord) -> bool:
        scrub(record)
        return True


def install() -> None:
    """Scrub every log record as it is made, for every logger and handler; calling it again changes nothing."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "scrubs_personal_data", False):
        return

    def scrubbing_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        scrub(record)
        return record

    scrubbing_factory.scrubs_personal_data = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(scrubbing_factory)
    # Provider libraries that log every request at INFO (twilio: a dozen lines per SMS) say only problems.
    for chatty in QUIET_LIBRARIES:
        logging.getLogger(chatty).setLevel(logging.WARNING)


QUIET_LIBRARIES = ("twilio", "httpx", "telegram.ext", "aiosmtpd", "mail.log")


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    logging.getLogger("py.warnings").warning("%s at %s:%s", category.__name__, filename, lineno)


def log_warnings() -> None:
    """Log warnings by category and place only: aiohttp's BadContentDispositionHeader quotes the header it got.

    For a process's entry point (the CLI): it replaces warnings.showwarning, which test runners own.
    """
    warnings.showwarning = _show_warning
