{{/* Names, labels and the pieces every FlowLlama pod shares. */}}

{{- define "flowllama.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "flowllama.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "api") */}}
{{- define "flowllama.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "flowllama.componentLabels" -}}
{{ include "flowllama.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "flowllama.image" -}}
{{- include "flowllama.imageRef" (dict "image" .Values.image "tag" (default .Chart.AppVersion .Values.image.tag)) -}}
{{- end -}}

{{/* repository:tag, or repository:tag@digest when a digest is given (dict "image" . "tag" t) */}}
{{- define "flowllama.imageRef" -}}
{{- if .image.digest -}}
{{- printf "%s:%s@%s" .image.repository .tag .image.digest -}}
{{- else -}}
{{- printf "%s:%s" .image.repository .tag -}}
{{- end -}}
{{- end -}}

{{- define "flowllama.secretName" -}}
{{- default (printf "%s-secrets" (include "flowllama.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "flowllama.configName" -}}
{{- printf "%s-config" (include "flowllama.fullname" .) -}}
{{- end -}}

{{- define "flowllama.host" -}}
{{- $root := .root -}}
{{- default (printf "%s.%s" .name $root.Values.domain) (index $root.Values.ingress.hosts .name) -}}
{{- end -}}

{{- define "flowllama.ollamaService" -}}
{{- printf "%s-ollama" (include "flowllama.fullname" .) -}}
{{- end -}}

{{/* Refuse a release without its required credentials (rendered once, from secret.yaml). */}}
{{- define "flowllama.requireSecrets" -}}
{{- if not .Values.secrets.existingSecret -}}
{{- if not .Values.secrets.databaseUrl -}}
{{- fail "secrets.databaseUrl is required (the PostgreSQL URL), or name a Secret holding it in secrets.existingSecret" -}}
{{- end -}}
{{- if not .Values.secrets.jwtSecret -}}
{{- fail "secrets.jwtSecret is required (32+ random characters, e.g. `openssl rand -hex 32`), or name a Secret holding it in secrets.existingSecret" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Pod-level security context of the FlowLlama pods. */}}
{{- define "flowllama.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.runAsUser }}
runAsGroup: {{ .Values.runAsGroup }}
fsGroup: {{ .Values.runAsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Container-level security context shared by every container of the chart. */}}
{{- define "flowllama.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* The environment of every FlowLlama container: the ConfigMap, then each credential from
     the Secret (optional ones may be absent from an existingSecret). */}}
{{- define "flowllama.env" -}}
{{- $secret := include "flowllama.secretName" . -}}
{{- $keys := .Values.secrets.keys -}}
- name: FLOWLLAMA_DATABASE_URL
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: {{ $keys.databaseUrl }}}
- name: FLOWLLAMA_AUTH__JWT_SECRET
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: {{ $keys.jwtSecret }}}
{{- range $setting, $env := dict "smtpPassword" "FLOWLLAMA_MAIL__SMTP_PASSWORD" "metricsToken" "FLOWLLAMA_HTTP__METRICS_TOKEN" "webhookSecretKey" "FLOWLLAMA_WEBHOOKS__SECRET_KEY" }}
{{- if or $.Values.secrets.existingSecret (index $.Values.secrets $setting) }}
- name: {{ $env }}
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: {{ index $keys $setting }}, optional: true}
{{- end }}
{{- end }}
{{- $extra := ternary .Values.secrets.existingExtraKeys (keys .Values.secrets.extra | sortAlpha) (ne .Values.secrets.existingSecret "") }}
{{- range $extra }}
- name: {{ . }}
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: {{ . }}}
{{- end }}
{{- end -}}

{{/* Writable places of a read-only root filesystem (the image's HOME/data dir and /tmp). */}}
{{- define "flowllama.volumeMounts" -}}
- {name: data, mountPath: /var/lib/flowllama}
- {name: tmp, mountPath: /tmp}
{{- end -}}

{{- define "flowllama.volumes" -}}
- name: data
  emptyDir: {sizeLimit: {{ .Values.dataVolumeSizeLimit }}}
- name: tmp
  emptyDir: {sizeLimit: 1Gi}
{{- end -}}

{{/* Pod spec fields shared by the chart's FlowLlama pods (dict "root" $ "component" name "sa" serviceAccountName "token" bool). */}}
{{- define "flowllama.podCommon" -}}
serviceAccountName: {{ .sa }}
automountServiceAccountToken: {{ .token }}
securityContext:
  {{- include "flowllama.podSecurityContext" .root | nindent 2 }}
{{- with .root.Values.image.pullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{- end -}}
