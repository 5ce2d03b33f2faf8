"""`python -m notifier`: run the notifier service, print a clinic's webhook secret, show what is
held back, or reopen a dead-lettered decision's failed messages before its replay."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar
from uuid import UUID

import asyncpg
import typer

from notifier.adapters import notification_store, provider_budget
from notifier.adapters.bars_provider import endpoint_secret
from notifier.adapters.provider_budget import WINDOW_SECONDS, WINDOWS_PER_MINUTE_AT_MOST
from notifier.adapters.webhook_provider import clinic_secret
from notifier.main import MIGRATIONS, create_service
from notifier.settings import NotifierDatabaseSettings, NotifierSettings
from shared.database import run_on_database
from shared.runner import service_cli

T = TypeVar("T")

cli = service_cli(
    "notifier",
    NotifierSettings,
    create_service,
    lambda settings: settings.http_port,
    database=NotifierDatabaseSettings,
    migrations=MIGRATIONS,
)

_WHY_WAITING = {
    ("pending", None): "not yet claimed",
    ("sending", True): "being sent, or leased by a process that may have stalled",
    ("sending", False): "lease ended: the next notifier reconciles and sends them",
}


@cli.command("webhook-secret")
def webhook_secret(site: str) -> None:
    """The secret a clinic (directory site id) uses to verify our webhook signatures."""
    master = NotifierSettings().webhook_secret.get_secret_value().encode()
    typer.echo(clinic_secret(master, site).decode())


@cli.command("bars-secret")
def bars_secret(url: str) -> None:
    """The secret a BaRS sender uses to verify our messages to its endpoint (as registered
    with `python -m intake endpoints set`)."""
    master = NotifierSettings().webhook_secret.get_secret_value().encode()
    typer.echo(endpoint_secret(master, url).decode())


@cli.command()
def held() -> None:
    """What the notifier holds back and why: leased messages, Notify's minute and day."""
    settings = NotifierDatabaseSettings()

    async def read(
        pool: asyncpg.Pool,
    ) -> tuple[list[notification_store.Waiting], dict[str, int]]:
        async with pool.acquire() as conn:
            return await notification_store.waiting(conn), await provider_budget.used_now(conn)

    waiting, used = _with_database(read)
    for group in waiting:
        why = _WHY_WAITING.get((group.status, group.leased), group.status)
        typer.echo(f"{group.count:>7}  {group.status:<8} {why}")
    if not waiting:
        typer.echo("      0  messages waiting")
    cap = max(1, settings.notify_per_minute // WINDOWS_PER_MINUTE_AT_MOST)
    typer.echo(
        f"this {WINDOW_SECONDS} s window: {used.get('notify-minute', 0)} of {cap} Notify messages"
    )
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d 00:00 UTC")
    for channel, limit in settings.notify_per_day.items():
        today = used.get(f"notify-day:{channel}", 0)
        state = f"held until {tomorrow}" if today >= limit else "sending"
        typer.echo(f"today {channel:<6} {today:>7} of {limit:<7} {state}")


@cli.command()
def reopen(decision_event_id: UUID) -> None:
    """Make a decision's failed messages pending again and forget it was handled, so that its
    event, sent again, tries them again; messages already sent stay sent. (A replay from the
    dead letters does this itself.)"""

    async def run(pool: asyncpg.Pool) -> int:
        async with pool.acquire() as conn:
            return await notification_store.reopen_failed(conn, [decision_event_id])

    count = _with_database(run)
    typer.echo(f"{count} failed message(s) of decision {decision_event_id} reopened")


def _with_database(action: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
    """Run `action` on the notifier's schema (migrations applied first)."""
    settings = NotifierDatabaseSettings()
    return run_on_database(str(settings.database_url), settings.db_schema, MIGRATIONS, action)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
