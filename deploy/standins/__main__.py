"""`python -m standins`: the local provider stand-ins (Notify API and clinic webhooks on one
HTTP port, SMTP on another), with `/_stub/*` endpoints to read what arrived and to inject
faults. For local runs and tests only."""

from __future__ import annotations

from typing import Annotated, Any

import typer
import uvicorn
from fastapi import FastAPI

from notifier.settings import LOCAL_CALLBACK_TOKEN, LOCAL_NOTIFY_KEY, LOCAL_WEBHOOK_SECRET
from standins.bars_receiver import bars_receiver
from standins.clinic_webhook import clinic_webhook
from standins.notify_api import Callback, NotifyBehaviour, notify_api
from standins.recorder import Recorder
from standins.smtp import smtp_server

cli = typer.Typer(add_completion=False, help=__doc__)


def create_app(
    recorder: Recorder,
    notify_key: str,
    webhook_secret: str,
    notify_behaviour: NotifyBehaviour | None = None,
    callback: Callback | None = None,
) -> FastAPI:
    app = FastAPI(title="provider stand-ins")
    callback = callback or Callback()
    app.include_router(notify_api(recorder, notify_key, notify_behaviour, callback))
    app.include_router(clinic_webhook(recorder, webhook_secret.encode()))
    app.include_router(bars_receiver(recorder, webhook_secret.encode()))

    @app.get("/_stub/{kind}")
    async def received(kind: str) -> list[dict[str, Any]]:
        return recorder.all(kind)

    @app.post("/_stub/faults/{target}")
    async def inject(target: str, fault: dict[str, Any], times: int = 1) -> None:
        recorder.inject(target, fault, times)

    @app.post("/_stub/notify-callback", status_code=204)
    async def register_callback(registered: dict[str, str]) -> None:
        """The service's delivery-receipt callback, as set in Notify's settings."""
        callback.url = registered["url"]
        callback.bearer_token = registered["bearer_token"]

    @app.post("/_stub/reset")
    async def reset() -> None:
        recorder.reset()

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


@cli.command()
def serve(
    http_port: Annotated[int, typer.Option(envvar="STANDINS_HTTP_PORT")] = 8090,
    smtp_port: Annotated[int, typer.Option(envvar="STANDINS_SMTP_PORT")] = 8025,
    host: str = "127.0.0.1",
    notify_key: Annotated[str, typer.Option(envvar="STANDINS_NOTIFY_API_KEY")] = LOCAL_NOTIFY_KEY,
    webhook_secret: Annotated[
        str, typer.Option(envvar="STANDINS_WEBHOOK_SECRET")
    ] = LOCAL_WEBHOOK_SECRET,
    notify_per_minute: Annotated[
        int | None,
        typer.Option(
            envvar="STANDINS_NOTIFY_PER_MINUTE",
            help="Refuse with 429 above this many messages in any 60 s, as Notify does (3000).",
        ),
    ] = None,
    notify_error_rate: Annotated[
        float,
        typer.Option(envvar="STANDINS_NOTIFY_ERROR_RATE", help="Share of sends answered 500."),
    ] = 0.0,
    notify_callback_url: Annotated[
        str | None,
        typer.Option(
            envvar="STANDINS_NOTIFY_CALLBACK_URL",
            help="Where delivery receipts go (the notifier's /v1/notify/callback).",
        ),
    ] = None,
    notify_callback_token: Annotated[
        str, typer.Option(envvar="STANDINS_NOTIFY_CALLBACK_TOKEN")
    ] = LOCAL_CALLBACK_TOKEN,
    notify_slow_down_rate: Annotated[
        float,
        typer.Option(
            envvar="STANDINS_NOTIFY_SLOW_DOWN_RATE",
            help="Share of sends answered 429 whatever the count (another user of the key).",
        ),
    ] = 0.0,
) -> None:
    recorder = Recorder()
    behaviour = NotifyBehaviour(
        per_minute=notify_per_minute,
        error_rate=notify_error_rate,
        slow_down_rate=notify_slow_down_rate,
    )
    callback = Callback()
    callback.url, callback.bearer_token = notify_callback_url, notify_callback_token
    smtp = smtp_server(recorder, host, smtp_port)
    smtp.start()
    try:
        uvicorn.run(
            create_app(recorder, notify_key, webhook_secret, behaviour, callback),
            host=host,
            port=http_port,
            log_level="warning",
        )
    finally:
        smtp.stop()


if __name__ == "__main__":
    cli()
