# Shared by the scripts: find or install uv, then install the project environment.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if command -v uv >/dev/null 2>&1; then
  UV=(uv)
else
  python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check uv
  UV=(python3 -m uv)
fi

install_project() {
  echo "== installing the project environment (.venv) with ${UV[*]}"
  "${UV[@]}" sync --frozen --quiet
}

# The NHS design system (nhsuk-frontend from npm) built into intake's pages.
build_frontend() {
  echo "== building the NHS design system into intake's pages (npm: deploy/frontend)"
  "${UV[@]}" run --frozen python -m devstack frontend
}

stack_running() {
  "${UV[@]}" run --frozen python -m devstack status >/dev/null 2>&1
}

# The browser tests drive Debian's chromium (Playwright's own browser builds are not used).
ensure_chromium() {
  if [[ -x /usr/bin/chromium ]]; then return; fi
  echo "== installing Debian's chromium for the browser tests"
  local sudo=()
  if [[ $(id -u) != 0 ]]; then sudo=(sudo -n); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get install -y -q chromium >/dev/null \
    || { "${sudo[@]}" apt-get update -q >/dev/null && "${sudo[@]}" apt-get install -y -q chromium >/dev/null; } \
    || { echo "could not install chromium: run 'apt-get install chromium' as root" >&2; exit 1; }
}
