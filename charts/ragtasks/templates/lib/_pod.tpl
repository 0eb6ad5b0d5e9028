{{/*
What every component's pod template shares. Call each with the component context
(see ragtasks.componentName in _helpers.tpl).
*/}}

{{/*
The pod template's metadata: the component's labels (plus "podExtraLabels", a map, if given) and
its `podLabels`; the config/secret checksums (plus "podExtraAnnotations") and its `podAnnotations`.
*/}}
{{- define "ragtasks.lib.podMetadata" -}}
labels:
  {{- include "ragtasks.labels" . | nindent 2 }}
  {{- with .podExtraLabels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
  {{- with .c.podLabels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
annotations:
  {{- include "ragtasks.checksums" .root | nindent 2 }}
  {{- with .podExtraAnnotations }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
  {{- with .c.podAnnotations }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end -}}

{{/*
The pod-spec fields every component shares. Call with the component context (plus
"extraVolumes", a list, for a component's own volumes).
*/}}
{{- define "ragtasks.lib.podCommon" -}}
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
  {{- with .extraVolumes }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end -}}

{{/*
A file of the ConfigMap `<fullname>-<volume>`, mounted read-only at `dir`, its path (`dir`/`file`)
in the variable `env`, and a `checksum/<volume>` annotation of its `content`, so that a changed file
rolls the pods (a mounted file changes under a running process otherwise, or not at all). Adds to
the context's "podExtraAnnotations", "extraVolumes", "extraVolumeMounts" and "extraEnvVars" (a pod
may mount several: the summarizer takes the routes file and its instruction); renders nothing.
Call with (dict "ctx" $ctx "volume" "alerter-routes" "dir" "/etc/ragtasks/alerter" "file"
"routes.yaml" "env" "RAGTASKS_ALERT_ROUTES_FILE" "content" $text).
*/}}
{{- define "ragtasks.lib.configMapFile" -}}
{{- $ctx := .ctx }}
{{- $configMap := printf "%s-%s" (include "ragtasks.fullname" $ctx.root) .volume }}
{{- $_ := set $ctx "podExtraAnnotations" (set ($ctx.podExtraAnnotations | default (dict)) (printf "checksum/%s" .volume) (.content | sha256sum)) }}
{{- $_ = set $ctx "extraVolumes" (append ($ctx.extraVolumes | default (list)) (dict "name" .volume "configMap" (dict "name" $configMap))) }}
{{- $_ = set $ctx "extraVolumeMounts" (append ($ctx.extraVolumeMounts | default (list)) (dict "name" .volume "mountPath" .dir "readOnly" true)) }}
{{- $_ = set $ctx "extraEnvVars" (append ($ctx.extraEnvVars | default (list)) (dict "name" .env "value" (printf "%s/%s" .dir .file))) }}
{{- end -}}

{{/*
Container fields every component shares. Call with the component context, plus "queueMetrics"
true for the components that read RabbitMQ's management API (gateway, Flower), and
"extraEnvVars" / "extraVolumeMounts" (lists) for a component's own variables and mounts.
*/}}
{{- define "ragtasks.lib.containerCommon" -}}
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
  {{- with include "ragtasks.lib.otelEnv" .root }}
  {{- . | trim | nindent 2 }}
  {{- end }}
  {{- with .extraEnvVars }}
  {{- toYaml . | nindent 2 }}
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
  {{- with .extraVolumeMounts }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end -}}


{{/*
The standard OpenTelemetry variables from `otel`, the same in every pod; nothing when no endpoint is
set (tracing off). Each process names itself ragtasks-<component> unless OTEL_SERVICE_NAME is set.
*/}}
{{- define "ragtasks.lib.otelEnv" -}}
{{- with .Values.otel }}
{{- if .endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ .endpoint | quote }}
- name: OTEL_TRACES_SAMPLER
  value: {{ .sampler | quote }}
{{- if .samplerArg }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ .samplerArg | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}
