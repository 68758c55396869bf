{{/* The namespace of the namespaced objects: .Values.namespace, else the release namespace. */}}
{{- define "pso.namespace" -}}
{{- default .Release.Namespace .Values.namespace -}}
{{- end -}}

{{/* The labels every object carries (the same as manifests/). */}}
{{- define "pso.labels" -}}
app.kubernetes.io/name: pullsecret-operator
app.kubernetes.io/part-of: pullsecret-operator
{{- end -}}

{{/* The image reference: repository@digest, else repository:tag (default: appVersion). */}}
{{- define "pso.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}
{{- end -}}
