{{/*
The settings the ConfigMap carries, rendered from one map so that a new setting is one key in
values.yaml (`config.<name>`, with its `# --` comment, default and schema entry) and no template
change. Each key of `config` but `extra` becomes RAGTASKS_<KEY IN UPPER SNAKE CASE>, the variable of
the settings field of the same name (`llmTimeoutSeconds` -> RAGTASKS_LLM_TIMEOUT_SECONDS ->
`llm_timeout_seconds`); tests/deploy checks every key names a settings field. Then each worker's
RAGTASKS_<WORKER>_CONCURRENCY (the value its command line also carries), then `config.extra`
under its own names. Values are quoted: ConfigMap data holds strings. An empty value ("") is left
out, so the setting keeps the application's own default (unset); tests/deploy/test_chart_settings.py
checks that every settings field is a `config` key, a secret, or excluded with a reason. Call with
the root context.
*/}}
{{- define "ragtasks.lib.settings" -}}
{{- range $key, $value := omit .Values.config "extra" }}
{{- if not (or (kindIs "invalid" $value) (eq (toString $value) "")) }}
{{ printf "RAGTASKS_%s" ($key | snakecase | upper) }}: {{ include "ragtasks.lib.settingValue" $value | quote }}
{{- end }}
{{- end }}
{{- range $worker, $w := .Values.workers }}
RAGTASKS_{{ upper $worker }}_CONCURRENCY: {{ $w.concurrency | quote }}
{{- end }}
{{- range $key, $value := .Values.config.extra }}
{{ $key }}: {{ $value | quote }}
{{- end }}
{{- end -}}

{{/*
One `config` value as its variable's text: a list joined with commas (the settings split list
fields on commas), a whole number without the exponent YAML's float64 would print (4194304, not
4.194304e+06), anything else as it is.
*/}}
{{- define "ragtasks.lib.settingValue" -}}
{{- if kindIs "slice" . -}}
{{ join "," . }}
{{- else if and (kindIs "float64" .) (eq (floor .) .) -}}
{{ int64 . }}
{{- else -}}
{{ . }}
{{- end -}}
{{- end -}}
