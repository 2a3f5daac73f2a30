"""User service: creates accounts and validates input (no real data in here)."""

import re
from dataclasses import dataclass

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.IGNORECASE)


@dataclass
class User:
    user_id: int
    display_name: str
    email: str
    phone_number: str | None = None
    date_of_birth: str | None = None


def is_valid_email(email: str) -> bool:
    return bool(EMAIL_PATTERN.match(email))


def create_user(user_id: int, display_name: str, email: str) -> User:
    if not is_valid_email(email):
        raise ValueError("invalid email address")
    return User(user_id=user_id, display_name=display_name.strip(), email=email.lower())
