"""The NHS design system, built into intake's pages from the NHS's own npm package: `npm ci`
in deploy/frontend (versions pinned by its package-lock.json), then the compiled stylesheet
and the images it uses copied under intake's static files. Written by hand because it is
two file copies and one URL rewrite; a bundler would add a tool chain for nothing."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ROOT / "deploy" / "frontend"
MODULES = PACKAGES / "node_modules"
BUILT = ROOT / "services" / "intake" / "web" / "static" / "nhsuk"
STYLESHEET = "nhsuk-frontend.min.css"
AXE = MODULES / "axe-core" / "axe.min.js"  # the browser tests' accessibility check
_STAMP = BUILT / ".built-from"


class FrontendError(RuntimeError):
    pass


def build() -> str:
    """Install the pinned packages (when the lock changed) and build the static files;
    returns the nhsuk-frontend version built."""
    lock = (PACKAGES / "package-lock.json").read_bytes()
    wanted = hashlib.sha256(lock).hexdigest()
    if not (_STAMP.exists() and _STAMP.read_text() == wanted and AXE.exists()):
        _npm_ci()
        _copy()
        _STAMP.write_text(wanted)
    return version()


def version() -> str:
    package = json.loads((MODULES / "nhsuk-frontend" / "package.json").read_text())
    return str(package["version"])


def _npm_ci() -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise FrontendError("npm is not installed: install Node.js 20 or later, then run again")
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=PACKAGES,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise FrontendError(f"npm ci failed in {PACKAGES}:\n{done.stderr.strip()}")


def _copy() -> None:
    dist = MODULES / "nhsuk-frontend" / "dist" / "nhsuk"
    if BUILT.exists():
        shutil.rmtree(BUILT)
    (BUILT / "assets").mkdir(parents=True)
    # The stylesheet names its images at /assets/; intake serves them under /static/nhsuk/.
    css = (dist / STYLESHEET).read_text()
    (BUILT / STYLESHEET).write_text(css.replace("url(/assets/", "url(/static/nhsuk/assets/"))
    shutil.copytree(dist / "assets" / "images", BUILT / "assets" / "images")
