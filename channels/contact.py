"""Citizens' contact details as every channel stores them: phones in E.164, emails with a lower-case domain."""

from __future__ import annotations

import re
from typing import Annotated

import phonenumbers
from pydantic import AfterValidator, Field

from channels.base import SenderIdentity

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Vietnamese mobile numbers (10 digits, prefixes 03, 05, 07, 08, 09) are most of what citizens type;
# they skip the general parser. Everything else goes through phonenumbers.
VN_MOBILE = re.compile(r"^(?:\+?84|0)([35789]\d{8})$")
PHONE_SEPARATORS = re.compile(r"[\s.\-()]")


def normalise_phone(value: str) -> str:
    """A phone number in E.164, Vietnamese numbers by default; ValueError when it is not one."""
    fast = VN_MOBILE.match(PHONE_SEPARATORS.sub("", value))
    if fast:
        return "+84" + fast.group(1)
    try:
        number = phonenumbers.parse(value, "VN")
    except phonenumbers.NumberParseException:
        raise ValueError("not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(value: str) -> str:
    """An email address with its domain in lower case; ValueError when it is not one."""
    if not EMAIL.match(value):
        raise ValueError("not an email address")
    local, _, domain = value.partition("@")
    return f"{local}@{domain.lower()}"


# Field types for the pydantic models of every channel that takes contact details.
PhoneNumber = Annotated[str, Field(max_length=40), AfterValidator(normalise_phone)]
EmailAddress = Annotated[str, Field(max_length=254), AfterValidator(normalise_email)]


def identities(phone: str | None, email: str | None) -> list[SenderIdentity]:
    """The ways to recognise and reach a sender, phone first."""
    found = []
    if phone:
        found.append(SenderIdentity("phone", phone))
    if email:
        found.append(SenderIdentity("email", email))
    return found
