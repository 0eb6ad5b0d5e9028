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

{{/* Pod annotations shared by every component: a rollout when the config or secret changes. */}}
{{- define "ragtasks.checksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end -}}

{{/*
The pod-spec fields every component shares. Call with (dict "root" $ "c" <component values>).
*/}}
{{- define "ragtasks.podCommon" -}}
serviceAccountName: {{ include "ragtasks.serviceAccountName" .root }}
automountServiceAccountToken: {{ .root.Values.serviceAccount.automountServiceAccountToken }}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
terminationGracePeriodSeconds: {{ .c.terminationGracePeriodSeconds }}
{{- with .c.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .c.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .c.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .c.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .c.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  # prometheus_client multiprocess files; the start-up script wipes it before the app starts.
  - name: metrics-multiproc
    emptyDir:
      sizeLimit: {{ .root.Values.scratchSizeLimit }}
  # The root filesystem is read-only: /tmp is the one writable place (beat's schedule file too).
  - name: tmp
    emptyDir:
      sizeLimit: {{ .root.Values.scratchSizeLimit }}
{{- end -}}

{{/*
Container fields every component shares. Call with (dict "root" $ "c" <component values>), plus
"queueMetrics" true for the components that read RabbitMQ's management API (gateway, Flower).
*/}}
{{- define "ragtasks.containerCommon" -}}
image: {{ include "ragtasks.image" .root }}
imagePullPolicy: {{ .root.Values.image.pullPolicy }}
command: ["/usr/local/bin/docker-entrypoint.sh"]
workingDir: /tmp
envFrom:
  - configMapRef:
      name: {{ include "ragtasks.fullname" .root }}
  - secretRef:
      name: {{ include "ragtasks.secretName" .root }}
env:
  - name: PROMETHEUS_MULTIPROC_DIR
    value: /tmp/ragtasks-metrics
  {{- if .queueMetrics }}
  {{- /*
  The Secret's RABBITMQ_MANAGEMENT_URL (the key KEDA's TriggerAuthentication reads) under the name
  the settings read. envFrom cannot rename a key, hence valueFrom; optional, so a Secret without the
  key leaves the settings' default (the broker's host on port 15672, the broker's credentials).
  */}}
  - name: RAGTASKS_RABBITMQ_MANAGEMENT_URL
    valueFrom:
      secretKeyRef:
        name: {{ include "ragtasks.secretName" .root }}
        key: RABBITMQ_MANAGEMENT_URL
        optional: true
  {{- end }}
  {{- with .c.extraEnv }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
securityContext:
  {{- toYaml .root.Values.securityContext | nindent 2 }}
{{- with .c.resources }}
resources:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
  - name: metrics-multiproc
    mountPath: /tmp/ragtasks-metrics
{{- end -}}
