{{/*
The install namespace of every namespaced object (values namespace.name).
*/}}
{{- define "kubemacpool.namespace" -}}
{{ .Values.namespace.name }}
{{- end }}

{{/*
Labels of every object: the kustomize install's app.kubernetes.io/name, and
the release's labels (test/chart lists them as the only difference).
*/}}
{{- define "kubemacpool.labels" -}}
app.kubernetes.io/name: kubemacpool
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{/*
The labels of the server's Pods, and so the selector of the Deployment, the
Service, the NetworkPolicies, the PodDisruptionBudget and the
ServiceMonitor. The same as the kustomize install's, so that switching
between the two keeps the Deployment's immutable selector.
*/}}
{{- define "kubemacpool.selectorLabels" -}}
app.kubernetes.io/name: kubemacpool
app.kubernetes.io/component: apiserver
{{- end }}

{{/*
An image reference from {repository, tag}.
*/}}
{{- define "kubemacpool.image" -}}
{{ .repository }}:{{ .tag }}
{{- end }}

{{/*
The ServiceAccount subject of the server's bindings.
*/}}
{{- define "kubemacpool.serverSubject" -}}
- kind: ServiceAccount
  name: kubemacpool-apiserver
  namespace: {{ include "kubemacpool.namespace" . }}
{{- end }}

{{/*
A webhook's namespaceSelector term for its mode: opt-out manages every
namespace not labelled ignore, opt-in only those labelled allocate.
*/}}
{{- define "kubemacpool.webhookModeTerm" -}}
- key: {{ .key }}
  {{- if eq .mode "opt-in" }}
  operator: In
  values: ["allocate"]
  {{- else }}
  operator: NotIn
  values: ["ignore"]
  {{- end }}
{{- end }}
