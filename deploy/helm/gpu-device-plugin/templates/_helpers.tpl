{{/*
_helpers.tpl: names, labels and the decisions the templates share: which
config file, which security context, whether MIG may be in use. Names and
selector labels are those NVIDIA's chart gives (the name defaults to
"nvidia-device-plugin", not this chart's name), so helm upgrade from
NVIDIA's chart keeps the DaemonSet's immutable selector.
*/}}

{{- define "gdp.name" -}}
{{- default "nvidia-device-plugin" .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gdp.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "gdp.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "gdp.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride -}}
{{- end -}}

{{- define "gdp.templateLabels" -}}
app.kubernetes.io/name: {{ include "gdp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- with .Values.selectorLabelsOverride }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "gdp.selectorLabels" -}}
{{- if .Values.selectorLabelsOverride -}}
{{ toYaml .Values.selectorLabelsOverride }}
{{- else -}}
{{ include "gdp.templateLabels" . }}
{{- end -}}
{{- end -}}

{{- define "gdp.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "gdp.templateLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "gdp.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* The ConfigMap of config files: config.name, or the one rendered from
config.map; empty when neither is set. */}}
{{- define "gdp.configMapName" -}}
{{- if .Values.config.name -}}
{{- .Values.config.name -}}
{{- else if .Values.config.map -}}
{{- printf "%s-configs" (include "gdp.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* "true" when the config-manager runs (init container and sidecar that
follow the node label nvidia.com/device-plugin.config): a ConfigMap of
configs is in use and the label may choose among them, i.e. config.name
(its entries are not known here) or more than one config.map entry; or
configManager.enabled asks for it with a single entry too. */}}
{{- define "gdp.configManager" -}}
{{- $c := .Values.config -}}
{{- if and (include "gdp.configMapName" .) (or $c.name (gt (len $c.map) 1) .Values.configManager.enabled) -}}
true
{{- else -}}
false
{{- end -}}
{{- end -}}

{{/* The key of the config file used without the config-manager, chosen
as NVIDIA's config-manager chooses when the node has no label: config.default, else the first
fallback strategy that applies. "" means no config file ("empty"). With
an external ConfigMap (config.name) its keys are not known here, so
"named" assumes a "default" entry and "single" cannot be decided. */}}
{{- define "gdp.configKey" -}}
{{- $c := .Values.config -}}
{{- $key := "" -}}
{{- $found := false -}}
{{- if $c.default -}}
{{- $key = $c.default -}}
{{- $found = true -}}
{{- else -}}
{{- range $c.fallbackStrategies -}}
{{- if not $found -}}
{{- if and (eq . "named") (or $c.name (hasKey $c.map "default")) -}}
{{- $key = "default" -}}
{{- $found = true -}}
{{- else if and (eq . "single") (not $c.name) (eq (len $c.map) 1) -}}
{{- $key = first (keys $c.map) -}}
{{- $found = true -}}
{{- else if eq . "empty" -}}
{{- $found = true -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if not $found -}}
{{- fail (printf "config: no config file selected from %s (entries: %s): set config.default, or a config.fallbackStrategies entry that applies (named, single, empty) (with more than one entry the config-manager follows the node label nvidia.com/device-plugin.config)" (include "gdp.configMapName" .) (keys $c.map | sortAlpha | join ", " | default "unknown")) -}}
{{- end -}}
{{- if and $key $c.map (not (hasKey $c.map $key)) -}}
{{- fail (printf "config.default: %q is not an entry of config.map (entries: %s)" $key (keys $c.map | sortAlpha | join ", ")) -}}
{{- end -}}
{{- $key -}}
{{- end -}}

{{/* "true" when MIG may be in use: migStrategy other than none, or a
config file (which may set it), as NVIDIA's chart decides. */}}
{{- define "gdp.migPossible" -}}
{{- if .Values.migStrategy -}}
{{- ne .Values.migStrategy "none" -}}
{{- else -}}
{{- ne (include "gdp.configMapName" .) "" -}}
{{- end -}}
{{- end -}}

{{- define "gdp.volumeMountsPossible" -}}
{{- if .Values.deviceListStrategy -}}
{{- contains "volume-mounts" (include "gdp.deviceListStrategy" .) -}}
{{- else -}}
{{- ne (include "gdp.configMapName" .) "" -}}
{{- end -}}
{{- end -}}

{{/* deviceListStrategy as the plugin's comma-separated list (NVIDIA's
value is a string; a YAML list is taken too). */}}
{{- define "gdp.deviceListStrategy" -}}
{{- if kindIs "slice" .Values.deviceListStrategy -}}
{{- join "," .Values.deviceListStrategy -}}
{{- else if .Values.deviceListStrategy -}}
{{- .Values.deviceListStrategy -}}
{{- end -}}
{{- end -}}

{{/* NVIDIA's rules: the given securityContext; else privileged with
compatWithCPUManager; else CAP_SYS_ADMIN when MIG or volume-mounts may
be used; else no privilege escalation and no capabilities. */}}
{{- define "gdp.securityContext" -}}
{{- if .Values.securityContext -}}
{{ toYaml .Values.securityContext }}
{{- else if .Values.compatWithCPUManager -}}
privileged: true
{{- else if or (eq (include "gdp.migPossible" .) "true") (eq (include "gdp.volumeMountsPossible" .) "true") -}}
capabilities:
  add:
  - SYS_ADMIN
{{- else -}}
allowPrivilegeEscalation: false
capabilities:
  drop: ["ALL"]
{{- end -}}
{{- end -}}


{{/* One config-manager container: the init container (oneshot: set the
link before the plugin starts, nobody to signal yet) or the sidecar
(follow the label, SIGHUP the plugin). Called with (dict "ctx" $ "init"
BOOL). The same image as the plugin; env names are NVIDIA's. */}}
{{- define "gdp.configManagerContainer" -}}
{{- $v := .ctx.Values -}}
- name: {{ ternary "config-manager-init" "config-manager" .init }}
  image: {{ include "gdp.image" .ctx }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  command: ["/usr/bin/gdp-config-manager"]
  env:
  - name: ONESHOT
    value: {{ ternary "true" "false" .init | quote }}
  - name: KUBECONFIG
    value: ""
  - name: NODE_NAME
    valueFrom:
      fieldRef:
        fieldPath: spec.nodeName
  - name: NODE_LABEL
    value: nvidia.com/device-plugin.config
  - name: CONFIG_FILE_SRCDIR
    value: /available-configs
  - name: CONFIG_FILE_DST
    value: /config/config.yaml
  - name: DEFAULT_CONFIG
    value: {{ $v.config.default | quote }}
  - name: FALLBACK_STRATEGIES
    value: {{ join "," $v.config.fallbackStrategies | quote }}
  - name: SEND_SIGNAL
    value: {{ ternary "false" "true" .init | quote }}
  - name: SIGNAL
    value: "1"
  - name: PROCESS_TO_SIGNAL
    value: nvidia-device-plugin
  securityContext:
    allowPrivilegeEscalation: false
    capabilities:
      drop: ["ALL"]
  volumeMounts:
  - name: available-configs
    mountPath: /available-configs
    readOnly: true
  - name: config
    mountPath: /config
{{- end -}}
