{{/*
The relabelling both scrape configs share: job="ragtasks-<component>", whatever the release is
called; the PrometheusRule's up{job=~"ragtasks.*"} alert and the dashboards select on it.
*/}}
{{- define "ragtasks.lib.jobRelabelings" -}}
relabelings:
  - sourceLabels: [__meta_kubernetes_pod_label_app_kubernetes_io_component]
    targetLabel: job
    replacement: ragtasks-$1
{{- end -}}
