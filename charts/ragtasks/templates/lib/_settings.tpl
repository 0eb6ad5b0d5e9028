{{/*
The settings the ConfigMap carries, rendered from one map so that a new setting is one key in
values.yaml (`config.<name>`, with its `# --` comment, default and schema entry) and no template
change. Each key of `config` but `extra` becomes RAGTASKS_<KEY IN UPPER SNAKE CASE>, the variable of
the settings field of the same name (`llmTimeoutSeconds` -> RAGTASKS_LLM_TIMEOUT_SECONDS ->
`llm_timeout_seconds`); tests/deploy checks every key names a settings field. Then each worker's
RAGTASKS_<WORKER>_CONCURRENCY (the value its command line also carries), then `config.extra`
under its own names. Values are quoted: ConfigMap data holds strings. Call with the root context.
*/}}
{{- define "ragtasks.lib.settings" -}}
{{- range $key, $value := omit .Values.config "extra" }}
{{ printf "RAGTASKS_%s" ($key | snakecase | upper) }}: {{ $value | quote }}
{{- end }}
{{- range $worker, $w := .Values.workers }}
RAGTASKS_{{ upper $worker }}_CONCURRENCY: {{ $w.concurrency | quote }}
{{- end }}
{{- range $key, $value := .Values.config.extra }}
{{ $key }}: {{ $value | quote }}
{{- end }}
{{- end -}}
