{{/* Chart name. */}}
{{- define "ragtasks.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name: <release>-<chart>, or the release name when it already contains the chart name. */}}
{{- define "ragtasks.fullname" -}}
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

{{- define "ragtasks.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Selector labels of one component. Stable across upgrades: never helm.sh/chart or the version.
Call with (dict "root" $ "component" "gateway").
*/}}
{{- define "ragtasks.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ragtasks.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* All labels of one component's objects. Call with (dict "root" $ "component" "gateway"). */}}
{{- define "ragtasks.labels" -}}
helm.sh/chart: {{ include "ragtasks.chart" .root }}
{{ include "ragtasks.selectorLabels" . }}
app.kubernetes.io/part-of: ragtasks
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Labels of chart-wide objects (ConfigMap, Secret, ServiceAccount, rules, dashboards). */}}
{{- define "ragtasks.commonLabels" -}}
{{ include "ragtasks.labels" (dict "root" . "component" "common") }}
{{- end -}}

{{- define "ragtasks.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "ragtasks.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "ragtasks.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "ragtasks.secretName" -}}
{{- default (include "ragtasks.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{/*
Name of one component's objects: <fullname>-<component>, e.g. rt-ragtasks-worker-summarizer.
Every component template builds one context and hands it to the helpers here and in lib/:
  {{- $ctx := dict "root" $ "component" "gateway" "c" .Values.gateway }}
  {{- $_ := set $ctx "name" (include "ragtasks.componentName" $ctx) }}
*/}}
{{- define "ragtasks.componentName" -}}
{{- printf "%s-%s" (include "ragtasks.fullname" .root) .component -}}
{{- end -}}

{{/* The TriggerAuthentication the workers' ScaledObjects share. */}}
{{- define "ragtasks.triggerAuthenticationName" -}}
{{- printf "%s-rabbitmq" (include "ragtasks.fullname" .) -}}
{{- end -}}

{{/* Pod annotations shared by every component: a rollout when the config or secret changes. */}}
{{- define "ragtasks.checksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end -}}
