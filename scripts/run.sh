#!/usr/bin/env bash
# The whole system on this machine: Kafka, PostgreSQL and the three services. Ctrl-C stops all.
source "$(dirname "$0")/lib.sh"
install_project

started_stack=0
if ! stack_running; then started_stack=1; fi
"${UV[@]}" run --frozen python -m devstack up
eval "$("${UV[@]}" run --frozen python -m devstack env)"

pids=()
shutdown() {
  trap - INT TERM EXIT
  echo "== stopping the services"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait "${pids[@]}" 2>/dev/null || true
  if [[ $started_stack == 1 ]]; then "${UV[@]}" run --frozen python -m devstack down; fi
}
trap shutdown INT TERM EXIT

mkdir -p .devstack/logs
for service in intake router notifier; do
  "${UV[@]}" run --frozen python -m "$service" 2>&1 | tee ".devstack/logs/$service.log" &
  pids+=($!)
done

for port in 8000 8001 8002; do
  for _ in $(seq 1 120); do
    curl -fs "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1 && break
    sleep 0.5
  done
done
cat <<MSG

== The system is up (logs in .devstack/logs/). Ctrl-C stops everything this command started.
   intake    http://127.0.0.1:8000  (OpenAPI /docs, AsyncAPI /asyncapi, /health/ready)
   router    http://127.0.0.1:8001
   notifier  http://127.0.0.1:8002
   Kafka     $KAFKA_BOOTSTRAP_SERVERS
   Postgres  $DATABASE_URL
MSG
wait
