"""`python -m router`: run the router service, explain a decision, or resolve triage."""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, TypeVar
from uuid import UUID

import asyncpg
import typer
from pydantic import ValidationError

from router import service_layer
from router.adapters.decision_store import PostgresDecisions
from router.domain.rules import decide
from router.domain.triage import TriageError
from router.main import MIGRATIONS, create_service
from router.ports import PendingTriage
from router.settings import RouterDatabaseSettings, RouterSettings
from shared.clock import today
from shared.database import run_on_database
from shared.directory import Directory, DirectoryError, load_directory
from shared.operators import UnknownOperator, operator
from shared.reduction import for_routing
from shared.runner import service_cli
from shared.submission import ReferralSubmission, field_errors

T = TypeVar("T")

cli = service_cli(
    "router",
    RouterSettings,
    create_service,
    lambda settings: settings.http_port,
    database=RouterDatabaseSettings,
    migrations=MIGRATIONS,
)
triage = typer.Typer(help="Referrals the rules could not decide: list them, resolve one.")
cli.add_typer(triage, name="triage")


@cli.command()
def explain(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Decide as on this date (YYYY-MM-DD).")
    ] = None,
) -> None:
    """Read one v1 referral submission on standard input; print the routing decision.

    Exit 0 whatever the outcome; exit 2 with the field errors when the submission is invalid.
    """
    on = date.fromisoformat(as_of) if as_of else today()
    directory = _directory()
    try:
        submission = ReferralSubmission.model_validate_json(
            sys.stdin.buffer.read(), context={"today": on}
        )
    except ValidationError as error:
        typer.echo(json.dumps({"errors": field_errors(error)}, indent=2), err=True)
        raise typer.Exit(2) from error
    received = for_routing(
        submission,
        referral_id=UUID(int=0),
        tracking_reference="explain",
        correlation_id="explain",
        today=on,
    )
    typer.echo(decide(received, directory, on).model_dump_json(indent=2))


@triage.command("list")
def triage_list() -> None:
    """Referrals awaiting a person's decision, oldest first."""

    async def awaiting(pool: asyncpg.Pool) -> list[PendingTriage]:
        return await service_layer.pending_triage(lambda: PostgresDecisions(pool))

    pending = _with_database(awaiting)
    if not pending:
        typer.echo("nothing awaits triage")
    for item in pending:
        why = "; ".join(reason.message for reason in item.reasons)
        typer.echo(
            f"{item.referral_id}  {item.tracking_reference}  {item.service:<18}"
            f" since {item.since:%Y-%m-%d %H:%M}  {why}"
        )


@triage.command("resolve")
def triage_resolve(
    referral_id: UUID,
    reason: Annotated[
        str, typer.Option("--reason", help="Why, in plain words (no patient details).")
    ],
    by: Annotated[
        str | None,
        typer.Option(
            "--by", help="Your account (default: the one this runs under); in the audit trail."
        ),
    ] = None,
    route_to: Annotated[
        str | None, typer.Option("--route-to", help="A site id of the referral's service.")
    ] = None,
    reject: Annotated[bool, typer.Option("--reject", help="Return it to the referrer.")] = False,
    signpost: Annotated[
        list[str] | None, typer.Option("--signpost", help="The right route (for --reject).")
    ] = None,
) -> None:
    """Route a referral that needs triage to a site, or reject it; published like any other
    decision (by the running router's outbox relay)."""
    if (route_to is None) == (not reject):
        typer.echo("choose one: --route-to SITE or --reject", err=True)
        raise typer.Exit(2)
    try:
        who = operator(by)
    except UnknownOperator as unknown:
        typer.echo(f"router: {unknown}", err=True)
        raise typer.Exit(2) from None
    directory = _directory()

    async def resolve(pool: asyncpg.Pool) -> str:
        event = await service_layer.resolve_triage(
            lambda: PostgresDecisions(pool),
            referral_id,
            directory,
            route_to=route_to,
            decided_by=who,
            reason=reason,
            signposting=tuple(signpost or ()),
        )
        assert event is not None  # asked once, by this command
        where = f" to {event.destination.name}" if event.destination else ""
        return f"{event.tracking_reference}: {event.outcome.value}{where}"

    try:
        typer.echo(_with_database(resolve))
    except TriageError as error:
        typer.echo(f"router: {error}", err=True)
        raise typer.Exit(1) from error


def _directory() -> Directory:
    try:
        return load_directory(RouterDatabaseSettings().directory)
    except DirectoryError as error:
        typer.echo(f"router: {error}", err=True)
        raise typer.Exit(2) from error


def _with_database(action: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
    """Run `action` on the router's schema (migrations applied first)."""
    settings = RouterDatabaseSettings()
    return run_on_database(str(settings.database_url), settings.db_schema, MIGRATIONS, action)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
