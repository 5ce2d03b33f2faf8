"""`python -m intake sealing-key`: a private key fit for INTAKE_PRIVATE_KEY on standard output
alone (so that `$(...)` takes only it), its public key on standard error, new each time; a
submission sealed to that public key opens with that private key."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from intake.__main__ import cli
from shared.sealed import open_sealed, public_key_of, seal


def test_each_call_makes_a_new_pair_that_opens_what_is_sealed_to_it() -> None:
    made = [CliRunner().invoke(cli, ["sealing-key"]) for _ in range(2)]
    for result in made:
        assert result.exit_code == 0, result.output
    private = [r.stdout.strip() for r in made]
    assert private[0] != private[1]
    told = re.search(r"public key: (\S+)", made[0].stderr)
    assert told is not None
    assert told.group(1) == public_key_of(private[0])
    assert open_sealed(private[0], seal(told.group(1), b"sealed")) == b"sealed"
