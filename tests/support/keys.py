"""One key pair per run: intake opens self-referrals sealed to its public half."""

from __future__ import annotations

from shared.sealed import generate_keypair

INTAKE_PRIVATE_KEY, INTAKE_PUBLIC_KEY = generate_keypair()
