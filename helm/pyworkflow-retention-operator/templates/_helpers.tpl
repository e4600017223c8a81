{{/* Names, labels and images shared by the templates of the pyworkflow-retention-operator chart. */}}

{{- define "pyworkflow-retention.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The release's full name: fullnameOverride, else the chart name (or nameOverride) prefixed by the
release name unless the release name already contains it. Truncated to 63 characters (a label value).
*/}}
{{- define "pyworkflow-retention.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* "<fullname>-<suffix>", still within 63 characters. */}}
{{- define "pyworkflow-retention.suffixed" -}}
{{- $root := index . 0 }}
{{- $suffix := index . 1 }}
{{- printf "%s-%s" (include "pyworkflow-retention.fullname" $root | trunc (int (sub 62 (len $suffix))) | trimSuffix "-") $suffix }}
{{- end }}

{{- define "pyworkflow-retention.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pyworkflow-retention.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end }}

{{- define "pyworkflow-retention.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "pyworkflow-retention.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: pyworkflow
{{- end }}

{{- define "pyworkflow-retention.labels" -}}
{{ include "pyworkflow-retention.commonLabels" . }}
app.kubernetes.io/component: controller
{{- end }}

{{/* The CRDs: no component (they are the API, not the controller), so no selector ever matches them. */}}
{{- define "pyworkflow-retention.crdLabels" -}}
{{ include "pyworkflow-retention.commonLabels" . }}
{{- end }}

{{- define "pyworkflow-retention.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "pyworkflow-retention.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository@digest when a digest is set (the tag is then ignored), else repository:tag (tag defaults to appVersion). */}}
{{- define "pyworkflow-retention.imageRef" -}}
{{- $image := index . 0 }}
{{- $defaultTag := index . 1 }}
{{- if $image.digest }}
{{- printf "%s@%s" $image.repository $image.digest }}
{{- else }}
{{- printf "%s:%s" $image.repository (default $defaultTag $image.tag) }}
{{- end }}
{{- end }}

{{- define "pyworkflow-retention.image" -}}
{{- include "pyworkflow-retention.imageRef" (list .Values.image .Chart.AppVersion) }}
{{- end }}

{{/* The run pods' image: runImage when set, else the controller's own image (one image for both). */}}
{{- define "pyworkflow-retention.runImage" -}}
{{- if .Values.runImage.repository }}
{{- include "pyworkflow-retention.imageRef" (list .Values.runImage (default .Chart.AppVersion .Values.image.tag)) }}
{{- else }}
{{- include "pyworkflow-retention.image" . }}
{{- end }}
{{- end }}

{{- define "pyworkflow-retention.leaderElectionNamespace" -}}
{{- default .Release.Namespace .Values.leaderElection.namespace }}
{{- end }}

{{/*
Whether the ValidatingAdmissionPolicy is rendered: enabled, and the API server serves it. Against a
cluster helm knows the served kinds; offline (`helm template`) it knows only group/versions, so a
Kubernetes version of 1.30 or later (where the v1 API is GA and on by default) stands in for the kind.
Offline is told apart by a kind every cluster serves (ValidatingWebhookConfiguration) being unknown.
*/}}
{{- define "pyworkflow-retention.admissionPolicyEnabled" -}}
{{- $caps := .Capabilities }}
{{- $served := or ($caps.APIVersions.Has "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy") (and ($caps.APIVersions.Has "admissionregistration.k8s.io/v1") (not ($caps.APIVersions.Has "admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration")) (semverCompare ">=1.30.0-0" $caps.KubeVersion.Version)) }}
{{- if and .Values.admissionPolicy.enabled $served }}true{{ end }}
{{- end }}

{{/* A list of strings as CEL string literals, comma-separated (images never contain quotes or backslashes). */}}
{{- define "pyworkflow-retention.celStrings" -}}
{{- $out := list }}
{{- range . }}
{{- if regexMatch "['\"\\\\]" . }}{{ fail (printf "image %q: quotes and backslashes are not allowed" .) }}{{ end }}
{{- $out = append $out (printf "'%s'" .) }}
{{- end }}
{{- join ", " $out }}
{{- end }}
