{{/*
The container probes a component's values define (`readinessProbe`, `livenessProbe`), as they are:
the gateway and Flower have both, the workers and beat only a liveness probe (values.schema.json
admits no other probe keys). Renders nothing when there is none. Call with the component context.
*/}}
{{- define "ragtasks.lib.probes" -}}
{{- with pick .c "readinessProbe" "livenessProbe" }}
{{- toYaml . }}
{{- end }}
{{- end -}}
