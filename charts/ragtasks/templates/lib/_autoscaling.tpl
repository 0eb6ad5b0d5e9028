{{/*
Autoscalers. Both scale the component's Deployment, which then leaves `replicas` out.
Call with the component context (dict "root" $ "component" ... "name" <Deployment name> ...).
*/}}

{{/*
A CPU HorizontalPodAutoscaler. Besides the context: "minReplicas", "maxReplicas" and
"targetCPU" (average utilisation, percent).
*/}}
{{- define "ragtasks.lib.hpa" -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ .name }}
  labels:
    {{- include "ragtasks.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ .name }}
  minReplicas: {{ .minReplicas }}
  maxReplicas: {{ .maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ .targetCPU }}
{{- end -}}

{{/*
A KEDA ScaledObject on one RabbitMQ queue, from a worker's `autoscaling` block. Besides the
context: "queue". protocol http reads the management API, whose message count includes
unacknowledged (running, acks_late) messages, so busy workers are not scaled away.
*/}}
{{- define "ragtasks.lib.scaledObject" -}}
{{- $a := .c.autoscaling }}
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: {{ .name }}
  labels:
    {{- include "ragtasks.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ .name }}
  minReplicaCount: {{ $a.minReplicas }}
  maxReplicaCount: {{ $a.maxReplicas }}
  pollingInterval: {{ $a.keda.pollingInterval }}
  cooldownPeriod: {{ $a.keda.cooldownPeriod }}
  advanced:
    horizontalPodAutoscalerConfig:
      behavior:
        scaleDown:
          # Scaling down SIGTERMs a worker that then drains for up to its grace period: go slowly.
          stabilizationWindowSeconds: 300
          policies:
            - type: Pods
              value: 1
              periodSeconds: 120
  triggers:
    - type: rabbitmq
      metadata:
        protocol: {{ $a.keda.protocol }}
        queueName: {{ .queue }}
        vhostName: {{ $a.keda.vhostName | quote }}
        mode: QueueLength
        value: {{ $a.keda.queueLength | quote }}
      authenticationRef:
        name: {{ include "ragtasks.triggerAuthenticationName" .root }}
{{- end -}}
