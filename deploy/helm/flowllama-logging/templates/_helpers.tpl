{{/* Names, labels and shared pieces of the flowllama-logging chart. */}}

{{- define "logging.fullname" -}}
{{- printf "%s-logging" .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}

{{- define "logging.labels" -}}
app.kubernetes.io/part-of: flowllama-logging
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "logging.selector" -}}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/name: {{ .name }}
{{- end -}}

{{- define "logging.secretName" -}}
{{- .Values.auth.existingSecret | default (printf "%s-credentials" (include "logging.fullname" .)) -}}
{{- end -}}

{{- define "logging.esName" -}}
{{- printf "%s-es" (include "logging.fullname" .) -}}
{{- end -}}

{{- define "logging.esUrl" -}}
{{- printf "http://%s:9200" (include "logging.esName" .) -}}
{{- end -}}

{{- define "logging.kibanaName" -}}
{{- printf "%s-kibana" (include "logging.fullname" .) -}}
{{- end -}}

{{- define "logging.fluentBitName" -}}
{{- printf "%s-fluent-bit" (include "logging.fullname" .) -}}
{{- end -}}

{{/* The container securityContext every container of this chart starts from. */}}
{{- define "logging.strictContainer" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* cluster.initial_master_nodes: every pod of the StatefulSet, comma-separated. */}}
{{- define "logging.masterNodes" -}}
{{- $nodes := list -}}
{{- range $i := until .replicas -}}
{{- $nodes = append $nodes (printf "%s-%d" $.name $i) -}}
{{- end -}}
{{- join "," $nodes -}}
{{- end -}}

{{/* The container log files to tail: those of the collected namespaces. */}}
{{- define "logging.tailPaths" -}}
{{- $paths := list -}}
{{- range $ns := .Values.collectNamespaces -}}
{{- if eq $ns "*" -}}
{{- $paths = append $paths "/var/log/containers/*.log" -}}
{{- else -}}
{{- $paths = append $paths (printf "/var/log/containers/*_%s_*.log" $ns) -}}
{{- end -}}
{{- end -}}
{{- join "," $paths -}}
{{- end -}}

{{/* Fluent Bit's pipeline: tail the CRI/docker log files (multiline parsers join partial
lines), enrich with pod metadata and merge the JSON line into the record, ship to
Elasticsearch with dots replaced, retries and a filesystem buffer. */}}
{{- define "logging.fluentBitConf" -}}
{{- $fb := .Values.fluentBit -}}
[SERVICE]
    Daemon                    Off
    Flush                     {{ $fb.flush }}
    Log_Level                 {{ $fb.logLevel }}
    HTTP_Server               On
    HTTP_Listen               0.0.0.0
    HTTP_Port                 2020
    Health_Check              On
    storage.path              /state/buffer
    storage.sync              normal
    storage.backlog.mem_limit {{ $fb.input.memBufLimit }}

[INPUT]
    Name                      tail
    Tag                       kube.*
    Path                      {{ include "logging.tailPaths" . }}
    multiline.parser          cri, docker
    DB                        /state/tail.db
    DB.locking                true
    Mem_Buf_Limit             {{ $fb.input.memBufLimit }}
    Buffer_Chunk_Size         {{ $fb.input.bufferChunkSize }}
    Buffer_Max_Size           {{ $fb.input.bufferMaxSize }}
    Skip_Long_Lines           On
    Refresh_Interval          {{ $fb.input.refreshInterval }}
    storage.type              filesystem

[FILTER]
    Name                      kubernetes
    Match                     kube.*
    Kube_URL                  https://kubernetes.default.svc:443
    Kube_Tag_Prefix           kube.var.log.containers.
    Merge_Log                 On
    Keep_Log                  Off
    K8S-Logging.Parser        Off
    K8S-Logging.Exclude       On
    Labels                    On
    Annotations               Off
    Buffer_Size               256k

[OUTPUT]
    Name                      es
    Match                     kube.*
    Host                      {{ include "logging.esName" . }}
    Port                      9200
    HTTP_User                 fluent-bit
    HTTP_Passwd               ${FLUENT_BIT_PASSWORD}
    Logstash_Format           On
    Logstash_Prefix           {{ .Values.indexPrefix }}
    Logstash_DateFormat       %Y.%m.%d
    Time_Key                  @timestamp
    Time_Key_Nanos            On
    Replace_Dots              On
    Suppress_Type_Name        On
    Write_Operation           create
    Trace_Error               On
    Retry_Limit               {{ $fb.output.retryLimit }}
    storage.total_limit_size  {{ $fb.output.storageTotalLimitSize }}
{{- end -}}
