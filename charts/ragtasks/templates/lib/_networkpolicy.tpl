{{/*
A NetworkPolicy admitting traffic only to one component's own port, from the given peers (any
source when empty). Egress is left open: RabbitMQ, Redis, MongoDB and the LLM API live outside the
release. Call with the component context plus "port" and "from"; renders nothing unless
`networkPolicy.enabled`.
*/}}
{{- define "ragtasks.lib.networkPolicy" -}}
{{- if .root.Values.networkPolicy.enabled }}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ .name }}
  labels:
    {{- include "ragtasks.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "ragtasks.selectorLabels" . | nindent 6 }}
  policyTypes: ["Ingress"]
  ingress:
    - ports:
        - port: {{ .port }}
          protocol: TCP
      {{- with .from }}
      from:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}
{{- end -}}
