#!/usr/bin/env bash
# The whole test suite on a fresh machine: install, start Kafka + PostgreSQL, lint, test, stop.
# Servers that already run elsewhere: export KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL first.
source "$(dirname "$0")/lib.sh"
install_project
build_frontend
ensure_chromium

started_stack=0
if [[ -z "${KAFKA_BOOTSTRAP_SERVERS:-}" || -z "${DATABASE_URL:-}" ]]; then
  if ! stack_running; then started_stack=1; fi
  echo "== starting the local stack (Kafka, PostgreSQL, Keycloak)"
  "${UV[@]}" run --frozen python -m devstack up
  eval "$("${UV[@]}" run --frozen python -m devstack env)"
fi
stop_stack() {
  if [[ $started_stack == 1 ]]; then
    echo "== stopping the local stack"
    "${UV[@]}" run --frozen python -m devstack down || true
  fi
}
trap stop_stack EXIT

echo "== lint: ruff, mypy, import contracts, AsyncAPI"
"${UV[@]}" run --frozen ruff check .
"${UV[@]}" run --frozen ruff format --check .
"${UV[@]}" run --frozen mypy
"${UV[@]}" run --frozen lint-imports
echo "== AsyncAPI documents in docs/asyncapi/ match the code"
"${UV[@]}" run --frozen python -m devstack asyncapi --check
echo "== OpenAPI document docs/openapi.json matches the code and validates"
"${UV[@]}" run --frozen python -m devstack openapi --check

echo "== the Helm chart: what it takes from the code is current; Helm built (once) from its Go module"
"${UV[@]}" run --frozen python -m devstack chart --check
"${UV[@]}" run --frozen python -m devstack helm

echo "== tests against Kafka at $KAFKA_BOOTSTRAP_SERVERS and PostgreSQL at $DATABASE_URL"
"${UV[@]}" run --frozen pytest "$@"
