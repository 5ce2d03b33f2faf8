"""`python -m intake`: run the intake service, manage API keys, list overdue referrals,
erase a referral's details on request."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar, get_args

import asyncpg
import typer

from intake import views
from intake.adapters import api_keys, audit_log, bars_endpoints
from intake.adapters.api_keys import Scope
from intake.adapters.referral_store import PostgresReferrals
from intake.main import MIGRATIONS, create_service
from intake.ports import AuditEntry
from intake.service_layer.lifecycle import NotFound
from intake.service_layer.retention import Erased, StillActive, erase_on_request
from intake.settings import IntakeDatabaseSettings, IntakeSettings
from shared.database import Connection, run_on_database
from shared.operators import UnknownOperator, operator
from shared.runner import service_cli
from shared.sealed import generate_keypair

T = TypeVar("T")

cli = service_cli(
    "intake",
    IntakeSettings,
    create_service,
    lambda settings: settings.http_port,
    database=IntakeDatabaseSettings,
    migrations=MIGRATIONS,
)
keys = typer.Typer(help="API keys for professional systems (one per organisation).")
cli.add_typer(keys, name="keys")
endpoints = typer.Typer(
    help="Where organisations that send BaRS messages hear back (their $process-message)."
)
cli.add_typer(endpoints, name="endpoints")


def _with_database(action: Callable[[Connection], Awaitable[T]]) -> T:
    """Run `action` on intake's schema; the key commands need only DATABASE_URL and
    INTAKE_DB_SCHEMA."""
    settings = IntakeDatabaseSettings()

    async def on_pool(pool: asyncpg.Pool) -> T:
        async with pool.acquire() as conn:
            return await action(conn)

    return run_on_database(str(settings.database_url), settings.db_schema, MIGRATIONS, on_pool)


@keys.command("create")
def create_key(
    organisation: Annotated[str, typer.Option(help="The organisation's ODS code.")],
    label: Annotated[str, typer.Option(help="Which system uses it, for your records.")] = "",
    scope: Annotated[
        str,
        typer.Option(
            help="'referrer' (GP systems), 'clinic' (organisation = site id), 'triage' "
            "(organisation = the team's name) or 'notifier'."
        ),
    ] = "referrer",
) -> None:
    """Create a key and print it once; only its hash is stored."""
    if scope not in get_args(Scope):
        raise typer.BadParameter("scope is 'referrer', 'clinic', 'triage' or 'notifier'")
    key_id, secret = _with_database(
        lambda conn: api_keys.create(conn, organisation, scope, label)  # type: ignore[arg-type]
    )
    typer.echo(f"key id: {key_id}", err=True)
    typer.echo(secret)


@cli.command("sealing-key")
def sealing_key() -> None:
    """A new key pair for sealed self-referrals: the private key on standard output (for
    INTAKE_PRIVATE_KEY, into your secret store), its public key on standard error (what
    other organisations' forms seal to; intake also serves it at /v1/self-referral-key)."""
    private, public = generate_keypair()
    typer.echo(f"public key: {public}", err=True)
    typer.echo(private)


@keys.command("generate")
def generate_key() -> None:
    """Print a new key without storing it: for a secret store, from which a deployment gives
    it to the system that presents it and to `keys register`."""
    typer.echo(api_keys.generate()[1])


@keys.command("register")
def register_key(
    organisation: Annotated[str, typer.Option(help="The organisation's ODS code.")],
    key_env: Annotated[
        str, typer.Option(help="The environment variable holding the key (never an argument).")
    ],
    label: Annotated[str, typer.Option(help="Which system uses it, for your records.")] = "",
    scope: Annotated[
        str, typer.Option(help="'referrer', 'clinic', 'triage' or 'notifier'.")
    ] = "referrer",
) -> None:
    """Store a key made with `keys generate`; does nothing if it is already stored."""
    if scope not in get_args(Scope):
        raise typer.BadParameter("scope is 'referrer', 'clinic', 'triage' or 'notifier'")
    secret = os.environ.get(key_env, "")
    if not secret:
        raise typer.BadParameter(f"{key_env} is not set", param_hint="--key-env")
    try:
        added = _with_database(
            lambda conn: api_keys.register(conn, secret, organisation, scope, label)  # type: ignore[arg-type]
        )
    except ValueError as error:
        typer.echo(f"{key_env}: {error}", err=True)
        raise typer.Exit(1) from error
    typer.echo("registered" if added else "already registered")


@keys.command("revoke")
def revoke_key(key_id: str) -> None:
    """Revoke a key at once; requests with it are refused from now on."""
    if not _with_database(lambda conn: api_keys.revoke(conn, key_id)):
        typer.echo(f"no active key {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")


@keys.command("list")
def list_keys() -> None:
    """Every key, without the keys themselves."""
    for record in _with_database(api_keys.list_keys):
        state = f"revoked {record.revoked_at:%Y-%m-%d}" if record.revoked_at else "active"
        typer.echo(
            f"{record.key_id}  {record.organisation_code:<10} {record.scope:<9} {state:<18}"
            f" {record.label}"
        )


@endpoints.command("set")
def set_endpoint(
    organisation: Annotated[str, typer.Option(help="The organisation's ODS code.")],
    url: Annotated[str, typer.Option(help="Its $process-message URL (https).")],
) -> None:
    """Register (or replace) where an organisation's BaRS referrals send their news."""
    try:
        bars_endpoints.checked(url)
    except bars_endpoints.NotAnEndpoint as error:
        raise typer.BadParameter(str(error)) from error
    _with_database(lambda conn: bars_endpoints.register(conn, organisation, url))
    typer.echo(f"endpoint set for {organisation.strip().upper()}")


@endpoints.command("list")
def list_endpoints() -> None:
    """Each organisation's endpoint."""
    for found in _with_database(bars_endpoints.listed):
        typer.echo(f"{found.organisation_code}  {found.url}  {found.registered_at:%Y-%m-%d}")


@endpoints.command("remove")
def remove_endpoint(
    organisation: Annotated[str, typer.Option(help="The organisation's ODS code.")],
) -> None:
    """Stop sending an organisation's news to its endpoint."""
    if not _with_database(lambda conn: bars_endpoints.remove(conn, organisation)):
        typer.echo("no endpoint for that organisation", err=True)
        raise typer.Exit(1)
    typer.echo(f"endpoint removed for {organisation.strip().upper()}")


@cli.command()
def overdue() -> None:
    """Referrals a broken promise made overdue and still waiting, the longest first."""
    found = _with_database(views.overdue)
    for item in found:
        where = item.site or "triage"
        typer.echo(
            f"{item.overdue_since:%Y-%m-%d %H:%M}  {item.tracking_reference}  {item.service:<20}"
            f" {where:<22} {item.status.value:<14} broken: {', '.join(item.clocks)}"
        )
    typer.echo(f"{len(found)} overdue")


@cli.command()
def audit(
    reference: Annotated[
        str | None, typer.Argument(help="One referral's id or tracking reference.")
    ] = None,
) -> None:
    """The audit trail: each action a person took on a referral, and each operator's."""
    found = _with_database(lambda conn: views.audit_trail(conn, reference))
    for item in found:
        who = f"{item.actor_name} ({item.actor})" if item.actor_name else item.actor
        typer.echo(
            f"{item.at:%Y-%m-%d %H:%M:%S}  {item.tracking_reference or '-':<16} "
            f"{item.action:<20} by {who}{': ' + item.reason if item.reason else ''}"
        )
    typer.echo(f"{len(found)} audited")


def in_audit_log(entry: AuditEntry) -> None:
    """Record an operator's action in intake's audit log (the `referrals` commands' too)."""
    _with_database(lambda conn: audit_log.record(conn, [entry]))


@cli.command()
def erase(
    reference: Annotated[str, typer.Argument(help="The referral's id or tracking reference.")],
    reason: Annotated[str, typer.Option(help="Why (recorded in the audit log).")],
    by: Annotated[
        str | None,
        typer.Option(help="The operator (default: the account this runs under); audited."),
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Erase a referral still active (the reason must say why).")
    ] = False,
) -> None:
    """Erase one referral's patient details on request, recorded in the audit log; refused
    while the referral is still active unless --force."""
    settings = IntakeDatabaseSettings()
    try:
        who = operator(by)
    except UnknownOperator as unknown:
        typer.echo(str(unknown), err=True)
        raise typer.Exit(2) from None

    async def on_pool(pool: asyncpg.Pool) -> Erased:
        return await erase_on_request(
            lambda: PostgresReferrals(pool), reference, by=who, reason=reason,
            now=datetime.now(UTC), force=force,
        )  # fmt: skip

    try:
        erased = run_on_database(
            str(settings.database_url), settings.db_schema, MIGRATIONS, on_pool
        )
    except NotFound:
        typer.echo("no such referral", err=True)
        raise typer.Exit(1) from None
    except StillActive as active:
        typer.echo(f"refused: {active}; its details may still be needed (--force)", err=True)
        raise typer.Exit(1) from None
    except ValueError as bad:
        typer.echo(str(bad), err=True)
        raise typer.Exit(2) from None
    if erased.already:
        typer.echo(f"{erased.tracking_reference}: its details were already erased")
    else:
        typer.echo(f"{erased.tracking_reference}: details erased ({erased.state.value})")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
