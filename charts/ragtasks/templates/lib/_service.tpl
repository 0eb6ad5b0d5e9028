{{/*
The ClusterIP (or NodePort/LoadBalancer) Service in front of a component's `http` port: the gateway
and Flower. Call with the component context; reads the component's `service` block.
*/}}
{{- define "ragtasks.lib.httpService" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ .name }}
  labels:
    {{- include "ragtasks.labels" . | nindent 4 }}
  {{- with .c.service.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ .c.service.type }}
  selector:
    {{- include "ragtasks.selectorLabels" . | nindent 4 }}
  ports:
    - name: http
      port: {{ .c.service.port }}
      targetPort: http
      protocol: TCP
{{- end -}}
