{{/* Names and labels, as `helm create` names them. */}}
{{- define "bookstore.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "bookstore.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "bookstore.selectorLabels" -}}
app.kubernetes.io/name: {{ include "bookstore.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "bookstore.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "bookstore.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "bookstore.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "bookstore.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret the pods read: the user's own, or the one this chart renders. */}}
{{- define "bookstore.secretName" -}}
{{- default (include "bookstore.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/*
Settings that carry credentials (config/schema.ts SECRET_SETTINGS, and the replicas' URLs):
read from the Secret, never from the ConfigMap. JWT_SECRET is the one the pod cannot start
without.
*/}}
{{- define "bookstore.secretKeys" -}}
JWT_SECRET JWT_PREVIOUS_SECRETS DATABASE_URL DATABASE_REPLICA_URLS MONGODB_URL REDIS_URL REDIS_PASSWORD REDIS_SENTINEL_PASSWORD SMTP_URL ADMIN_PASSWORD
{{- end }}

{{/*
The non-secret settings the service reads from its environment (the configuration table of
docs/API.md; test/deploy/helm.test.ts holds this list to config/schema.ts and the README).
NODE_ENV, HOST and PORT are set by the chart itself.
*/}}
{{- define "bookstore.configKeys" -}}
LOG_LEVEL APP_URL TRUST_PROXY CORS_ORIGINS METRICS_PORT ACCESS_TOKEN_MINUTES REFRESH_TOKEN_DAYS PAGE_SIZE ADMIN_EMAIL AUTH_RATE_LIMIT SIGNIN_MAX_FAILURES SIGNIN_WINDOW_MINUTES CACHE_TTL_SECONDS MAIL_FROM MAIL_DIR VERIFY_EMAIL_HOURS RESET_TOKEN_MINUTES REQUIRE_VERIFIED_EMAIL WEBAUTHN_RP_ID WEBAUTHN_ORIGINS API_KEY_RATE_LIMIT REDIS_SENTINELS REDIS_SENTINEL_NAME REDIS_CLUSTER_NODES REPLICA_MAX_LAG_SECONDS SHED_EVENT_LOOP_DELAY_MS SHED_HEAP_USED_MB SHED_RSS_MB SHED_PASSWORD_WAIT_MS SHED_PASSWORD_QUEUE STARTUP_WAIT_SECONDS OTEL_EXPORTER_OTLP_ENDPOINT OTEL_SERVICE_NAME
{{- end }}

{{/* The memory limit in MiB (from Mi or Gi), or 0 when it is unset or in another unit. */}}
{{- define "bookstore.memoryLimitMi" -}}
{{- $limit := toString (dig "limits" "memory" "" .Values.resources) }}
{{- if regexMatch "^[0-9]+Mi$" $limit }}{{ trimSuffix "Mi" $limit }}
{{- else if regexMatch "^[0-9]+Gi$" $limit }}{{ mul (atoi (trimSuffix "Gi" $limit)) 1024 }}
{{- else }}0{{ end }}
{{- end }}

{{/*
Every refusal in one place, with a message naming the value to set. Included by the
Deployment, so no manifest renders with a configuration that cannot work.
*/}}
{{- define "bookstore.validate" -}}
{{- $s := .Values.secrets }}
{{- $c := .Values.config }}
{{- if and (not $s.existingSecret) (not $s.JWT_SECRET) }}
{{- fail "bookstore: no JWT secret. Set secrets.existingSecret to a Secret with a JWT_SECRET key, or secrets.JWT_SECRET (at least 32 bytes: openssl rand -base64 48)" }}
{{- end }}
{{- if and (not $s.existingSecret) $s.JWT_SECRET (lt (len $s.JWT_SECRET) 32) }}
{{- fail "bookstore: secrets.JWT_SECRET is shorter than 32 bytes (openssl rand -base64 48)" }}
{{- end }}
{{- if $s.existingSecret }}
{{- range $key, $value := $s }}
{{- if and (ne $key "existingSecret") $value }}
{{- fail (printf "bookstore: secrets.%s is set beside secrets.existingSecret, which would be used instead: put it in that Secret" $key) }}
{{- end }}
{{- end }}
{{- end }}
{{- $allowed := splitList " " (include "bookstore.configKeys" .) }}
{{- $secretKeys := splitList " " (include "bookstore.secretKeys" .) }}
{{- range $key, $value := $c }}
{{- if has $key $secretKeys }}
{{- fail (printf "bookstore: config.%s carries credentials: set secrets.%s (or the key in secrets.existingSecret) instead" $key $key) }}
{{- end }}
{{- if has $key (list "NODE_ENV" "HOST" "PORT") }}
{{- fail (printf "bookstore: config.%s is set by the chart (NODE_ENV=production, HOST=0.0.0.0, PORT=3000)" $key) }}
{{- end }}
{{- if not (has $key $allowed) }}
{{- fail (printf "bookstore: config.%s is not a setting the service reads (see the configuration table of docs/API.md)" $key) }}
{{- end }}
{{- end }}
{{- range $key, $value := $s }}
{{- if and (ne $key "existingSecret") (not (has $key $secretKeys)) }}
{{- fail (printf "bookstore: secrets.%s is not a secret setting of the service (one of: %s)" $key (include "bookstore.secretKeys" $)) }}
{{- end }}
{{- end }}
{{- $redis := 0 }}
{{- if and (not $s.existingSecret) $s.REDIS_URL }}{{ $redis = add1 $redis }}{{ end }}
{{- if $c.REDIS_SENTINELS }}{{ $redis = add1 $redis }}{{ end }}
{{- if $c.REDIS_CLUSTER_NODES }}{{ $redis = add1 $redis }}{{ end }}
{{- if gt $redis 1 }}
{{- fail "bookstore: set one of secrets.REDIS_URL, config.REDIS_SENTINELS, config.REDIS_CLUSTER_NODES (more than one stops the service's start-up)" }}
{{- end }}
{{- if and $c.REDIS_SENTINELS (not $c.REDIS_SENTINEL_NAME) }}
{{- fail "bookstore: config.REDIS_SENTINELS needs config.REDIS_SENTINEL_NAME, the monitored master's name" }}
{{- end }}
{{- if and $c.REDIS_SENTINEL_NAME (not $c.REDIS_SENTINELS) }}
{{- fail "bookstore: config.REDIS_SENTINEL_NAME is set without config.REDIS_SENTINELS" }}
{{- end }}
{{- if and (not $s.existingSecret) $s.DATABASE_REPLICA_URLS (not (hasPrefix "mysql://" (toString $s.DATABASE_URL))) }}
{{- fail "bookstore: secrets.DATABASE_REPLICA_URLS are replicas of a mysql:// secrets.DATABASE_URL (without one the service refuses to start)" }}
{{- end }}
{{- if or .Values.autoscaling.enabled (gt (int .Values.replicaCount) 1) }}
{{- if not $s.existingSecret }}
{{- if not (hasPrefix "mysql://" (toString $s.DATABASE_URL)) }}
{{- fail "bookstore: more than one pod needs a shared database: set secrets.DATABASE_URL (mysql://...) or secrets.existingSecret, or replicaCount=1 with autoscaling.enabled=false (SQLite lives in one pod's emptyDir)" }}
{{- end }}
{{- if eq $redis 0 }}
{{- fail "bookstore: more than one pod needs a shared Redis (the cache, throttles and rate limits): set secrets.REDIS_URL, config.REDIS_SENTINELS or config.REDIS_CLUSTER_NODES, or replicaCount=1 with autoscaling.enabled=false" }}
{{- end }}
{{- end }}
{{- end }}
{{- if le (int .Values.terminationGracePeriodSeconds) (add (int .Values.preStopSleepSeconds) 10) }}
{{- fail (printf "bookstore: terminationGracePeriodSeconds (%d) must be above preStopSleepSeconds (%d) + the service's 10 s drain" (int .Values.terminationGracePeriodSeconds) (int .Values.preStopSleepSeconds)) }}
{{- end }}
{{- $limitMi := int (include "bookstore.memoryLimitMi" .) }}
{{- if $c.SHED_RSS_MB }}
{{- if and (gt $limitMi 0) (ge (int $c.SHED_RSS_MB) $limitMi) }}
{{- fail (printf "bookstore: config.SHED_RSS_MB (%v) must be below the memory limit (%d Mi), or the kernel kills the pod before it sheds" $c.SHED_RSS_MB $limitMi) }}
{{- end }}
{{- end }}
{{- end }}

{{/* SHED_RSS_MB: the configured one, else 85% of the memory limit, else unset. */}}
{{- define "bookstore.shedRssMb" -}}
{{- if .Values.config.SHED_RSS_MB }}{{ .Values.config.SHED_RSS_MB }}
{{- else }}
{{- $limitMi := int (include "bookstore.memoryLimitMi" .) }}
{{- if gt $limitMi 0 }}{{ div (mul $limitMi 85) 100 }}{{ end }}
{{- end }}
{{- end }}
