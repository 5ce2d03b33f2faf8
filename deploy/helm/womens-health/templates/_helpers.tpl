{{/* What the code declares (files/declared.json, written by `python -m devstack chart`). */}}
{{- define "wh.declared" -}}
{{ .Files.Get "files/declared.json" }}
{{- end }}

{{- define "wh.labels" -}}
app.kubernetes.io/part-of: womens-health
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{/* A service's pods: {{ include "wh.selector" (list $ "intake") }} */}}
{{- define "wh.selector" -}}
app.kubernetes.io/instance: {{ (index . 0).Release.Name }}
app.kubernetes.io/name: {{ index . 1 }}
{{- end }}

{{- define "wh.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* The Kafka user (and its Secret, made by Strimzi) a service connects as. */}}
{{- define "wh.kafkaUser" -}}
{{ (index . 0).Release.Name }}-{{ index . 1 }}
{{- end }}

{{- define "wh.kafkaBootstrap" -}}
{{ .Values.kafka.cluster }}-kafka-bootstrap:9093
{{- end }}

{{/* The most processes of a service that can share its work: the partitions of the largest
topic it reads (a consumer group gives each partition to one process). */}}
{{- define "wh.ceiling" -}}
{{- $declared := include "wh.declared" (index . 0) | fromJson -}}
{{- $service := index $declared.services (index . 1) -}}
{{- $ceiling := 1 -}}
{{- range $declared.topics -}}
{{- if has .name $service.consumes -}}
{{- $ceiling = max $ceiling (int .partitions) -}}
{{- end -}}
{{- end -}}
{{ $ceiling }}
{{- end }}

{{/* Security context every container runs with. */}}
{{- define "wh.containerSecurity" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* The settings every service reads: Kafka (TLS, SCRAM as its own user), PostgreSQL (the
CloudNativePG application Secret), logging. */}}
{{- define "wh.commonEnv" -}}
{{- $ := index . 0 -}}
{{- $name := index . 1 -}}
- name: KAFKA_BOOTSTRAP_SERVERS
  value: {{ include "wh.kafkaBootstrap" $ | quote }}
- name: KAFKA_SECURITY_PROTOCOL
  value: SASL_SSL
- name: KAFKA_SASL_USERNAME
  value: {{ include "wh.kafkaUser" (list $ $name) | quote }}
- name: KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ include "wh.kafkaUser" (list $ $name) | quote }}, key: password}
- name: KAFKA_SSL_CAFILE
  value: /etc/kafka-ca/ca.crt
- name: DATABASE_URL
  valueFrom:
    secretKeyRef: {name: {{ printf "%s-app" $.Values.postgres.cluster | quote }}, key: uri}
- name: LOG_LEVEL
  value: {{ $.Values.settings.logLevel | quote }}
- name: LOG_FORMAT
  value: json
- name: HTTP_HOST
  value: 0.0.0.0
- name: OTEL_EXPORTER_OTLP_ENDPOINT  # empty: no tracing
  value: {{ $.Values.settings.otlpEndpoint | quote }}
{{- with $.Values.settings.trustedProxies }}
- name: HTTP_TRUSTED_PROXIES
  value: {{ . | quote }}
{{- end }}
{{- end }}
