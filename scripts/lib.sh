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

stack_running() {
  "${UV[@]}" run --frozen python -m devstack status >/dev/null 2>&1
}
