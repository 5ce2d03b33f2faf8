"""One referral across the three services, read from their own schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import uuid5

from ops.settings import OpsSettings
from shared.database import connect


async def timeline(settings: OpsSettings, ref: str) -> list[tuple[datetime, str, str]]:
    conn = await connect(str(settings.database_url))
    try:
        referral = await conn.fetchrow(
            f"SELECT referral_id, tracking_reference, door, source, service, status,"
            f" received_at, erased_at FROM {settings.intake_schema}.referrals"
            " WHERE tracking_reference = upper($1) OR referral_id::text = $1",
            ref,
        )
        if referral is None:
            return []
        rid = referral["referral_id"]
        events: list[tuple[datetime, str, str]] = [
            (
                referral["received_at"],
                "intake",
                f"received {referral['tracking_reference']} ({referral['service']}, by "
                f"{referral['door']} from {referral['source']}); status {referral['status']}",
            )
        ]
        steps = await _rows(conn, settings.intake_schema, "transitions", rid, "at")
        decisions = await _rows(conn, settings.router_schema, "decisions", rid, "decided_at")
        # What each notification told: the step (or decision) whose event called for it.
        clocks = await _rows(conn, settings.intake_schema, "deadlines", rid, "started_at")
        about = {t["transition_id"]: t["action"] for t in steps if t["action"] != "decided"}
        about |= {d["decision_id"]: d["outcome"] for d in decisions}
        # A clock's event id derives from it (intake.service_layer.clocks).
        about |= {uuid5(c["deadline_id"], "overdue"): f"overdue: {c['clock']}" for c in clocks}
        about |= {uuid5(c["deadline_id"], "reminder"): "appointment reminder" for c in clocks}
        people = await _names(conn, settings.intake_schema)
        for a in await _rows(conn, settings.intake_schema, "audit_log", rid, "at"):
            who = f"{people[a['actor']]} ({a['actor']})" if a["actor"] in people else a["actor"]
            events.append((a["at"], "audit", f"{a['action']} by {who}: {a['reason']}"))
        for c in clocks:
            what = "reminder" if c["clock"] == "reminder" else f"{c['clock']} promise"
            events.append((c["started_at"], "intake", f"{what}: due {c['due_at']:%Y-%m-%d %H:%M}"))
            if c["state"] == "fired" and c["clock"] == "reminder":
                events.append((c["ended_at"], "intake", "reminder: her appointment is near"))
            elif c["state"] == "fired":
                broken = f"overdue: the {c['clock']} promise was broken"
                events.append((c["ended_at"], "intake", broken))
            elif c["state"] == "stopped" and c["clock"] == "reminder":
                events.append((c["ended_at"], "intake", "reminder: stopped (appointment changed)"))
        for t in steps:
            if t["action"] == "decided":
                continue  # the router's line says it, with its rules
            who = f"{t['actor']} {t['actor_id']}" if t["actor_id"] else t["actor"]
            if t.get("person_id") in people:
                who = f"{people[t['person_id']]} ({who})"
            why = f" ({t['reason_code']}: {t['reason']})" if t["reason_code"] else ""
            why += _particulars(t["details"])
            events.append((t["at"], "intake", f"{t['action']} by {who}: now {t['after']}{why}"))
        for d in decisions:
            where = f" to {d['destination']['id']}" if d["destination"] else ""
            rules = ", ".join(r["rule"] for r in d["reasons"])
            where += ", urgent" if d["urgent"] else ""
            by = people.get(d["decided_by"], d["decided_by"])
            events.append((d["decided_at"], "router", f"{d['outcome']}{where} by {by} ({rules})"))
        for n in await _rows(conn, settings.notifier_schema, "notifications", rid, "created_at"):
            when = n["finished_at"] or n["created_at"]
            extra = f": {n['error']}" if n["error"] else ""
            if n["fallback_of"]:
                extra += " (a fallback: the message before it was not delivered)"
            if n["fell_back_at"]:
                receipt = n["delivery_status"] or "no receipt in time"
                extra += f"; not delivered ({receipt}), then: {n['fallback']}"
            events.append(
                (
                    when,
                    "notifier",
                    f"{n['recipient']} by {n['channel']}"
                    f" ({about.get(n['decision_event_id'], 'unknown step')}): {n['status']}"
                    f" after {n['attempts']} attempt(s){extra}",
                )
            )
        return sorted(events, key=lambda e: e[0])
    finally:
        await conn.close()


async def _names(conn: Any, schema: str) -> dict[str, str]:
    """Staff names by their provider id (intake keeps them; the topics never do)."""
    if await conn.fetchval("SELECT to_regclass($1)", f"{schema}.staff") is None:
        return {}
    rows = await conn.fetch(f"SELECT person_id, name FROM {schema}.staff")
    return {r["person_id"]: r["name"] for r in rows}


async def _rows(conn: Any, schema: str, table: str, rid: Any, order: str) -> list[Any]:
    if await conn.fetchval("SELECT to_regclass($1)", f"{schema}.{table}") is None:
        return []
    return list(
        await conn.fetch(
            f"SELECT * FROM {schema}.{table} WHERE referral_id = $1 ORDER BY {order}", rid
        )
    )


def _particulars(details: dict[str, Any] | None) -> str:
    """A step's particulars on its line: the appointment, the attempts, where referred on."""
    if not details:
        return ""
    if appointment := details.get("appointment"):
        return f" [{appointment['mode']}, {appointment['starts_at']}]"
    if attempts := details.get("attempts"):
        return f" [{len(attempts)} attempt(s) to reach her]"
    if referred_to := details.get("referred_to"):
        return f" [referred on to {referred_to}]"
    return ""
