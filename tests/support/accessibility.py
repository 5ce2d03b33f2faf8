"""An automated accessibility check of a page as the browser shows it: axe-core (pinned in
deploy/frontend, installed by `python -m devstack frontend`) against WCAG 2.2 A and AA.

The pages are used with JavaScript off, so the page's HTML is checked in a second page with
scripts on (and the page's own CSP set aside for the check's script), at the same origin so
that its styles load: the same document, checked without changing how it was used."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Page

from devstack.frontend import AXE

WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def violations(page: Page) -> list[dict[str, Any]]:
    """What axe finds on the page now: each rule broken, with the elements that break it."""
    if not AXE.exists():
        raise AssertionError(f"{AXE} is missing: run `python -m devstack frontend` first")
    html, url = page.content(), urlsplit(page.url)
    browser = page.context.browser
    assert browser is not None
    context = browser.new_context(java_script_enabled=True, bypass_csp=True)
    try:
        checker = context.new_page()
        checker.goto(f"{url.scheme}://{url.netloc}/static/form.css")  # the origin, cheaply
        checker.set_content(html, wait_until="load")
        checker.add_script_tag(path=str(AXE))
        found: list[dict[str, Any]] = checker.evaluate(
            """async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}}))
                .violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.map(n => n.html)}))""",
            WCAG_22_AA,
        )
    finally:
        context.close()
    return found


def assert_accessible(page: Page) -> None:
    found = violations(page)
    assert found == [], "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} {v['nodes'][:3]}" for v in found
    )
