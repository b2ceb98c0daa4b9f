{{/* Names, labels and the pieces every Vigie container shares. */}}

{{- define "vigie.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "vigie.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "vigie.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "vigie.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component: (dict "ctx" $ "component" "sink") */}}
{{- define "vigie.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vigie.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "vigie.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "vigie.secretName" -}}
{{- if .Values.secrets.create -}}
{{- printf "%s-secrets" (include "vigie.fullname" .) -}}
{{- else -}}
{{- required "secrets.existingSecret is required when secrets.create is false" .Values.secrets.existingSecret -}}
{{- end -}}
{{- end -}}

{{- define "vigie.flinkServiceAccount" -}}
{{- default (printf "%s-flink" (include "vigie.fullname" .)) .Values.flink.serviceAccount.name -}}
{{- end -}}

{{/* Where the city ConfigMap is mounted; VIGIE_CITIES_DIR points at its parent. */}}
{{- define "vigie.citiesDir" -}}/etc/vigie/cities{{- end -}}
{{- define "vigie.secretsDir" -}}/etc/vigie/secrets{{- end -}}

{{/* Environment every Vigie container gets: the settings ConfigMap, the secret passwords,
     and extraEnv. Secrets stay out of the ConfigMap. */}}
{{- define "vigie.env" -}}
- name: VIGIE_CLICKHOUSE_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ include "vigie.secretName" . }}, key: clickhouse-password}
- name: VIGIE_CLICKHOUSE_WRITER_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ include "vigie.secretName" . }}, key: clickhouse-writer-password}
- name: VIGIE_CLICKHOUSE_ANALYST_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ include "vigie.secretName" . }}, key: clickhouse-analyst-password}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "vigie.envFrom" -}}
- configMapRef:
    name: {{ include "vigie.fullname" . }}-settings
{{- end -}}

{{/* The city data (with its rules.yaml) and the pseudonymisation key, read-only. */}}
{{- define "vigie.volumeMounts" -}}
- name: city
  mountPath: {{ include "vigie.citiesDir" . }}/{{ .Values.city.name }}
  readOnly: true
- name: secrets
  mountPath: {{ include "vigie.secretsDir" . }}
  readOnly: true
{{- end -}}

{{- define "vigie.volumes" -}}
- name: city
  configMap:
    name: {{ include "vigie.fullname" . }}-city
    items:
    {{- range $key, $path := include "vigie.cityFiles" . | fromYaml }}
      - {key: {{ $key }}, path: {{ $path }}}
    {{- end }}
- name: secrets
  secret:
    secretName: {{ include "vigie.secretName" . }}
    defaultMode: 0440
    items:
      - {key: pseudonym.key, path: pseudonym.key}
{{- end -}}

{{/* ConfigMap key -> path under cities/<city>/ (ConfigMap keys cannot hold a "/"). */}}
{{- define "vigie.cityFiles" -}}
{{- $prefix := printf "files/cities/%s/" .Values.city.name -}}
{{- range $path, $_ := .Files.Glob (printf "%s**" $prefix) }}
{{- $rel := trimPrefix $prefix $path }}
{{ $rel | replace "/" "__" }}: {{ $rel }}
{{- end }}
rules.yaml: rules.yaml
{{- end -}}

{{- define "vigie.podAnnotations" -}}
{{- if .Values.metrics.annotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .Values.metrics.port | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- end -}}
