{{/* Names, labels and images shared by the templates of the pyworkflow-retention-operator chart. */}}

{{- define "pyworkflow-retention.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: the chart name, prefixed by the release name unless it already contains it. */}}
{{- define "pyworkflow-retention.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "pyworkflow-retention.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pyworkflow-retention.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end }}

{{- define "pyworkflow-retention.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "pyworkflow-retention.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: pyworkflow
{{- end }}

{{- define "pyworkflow-retention.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "pyworkflow-retention.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "pyworkflow-retention.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The run pods' image: runImage when set, else the controller's own image (one image for both). */}}
{{- define "pyworkflow-retention.runImage" -}}
{{- if .Values.runImage.repository }}
{{- printf "%s:%s" .Values.runImage.repository (default (default .Chart.AppVersion .Values.image.tag) .Values.runImage.tag) }}
{{- else }}
{{- include "pyworkflow-retention.image" . }}
{{- end }}
{{- end }}

{{- define "pyworkflow-retention.leaderElectionNamespace" -}}
{{- default .Release.Namespace .Values.leaderElection.namespace }}
{{- end }}
