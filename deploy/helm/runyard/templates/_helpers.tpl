{{/* Names ------------------------------------------------------------------------------- */}}

{{- define "runyard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "runyard.fullname" -}}
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

{{- define "runyard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "runyard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "runyard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "runyard.labels" -}}
helm.sh/chart: {{ include "runyard.chart" . }}
{{ include "runyard.selectorLabels" . }}
app.kubernetes.io/version: {{ include "runyard.version" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "runyard.version" -}}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{- define "runyard.image" -}}
{{- printf "%s:%s" .Values.image.repository (include "runyard.version" .) }}
{{- end }}

{{- define "runyard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "runyard.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "runyard.migrateServiceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- printf "%s-migrate" (include "runyard.serviceAccountName" .) | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- include "runyard.serviceAccountName" . }}
{{- end }}
{{- end }}

{{- define "runyard.secretName" -}}
{{- default (include "runyard.fullname" .) .Values.runyard.existingSecret }}
{{- end }}

{{/* True (non-empty) when the metadata store is an external database, not pod-local SQLite. */}}
{{- define "runyard.externalDatabase" -}}
{{- $db := .Values.runyard.database }}
{{- if or $db.existingSecret (and $db.url (not (hasPrefix "sqlite" $db.url))) }}true{{ end }}
{{- end }}

{{/* Guards: rendering fails on inline secrets or an unsafe combination of values. ----- */}}

{{/* A URL whose user-info carries a password ("user:password@"), or a password parameter. */}}
{{- define "runyard.urlHasPassword" -}}
{{- if or (regexMatch "^[A-Za-z][A-Za-z0-9+.-]*://[^/@]*:[^/@]*@" .) (regexMatch "(?i)[?&](password|passwd|auth_token|token)=" .) }}true{{ end }}
{{- end }}

{{- define "runyard.assertNoInlineSecrets" -}}
{{- $r := .Values.runyard -}}
{{- range $field, $url := dict "runyard.database.url" $r.database.url "runyard.cache.url" $r.cache.url "runyard.blobStore.url" $r.blobStore.url "runyard.queue.url" $r.queue.url "runyard.publicUrl" $r.publicUrl }}
{{- if include "runyard.urlHasPassword" (toString $url) }}
{{- fail (printf "%s must not contain a password: put the whole URL in a Secret and set the matching existingSecret, or (database) set runyard.database.passwordSecret to an AWS Secrets Manager secret" $field) }}
{{- end }}
{{- end }}
{{- range $key := list "password" "secretKey" "adminApiKey" "authToken" }}
{{- if hasKey $r $key }}
{{- fail (printf "runyard.%s must not be set inline: reference a Secret with runyard.existingSecret" $key) }}
{{- end }}
{{- end }}
{{- range $key := list "password" "authToken" }}
{{- if or (hasKey $r.database $key) (hasKey $r.cache $key) }}
{{- fail (printf "runyard.database.%s / runyard.cache.%s must not be set inline: use existingSecret" $key $key) }}
{{- end }}
{{- end }}
{{- if hasKey $r.license "value" }}
{{- fail "runyard.license.value must not be set inline: use runyard.license.existingSecret" }}
{{- end }}
{{- range $env := $r.extraEnv }}
{{- if hasKey $env "value" }}
{{- $name := upper (toString $env.name) }}
{{- $value := toString $env.value }}
{{- if and (regexMatch "PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|ACCESS_KEY|LICENSE|^MYSQL$|^REDIS$" $name) (not (regexMatch "_PASSWORD_SECRET$" $name)) }}
{{- fail (printf "runyard.extraEnv %s looks secret: use valueFrom.secretKeyRef, not value" $env.name) }}
{{- end }}
{{- if include "runyard.urlHasPassword" $value }}
{{- fail (printf "runyard.extraEnv %s must not contain a password: use valueFrom.secretKeyRef" $env.name) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{- define "runyard.assertScalable" -}}
{{- $many := or .Values.autoscaling.enabled (gt (int .Values.replicaCount) 1) }}
{{- if and $many (not (include "runyard.externalDatabase" .)) }}
{{- fail "more than one replica needs an external database: set runyard.database.url or runyard.database.existingSecret (SQLite in the pod cannot be shared)" }}
{{- end }}
{{- $blob := .Values.runyard.blobStore.url }}
{{- if and $many (or (not $blob) (hasPrefix "file:" $blob)) }}
{{- fail "more than one replica needs a shared blob store: set runyard.blobStore.url to s3://BUCKET" }}
{{- end }}
{{- if and .Values.ingress.enabled (not (or .Values.ingress.alb.inboundCidrs .Values.ingress.alb.inboundIpv6Cidrs)) }}
{{- fail "ingress.alb.inboundCidrs (or inboundIpv6Cidrs) is required: list the networks allowed to reach the load balancer" }}
{{- end }}
{{- end }}

{{/* Environment ------------------------------------------------------------------------ */}}

{{/* What the migration Job needs: the database and the AWS region. */}}
{{- define "runyard.databaseEnv" -}}
{{- $r := .Values.runyard -}}
- name: RUNYARD_DATA_DIR
  value: /data
- name: RUNYARD_LOG_LEVEL
  value: {{ $r.logLevel | quote }}
{{- if $r.database.existingSecret }}
- name: RUNYARD_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $r.database.existingSecret }}
      key: {{ $r.database.existingSecretKey }}
{{- else if $r.database.url }}
- name: RUNYARD_DATABASE_URL
  value: {{ $r.database.url | quote }}
{{- end }}
{{- with $r.database.passwordSecret }}
- name: RUNYARD_DATABASE_PASSWORD_SECRET
  value: {{ . | quote }}
{{- end }}
{{- with (default $r.blobStore.region $r.awsRegion) }}
- name: AWS_REGION
  value: {{ . | quote }}
- name: AWS_DEFAULT_REGION
  value: {{ . | quote }}
{{- end }}
{{- end }}

{{- define "runyard.env" -}}
{{- $r := .Values.runyard -}}
{{ include "runyard.databaseEnv" . }}
- name: RUNYARD_HOST
  value: 0.0.0.0
- name: RUNYARD_PORT
  value: "8080"
{{- /* Idle connections outlive the ALB's (and Go clients' 90 s): it closes them first. */}}
- name: RUNYARD_KEEP_ALIVE_TIMEOUT
  value: {{ max 120 (add (int .Values.ingress.alb.idleTimeoutSeconds) 5) | toString | quote }}
{{- if include "runyard.externalDatabase" . }}
- name: RUNYARD_MIGRATE
  value: {{ (not .Values.migrations.enabled) | toString | quote }}
{{- end }}
{{- with $r.publicUrl }}
- name: RUNYARD_PUBLIC_URL
  value: {{ . | quote }}
{{- end }}
{{- with $r.trustedProxies }}
- name: RUNYARD_TRUSTED_PROXIES
  value: {{ . | quote }}
{{- end }}
{{- with $r.allowedCidrs }}
- name: RUNYARD_ALLOWED_CIDRS
  value: {{ . | quote }}
{{- end }}
{{- with $r.blobStore.url }}
- name: RUNYARD_BLOB_STORE_URL
  value: {{ . | quote }}
{{- end }}
{{- with $r.blobStore.region }}
- name: RUNYARD_BLOB_STORE_REGION
  value: {{ . | quote }}
{{- end }}
{{- with $r.blobStore.kmsKey }}
- name: RUNYARD_BLOB_STORE_KMS_KEY
  value: {{ . | quote }}
{{- end }}
{{- with $r.blobStore.endpoint }}
- name: RUNYARD_BLOB_STORE_ENDPOINT
  value: {{ . | quote }}
{{- end }}
- name: RUNYARD_QUEUE_URL
  value: {{ $r.queue.url | quote }}
{{- if $r.cache.existingSecret }}
- name: RUNYARD_CACHE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $r.cache.existingSecret }}
      key: {{ $r.cache.existingSecretKey }}
{{- else if $r.cache.url }}
- name: RUNYARD_CACHE_URL
  value: {{ $r.cache.url | quote }}
{{- end }}
- name: RUNYARD_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "runyard.secretName" . }}
      key: {{ $r.secretKeyKey }}
- name: RUNYARD_ADMIN_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "runyard.secretName" . }}
      key: {{ $r.adminApiKeyKey }}
{{- with $r.license.existingSecret }}
- name: RUNYARD_LICENSE
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $r.license.existingSecretKey }}
{{- end }}
{{- with $r.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The container security context and volumes shared by the Deployment and the Job. */}}
{{- define "runyard.volumes" -}}
- name: data
{{- if .Values.existingClaim }}
  persistentVolumeClaim:
    claimName: {{ .Values.existingClaim }}
{{- else }}
  emptyDir:
    sizeLimit: {{ .Values.dataVolumeSizeLimit }}
{{- end }}
- name: tmp
  emptyDir:
    sizeLimit: 1Gi
{{- end }}

{{- define "runyard.volumeMounts" -}}
- name: data
  mountPath: /data
- name: tmp
  mountPath: /tmp
{{- end }}
