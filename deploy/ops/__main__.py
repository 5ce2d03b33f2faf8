"""`referrals`: watch and mend the pipeline (topics, tail, show, held, overdue, erase, audit,
dlq, triage).

Reads the same environment as the services: KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL,
KAFKA_TOPIC_PREFIX and the services' *_DB_SCHEMA. Topics hold no patient identifiers, so
everything this prints is safe to show.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

import typer

from intake.__main__ import audit, erase, in_audit_log, overdue
from intake.ports import AuditEntry
from notifier.__main__ import held
from ops import samples
from ops.kafka_views import follow, readable, topic_views
from ops.settings import OpsSettings
from ops.timeline import timeline
from router.__main__ import triage
from shared.dead_letters import ReplayRefused, dead_letters, replay
from shared.kafka import client_options, kafka_security
from shared.operators import UnknownOperator, operator

cli = typer.Typer(add_completion=False, help=__doc__, no_args_is_help=True)
dlq = typer.Typer(help="Dead-lettered events.", no_args_is_help=True)
cli.add_typer(dlq, name="dlq")
cli.add_typer(triage, name="triage")
cli.command()(held)  # the notifier's and router's own commands, not a copy of their SQL
cli.command()(overdue)  # intake's
cli.command()(erase)  # intake's
cli.command()(audit)  # intake's


@cli.command()
def topics() -> None:
    """Each topic: partitions, end offset, and every consumer group's lag."""
    settings = OpsSettings()
    views = asyncio.run(topic_views(settings.kafka_bootstrap_servers, settings.kafka_topic_prefix))
    typer.echo(f"{'topic':<36} {'parts':>5} {'end':>9}  lag by consumer group")
    for view in views:
        lags = ", ".join(f"{g}={lag}" for g, lag in sorted(view.lag_by_group.items())) or "-"
        typer.echo(f"{view.name:<36} {view.partitions:>5} {view.end_offsets:>9}  {lags}")


@cli.command()
def tail(
    topic: str,
    from_beginning: Annotated[bool, typer.Option("--from-beginning")] = False,
    limit: Annotated[int, typer.Option(help="Stop after this many events (0: follow).")] = 0,
) -> None:
    """Follow a topic and print each event decoded."""
    settings = OpsSettings()
    name = (
        topic
        if topic.startswith(settings.kafka_topic_prefix)
        else settings.kafka_topic_prefix + topic
    )

    async def run() -> None:
        seen = 0
        async for record in follow(
            settings.kafka_bootstrap_servers, name, from_beginning=from_beginning
        ):
            typer.echo(readable(record))
            seen += 1
            if limit and seen >= limit:
                return

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends a follow quietly
        asyncio.run(run())


@cli.command()
def show(ref: str) -> None:
    """One referral's timeline across the three services, by tracking reference or id."""
    events = asyncio.run(timeline(OpsSettings(), ref))
    if not events:
        typer.echo(f"no referral {ref}", err=True)
        raise typer.Exit(1)
    for when, service, what in events:
        typer.echo(f"{when:%Y-%m-%d %H:%M:%S}  {service:<9} {what}")


@dlq.command("list")
def dlq_list() -> None:
    """Every dead-lettered event, with where it came from and why."""
    settings = OpsSettings()
    found = asyncio.run(
        dead_letters(
            settings.kafka_bootstrap_servers,
            settings.kafka_topic_prefix,
            client_options(kafka_security(settings)),
        )
    )
    if not found:
        typer.echo("no dead letters")
    for topic, letter in found:
        typer.echo(
            f"{letter.event_id}  {letter.occurred_at:%Y-%m-%d %H:%M}  {topic}  "
            f"from {letter.source_topic}: {letter.reason}"
        )


@dlq.command("replay")
def dlq_replay(
    event_id: UUID,
    by: Annotated[
        str | None,
        typer.Option(help="The operator (default: the account this runs under); audited."),
    ] = None,
    reason: Annotated[str, typer.Option(help="Why (recorded in the audit log).")] = (
        "replayed after the cause was fixed"
    ),
) -> None:
    """Re-publish a dead-lettered event to its source topic, after the cause is fixed; who
    and why go in intake's audit log."""
    try:
        who = operator(by)
        settings = OpsSettings()
        replayed = asyncio.run(
            replay(
                settings.kafka_bootstrap_servers,
                settings.kafka_topic_prefix,
                event_id,
                client_options(kafka_security(settings)),
            )
        )
    except (ReplayRefused, UnknownOperator) as error:
        typer.echo(f"referrals: {error}", err=True)
        raise typer.Exit(1) from error
    in_audit_log(
        AuditEntry(
            datetime.now(UTC), who, "replayed", replayed.referral_id, reason,
            {"dead_letter": str(event_id), "to": replayed.topic},
        )
    )  # fmt: skip
    typer.echo(f"replayed {event_id} to {replayed.topic}")


@cli.command()
def demo(
    intake_url: Annotated[str, typer.Option(envvar="INTAKE_URL")] = "http://127.0.0.1:8000",
    api_key: Annotated[
        str,
        typer.Option(
            envvar="REFERRALS_DEMO_API_KEY", help="A referrer key for organisation M85001."
        ),
    ] = "",
    clinic_key: Annotated[
        str,
        typer.Option(
            envvar="REFERRALS_DEMO_CLINIC_KEY",
            help="A clinic key for site pelvic-bsol: it accepts, returns, books and "
            "discharges samples.",
        ),
    ] = "",
) -> None:
    """Submit sample referrals covering every outcome, then accept, return, cancel, book and
    discharge some as their clinic and GP would, and print what happened to each."""
    settings = OpsSettings()

    async def run() -> list[tuple[samples.Submitted, list[str]]]:
        submitted = await samples.submit_all(settings, intake_url, api_key)
        if clinic_key:
            await samples.act_after_routing(intake_url, api_key, clinic_key, submitted)
        return await samples.outcomes(settings, submitted)

    for sample, lines in asyncio.run(run()):
        typer.echo(f"\n{sample.name}  [{sample.tracking_reference}]")
        for line in lines[1:] or ["(not decided yet)"]:
            typer.echo(f"    {line}")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
