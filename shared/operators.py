"""Who runs an operator's command: named explicitly (`--by`), or the account the command runs
under; either way checked to look like an account name, and recorded in intake's audit log
with what was done."""

from __future__ import annotations

import getpass
import re

ACCOUNT = re.compile(r"^[A-Za-z][A-Za-z0-9._@-]{1,63}$")


class UnknownOperator(ValueError):
    pass


def operator(explicit: str | None = None) -> str:
    name = (explicit or "").strip() or getpass.getuser()
    if not ACCOUNT.fullmatch(name):
        raise UnknownOperator(f"{name!r} is not an operator's account name")
    return name
