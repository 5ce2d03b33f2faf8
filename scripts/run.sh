#!/usr/bin/env bash
# The whole system on this machine: Kafka, PostgreSQL, the provider stand-ins (Notify, SMTP,
# clinic webhooks) and the three services. Ctrl-C stops all it started.
# The services' full logs go to .devstack/logs/; `LOGS=1 make run` also shows them here, readable.
source "$(dirname "$0")/lib.sh"
install_project
build_frontend

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
"${UV[@]}" run --frozen python -m standins \
  --notify-callback-url http://127.0.0.1:8002/v1/notify/callback \
  > .devstack/logs/standins.log 2>&1 &
pids+=($!)
# The notifier reads patient contacts from intake with a key of its own.
NOTIFIER_INTAKE_API_KEY=$("${UV[@]}" run --frozen python -m intake keys create \
  --organisation NOTIFIER --scope notifier --label "make run" 2>/dev/null)
export NOTIFIER_INTAKE_API_KEY
# Providers: the local stand-ins (python -m standins) instead of GOV.UK Notify and real clinics.
export NOTIFIER_NOTIFY_BASE_URL=http://127.0.0.1:8090
export NOTIFIER_CLINIC_WEBHOOK_URL='http://127.0.0.1:8090/clinics/{site}'
for service in intake router notifier; do
  if [[ -n "${LOGS:-}" ]]; then
    LOG_FORMAT=console "${UV[@]}" run --frozen python -m "$service" \
      > >(tee ".devstack/logs/$service.log") 2>&1 &
  else
    "${UV[@]}" run --frozen python -m "$service" > ".devstack/logs/$service.log" 2>&1 &
  fi
  pids+=($!)
done

for port in 8000 8001 8002 8090; do
  for _ in $(seq 1 120); do
    curl -fs "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1 && break
    curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    sleep 0.5
  done
done
echo "== sample referrals, one per outcome (what happened to each):"
REFERRALS_DEMO_API_KEY=$("${UV[@]}" run --frozen python -m intake keys create \
  --organisation M85001 --label "make run samples" 2>/dev/null)
REFERRALS_DEMO_CLINIC_KEY=$("${UV[@]}" run --frozen python -m intake keys create \
  --organisation pelvic-bsol --scope clinic --label "make run samples (clinic)" 2>/dev/null)
REFERRALS_DEMO_API_KEY=$REFERRALS_DEMO_API_KEY REFERRALS_DEMO_CLINIC_KEY=$REFERRALS_DEMO_CLINIC_KEY \
  "${UV[@]}" run --frozen referrals demo 2>/dev/null \
  || echo "   (the samples could not be shown; see .devstack/logs/)"
cat <<MSG

== The system is up. Ctrl-C stops everything this command started.
   logs      .devstack/logs/*.log (JSON lines); to see them here as they come: LOGS=1 make run
   intake    http://127.0.0.1:8000  (OpenAPI /docs, AsyncAPI /asyncapi, /health/ready)
   staff     http://127.0.0.1:8000/clinic, /triage, /operations, /audit: sign in as clin.bsol,
             triage.lead, ops.jones or auditor, password local-<name>
             (Keycloak at http://127.0.0.1:18080, realm womens-health)
   router    http://127.0.0.1:8001
   notifier  http://127.0.0.1:8002
   stand-ins http://127.0.0.1:8090/_stub/notify | /_stub/webhook | /_stub/email  (what was sent)
   Kafka     $KAFKA_BOOTSTRAP_SERVERS
   Postgres  $DATABASE_URL
MSG
wait
