{{/*
The PodDisruptionBudget of one component, or nothing when its `podDisruptionBudget.enabled` is off.
Call with the component context: (dict "root" $ "component" "gateway" "name" <object name>
"c" <component values>).
*/}}
{{- define "ragtasks.lib.pdb" -}}
{{- if .c.podDisruptionBudget.enabled }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ .name }}
  labels:
    {{- include "ragtasks.labels" . | nindent 4 }}
spec:
  maxUnavailable: {{ .c.podDisruptionBudget.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "ragtasks.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end -}}
