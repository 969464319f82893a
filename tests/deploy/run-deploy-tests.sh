#!/bin/sh
# run-deploy-tests.sh: the deploy/ manifests and the Helm chart, checked
# offline with the real tools: helm lint --strict; helm template over the
# values files of values/ (each must render, and say what the values ask
# for); every rendered object and every static manifest validated against
# the Kubernetes API schemas (k8s-validate.js, kubernetes-models); a
# misspelt key refused by values.schema.json, naming the key; kubectl
# kustomize over deploy/static.
#
# Usage: run-deploy-tests.sh SOURCE_ROOT
# Tools from GDP_TOOLS (default /opt/gdp-tools, where install-deps.sh puts
# them), else helm on PATH and NODE_PATH as set. Exits 77 (skipped) when
# helm, node or kubernetes-models is missing.
set -u

ROOT=${1:?usage: run-deploy-tests.sh SOURCE_ROOT}
GDP_TOOLS=${GDP_TOOLS:-/opt/gdp-tools}
HERE="$ROOT/tests/deploy"
CHART="$ROOT/deploy/helm/gpu-device-plugin"
PATH="$GDP_TOOLS/bin:$PATH"
NODE_PATH="$GDP_TOOLS/node/node_modules${NODE_PATH:+:$NODE_PATH}"
export PATH NODE_PATH

skip() {
	echo "SKIP: $1 (scripts/install-deps.sh installs it into" \
	    "$GDP_TOOLS)" >&2
	exit 77
}
command -v helm >/dev/null 2>&1 || skip "helm not found"
command -v node >/dev/null 2>&1 || skip "node not found"
node -e 'require("kubernetes-models/apps/v1/DaemonSet"); require("js-yaml")' \
    >/dev/null 2>&1 || skip "kubernetes-models or js-yaml not found"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM
failures=0
pass() { echo "ok - $1"; }
fail() { echo "not ok - $1" >&2; failures=$((failures + 1)); }

validate() {	# FILE NAME
	if node "$HERE/k8s-validate.js" "$1" >"$TMP/v.out" 2>&1; then
		pass "$2: every object valid against the API schema"
	else
		cat "$TMP/v.out" >&2
		fail "$2: schema validation"
	fi
}

# expect FILE NAME PATTERN...: each grep -E pattern must match the file.
expect() {
	f=$1 n=$2
	shift 2
	for p in "$@"; do
		if ! grep -Eq -- "$p" "$f"; then
			fail "$n: rendered output lacks /$p/"
			return
		fi
	done
	pass "$n: renders what the values ask for"
}

refute() {	# FILE NAME PATTERN
	if grep -Eq -- "$3" "$1"; then
		fail "$2: rendered output has /$3/"
	else
		pass "$2: no /$3/"
	fi
}

render() {	# VALUES-NAME: helm template into $TMP/NAME.yaml
	if helm template nvdp "$CHART" -n gpu-resources \
	    -f "$HERE/values/$1.yaml" >"$TMP/$1.yaml" 2>"$TMP/$1.err"; then
		pass "$1: helm template"
		validate "$TMP/$1.yaml" "$1"
	else
		cat "$TMP/$1.err" >&2
		fail "$1: helm template"
	fi
}

# The validator itself must refuse a bad object, or its passes mean nothing.
cat >"$TMP/bad.yaml" <<'YAML'
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: bad}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      tolerations: [{key: sku, operator: Maybe}]
      containers: [{name: c, image: i, resources: {limits: {memory: lots}}}]
YAML
if node "$HERE/k8s-validate.js" "$TMP/bad.yaml" >"$TMP/v.out" 2>&1; then
	fail "validator: accepted an invalid DaemonSet"
elif grep -q 'tolerations/0/operator' "$TMP/v.out"; then
	pass "validator: refuses an invalid DaemonSet, naming the path"
else
	cat "$TMP/v.out" >&2
	fail "validator: refused, without naming the bad path"
fi

# Static manifests.
for f in "$ROOT"/deploy/static/*.yaml; do
	case $f in */kustomization.yaml) continue ;; esac
	validate "$f" "static/$(basename "$f")"
done
# kubectl kustomize, when a kubectl is there (GDP_TOOLS puts it first).
if command -v kubectl >/dev/null 2>&1; then
	if kubectl kustomize "$ROOT/deploy/static" >"$TMP/kust.yaml" \
	    2>"$TMP/kust.err"; then
		pass "kubectl kustomize deploy/static"
		validate "$TMP/kust.yaml" "kustomize"
		expect "$TMP/kust.yaml" "kustomize: namespace and DaemonSet" \
		    'kind: Namespace' 'kind: DaemonSet' \
		    'image: gpu-device-plugin:0.1.0'
	else
		cat "$TMP/kust.err" >&2
		fail "kubectl kustomize deploy/static"
	fi
else
	echo "skip - kubectl kustomize: no kubectl"
fi
# The validation Job (issue 12): the article's Job, running gpu-validate.
V="$ROOT/deploy/validation/gpu-validate-job.yaml"
validate "$V" "validation/gpu-validate-job.yaml"
expect "$V" "validation: the article's Job" 'kind: Job' \
    'app: samples-tf-mnist-demo' 'image: gpu-validate:0.1.0' \
    'args: \["--max_steps", "500"\]' 'nvidia.com/gpu: 1' \
    'restartPolicy: OnFailure' 'key: "sku"' 'value: "gpu"' \
    'effect: "NoSchedule"'
# deploy/validation/build.sh tags the image with meson.build's version:
# the Job must name that tag.
ver=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "$ROOT/meson.build" |
    head -n 1)
expect "$V" "validation: the image tag is the project version ($ver)" \
    "image: gpu-validate:$ver\$"
S="$ROOT/deploy/static"
expect "$S/gpu-device-plugin.yaml" "static: the article's DaemonSet" \
    'namespace: gpu-resources' 'name: nvidia-device-plugin-daemonset' \
    'name: nvidia-device-plugin-ds' 'scheduler.alpha.kubernetes.io/critical-pod' \
    'key: CriticalAddonsOnly' 'key: nvidia.com/gpu' 'key: "sku"' \
    'value: "gpu"' 'priorityClassName: "system-node-critical"' \
    'allowPrivilegeEscalation: false' 'drop: \["ALL"\]' \
    'path: /var/lib/kubelet/device-plugins' 'name: FAIL_ON_INIT_ERROR' \
    'memory: 32Mi' 'memory: 128Mi' 'value: ":9402"' 'path: /healthz' \
    'path: /readyz' 'containerPort: 9402'
expect "$S/gpu-device-plugin-gfd.yaml" "static: node labels variant" \
    'name: GFD_OUTPUT_FILE' \
    'value: /etc/kubernetes/node-feature-discovery/features.d/gfd$' \
    'mountPath: /etc/kubernetes/node-feature-discovery/features.d$' \
    'path: /etc/kubernetes/node-feature-discovery/features.d$'
refute "$S/gpu-device-plugin.yaml" "static: the article's DaemonSet writes no labels" \
    'GFD_|features.d'
expect "$S/gpu-device-plugin-config.yaml" "static: config variant" \
    'kind: ConfigMap' 'name: CONFIG_FILE' 'value: /config/config.yaml' \
    'mountPath: /config'
expect "$S/gpu-device-plugin-cdi.yaml" "static: CDI variant" \
    'value: cdi-cri' 'path: /var/run/cdi' 'mountPath: /driver-root'
expect "$S/gpu-device-plugin-compat-with-cpumanager.yaml" \
    "static: CPUManager variant" 'name: PASS_DEVICE_SPECS' 'privileged: true'

# The chart.
if helm lint --strict "$CHART" -n gpu-resources >"$TMP/lint" 2>&1; then
	pass "helm lint --strict"
else
	cat "$TMP/lint" >&2
	fail "helm lint --strict"
fi
for v in defaults article time-slicing mig-mixed cdi cpumanager \
    nvidia-only multi-config no-metrics gfd pod-monitor service-monitor mps; do
	render "$v"
	if ! helm lint --strict "$CHART" -n gpu-resources \
	    -f "$HERE/values/$v.yaml" >"$TMP/lint" 2>&1; then
		cat "$TMP/lint" >&2
		fail "$v: helm lint --strict"
	fi
done

expect "$TMP/defaults.yaml" "defaults" 'name: nvdp-nvidia-device-plugin$' \
    'app.kubernetes.io/name: nvidia-device-plugin' \
    'feature.node.kubernetes.io/pci-10de.present' \
    'priorityClassName: system-node-critical' \
    'allowPrivilegeEscalation: false' 'value: compute,utility' \
    'name: METRICS_ADDRESS' 'value: ":9402"' 'containerPort: 9402' \
    'path: /healthz' 'path: /readyz'
# The MPS control daemon (issue 13): its own DaemonSet on MPS-capable
# nodes, privileged in the host's PID namespace, the plugin's config file,
# the MPS root at its host path and its shm/ at /dev/shm; pods that the
# plugin's DaemonSet does not select.
expect "$TMP/mps.yaml" "mps: the control daemon's DaemonSet" \
    'name: nvdp-nvidia-device-plugin-mps-control-daemon$' \
    'command: \["nvidia-device-plugin", "mps-control-daemon"\]' \
    'hostPID: true' 'privileged: true' 'nvidia.com/mps.capable: "true"' \
    'mountPath: /run/nvidia/mps$' 'path: /run/nvidia/mps/shm$' \
    'value: /available-configs/default$' 'memory: 16Mi'
if node -e '
	const fs = require("fs"), yaml = require("js-yaml");
	const ds = yaml.loadAll(fs.readFileSync(process.argv[1], "utf8"))
	    .filter((d) => d && d.kind === "DaemonSet");
	const sel = (d) => d.spec.selector.matchLabels;
	const picks = (a, b) => Object.entries(sel(a)).every(([k, v]) =>
	    b.spec.template.metadata.labels[k] === v);
	if (ds.length !== 2 || picks(ds[0], ds[1]) || picks(ds[1], ds[0]))
		process.exit(1);
    ' "$TMP/mps.yaml"; then
	pass "mps: neither DaemonSet selects the other's pods"
else
	fail "mps: the two DaemonSets' selectors overlap"
fi
if helm template nvdp "$CHART" -n gpu-resources -f "$HERE/values/mps.yaml" \
    --set mps.controlDaemon.enabled=false >"$TMP/mps-off.yaml" 2>&1; then
	refute "$TMP/mps-off.yaml" "mps.controlDaemon.enabled false" \
	    'mps-control-daemon'
else
	cat "$TMP/mps-off.yaml" >&2
	fail "mps.controlDaemon.enabled false: helm template"
fi
refute "$TMP/no-metrics.yaml" "metrics.enabled false: no endpoint" \
    'METRICS_ADDRESS|containerPort|livenessProbe|readinessProbe'
# The Prometheus Operator's monitors: off by default; on, each must find
# the pods' metrics port (monitor-check.js follows the selectors).
refute "$TMP/defaults.yaml" "defaults: no PodMonitor, ServiceMonitor, Service" \
    'monitoring.coreos.com|kind: Service$'
monitor() {	# VALUES KIND
	if node "$HERE/monitor-check.js" "$TMP/$1.yaml" "$2" >"$TMP/m.out" 2>&1
	then
		pass "$1: the $2 selects the plugin's pods and port"
	else
		cat "$TMP/m.out" >&2
		fail "$1: $2"
	fi
}
monitor pod-monitor PodMonitor
expect "$TMP/pod-monitor.yaml" "pod-monitor" 'kind: PodMonitor$' \
    'apiVersion: monitoring.coreos.com/v1' 'podMetricsEndpoints:' \
    'interval: 15s$' 'scrapeTimeout: 10s$' 'release: kube-prometheus-stack' \
    '__meta_kubernetes_pod_node_name' 'targetLabel: node$'
refute "$TMP/pod-monitor.yaml" "pod-monitor: no Service, no ServiceMonitor" \
    'kind: Service'
monitor service-monitor ServiceMonitor
expect "$TMP/service-monitor.yaml" "service-monitor" 'kind: ServiceMonitor$' \
    'kind: Service$' 'clusterIP: None' 'port: 9500$' 'containerPort: 9500$' \
    'targetPort: metrics$' 'value: ":9500"' 'interval: 30s$'
refute "$TMP/service-monitor.yaml" "service-monitor: no PodMonitor" \
    'kind: PodMonitor'
# metrics.prometheusRule: the rules file's groups as they stand, which
# promtool (where installed) accepts as rendered.
refute "$TMP/defaults.yaml" "defaults: no PrometheusRule" 'kind: PrometheusRule'
expect "$TMP/pod-monitor.yaml" "pod-monitor: the PrometheusRule" \
    'kind: PrometheusRule$' 'alert: GPUDevicePluginNotRegistered' \
    'record: gdp:allocate_errors:ratio_rate5m' \
    'summary: gpu-device-plugin on \{\{ \$labels.instance \}\}'
if node -e '
	const fs = require("fs"), yaml = require("js-yaml");
	const util = require("util");
	const docs = yaml.loadAll(fs.readFileSync(process.argv[1], "utf8"));
	const pr = docs.find((d) => d && d.kind === "PrometheusRule");
	const file = yaml.load(fs.readFileSync(process.argv[2], "utf8"));
	if (!pr || !util.isDeepStrictEqual(pr.spec.groups, file.groups))
		process.exit(1);
	fs.writeFileSync(process.argv[3], yaml.dump({groups: pr.spec.groups}));
    ' "$TMP/pod-monitor.yaml" "$CHART/files/gpu-device-plugin-rules.yaml" \
    "$TMP/rules.yaml"; then
	pass "pod-monitor: the PrometheusRule's groups are the rules file's"
	if command -v promtool >/dev/null 2>&1; then
		if promtool check rules "$TMP/rules.yaml" >"$TMP/p.out" 2>&1
		then
			pass "pod-monitor: promtool check rules on the rendered groups"
		else
			cat "$TMP/p.out" >&2
			fail "pod-monitor: promtool check rules"
		fi
	fi
else
	fail "pod-monitor: the PrometheusRule's groups differ from the file's"
fi
if helm install nvdp "$CHART" -n gpu-resources --dry-run=client \
    -f "$HERE/values/pod-monitor.yaml" >"$TMP/notes" 2>&1 &&
    grep -q 'Metrics: /metrics, /healthz, /readyz on port 9402' "$TMP/notes" &&
    grep -q 'a PodMonitor tells the Prometheus Operator to scrape it every 15s' \
    "$TMP/notes"; then
	pass "pod-monitor: NOTES says where the metrics are and who scrapes them"
else
	cat "$TMP/notes" >&2
	fail "pod-monitor: NOTES"
fi
refute "$TMP/defaults.yaml" "defaults: no flag the values leave null" \
    'MIG_STRATEGY|FAIL_ON_INIT_ERROR|PASS_DEVICE_SPECS|CONFIG_FILE|kind: ConfigMap'
refute "$TMP/defaults.yaml" "defaults: no node labels" \
    'GFD_|features.d'
# gfd.enabled: the plugin writes GFD's labels into the host's features.d.
expect "$TMP/gfd.yaml" "gfd" 'name: GFD_OUTPUT_FILE' \
    'value: /etc/kubernetes/node-feature-discovery/features.d/gfd$' \
    'name: GFD_NO_TIMESTAMP' 'name: nfd-features' \
    'mountPath: /etc/kubernetes/node-feature-discovery/features.d$' \
    'path: /etc/kubernetes/node-feature-discovery/features.d$' \
    'type: DirectoryOrCreate'
expect "$TMP/article.yaml" "article" 'key: sku' 'value: gpu' \
    'name: FAIL_ON_INIT_ERROR' 'value: "false"' \
    'scheduler.alpha.kubernetes.io/critical-pod'
refute "$TMP/article.yaml" "article: affinity cleared" 'nodeAffinity'
expect "$TMP/time-slicing.yaml" "time-slicing" 'kind: ConfigMap' \
    'name: nvdp-nvidia-device-plugin-configs' 'replicas: 10' \
    'value: /available-configs/default' 'checksum/config:' \
    'name: available-configs' '- SYS_ADMIN'
refute "$TMP/time-slicing.yaml" "time-slicing: one config, no config-manager" \
    'initContainers|shareProcessNamespace|kind: ClusterRole|config-manager'
# Several configs: the config-manager follows the node label (init
# container and sidecar from the plugin's image, one PID namespace, the
# link in an emptyDir), with the RBAC to read and watch nodes.
expect "$TMP/multi-config.yaml" "multi-config" 'kind: ConfigMap' \
    'ts-4: \|' 'shareProcessNamespace: true' 'initContainers:' \
    'name: config-manager-init' 'name: config-manager$' \
    'command: \["/usr/bin/gdp-config-manager"\]' \
    'name: ONESHOT' 'fieldPath: spec.nodeName' \
    'value: nvidia.com/device-plugin.config' \
    'value: /available-configs$' 'value: /config/config.yaml' \
    'value: "named,single"' 'name: SEND_SIGNAL' 'value: nvidia-device-plugin' \
    'mountPath: /config' 'emptyDir: \{\}' \
    'serviceAccountName: nvdp-nvidia-device-plugin' \
    'kind: ServiceAccount' 'kind: ClusterRole$' 'kind: ClusterRoleBinding' \
    '"nodes"' '"watch"'
refute "$TMP/multi-config.yaml" "multi-config: no fixed entry" \
    'value: /available-configs/'
if helm template nvdp "$CHART" -n gpu-resources --set config.name=my-configs \
    >"$TMP/ext.yaml" 2>&1 && grep -q 'name: config-manager-init' "$TMP/ext.yaml" &&
    grep -q 'name: my-configs' "$TMP/ext.yaml"; then
	pass "config.name: an external ConfigMap, followed by the config-manager"
	validate "$TMP/ext.yaml" "config.name"
else
	cat "$TMP/ext.yaml" >&2
	fail "config.name: config-manager"
fi
if helm template nvdp "$CHART" -n gpu-resources \
    -f "$HERE/values/time-slicing.yaml" --set configManager.enabled=true \
    >"$TMP/forced.yaml" 2>&1 && grep -q 'name: config-manager$' "$TMP/forced.yaml"; then
	pass "configManager.enabled=true: the sidecar also for one config"
else
	cat "$TMP/forced.yaml" >&2
	fail "configManager.enabled=true"
fi
expect "$TMP/mig-mixed.yaml" "mig-mixed" 'name: MIG_STRATEGY' \
    'value: mixed' 'name: NVIDIA_MIG_MONITOR_DEVICES' '- SYS_ADMIN' \
    'path: /run/nvidia/driver$' 'mountPath: /driver-root'
expect "$TMP/cdi.yaml" "cdi" 'value: cdi-cri' 'name: NVIDIA_CDI_HOOK_PATH' \
    'runtimeClassName: nvidia' 'path: /var/run/cdi'
expect "$TMP/cpumanager.yaml" "cpumanager" 'name: PASS_DEVICE_SPECS' \
    'value: "true"' 'privileged: true'

# NVIDIA-only keys: accepted, and NOTES says they are ignored.
if helm install nvdp "$CHART" -n gpu-resources --dry-run=client \
    -f "$HERE/values/nvidia-only.yaml" >"$TMP/notes" 2>&1 &&
    grep -q 'Node labels: GPU Feature Discovery' "$TMP/notes" &&
    grep -q 'Ignored: gfd.sleepInterval' "$TMP/notes" &&
    grep -q 'Ignored: nfd' "$TMP/notes" &&
    grep -q 'Ignored: mps.enableHostPID' "$TMP/notes"; then
	pass "nvidia-only: accepted, NOTES names what is ignored"
else
	cat "$TMP/notes" >&2
	fail "nvidia-only: NOTES"
fi

# Refusals, each with a message naming what is wrong.
refused() {	# NAME PATTERN HELM-ARGS...
	n=$1 p=$2
	shift 2
	if helm template nvdp "$CHART" "$@" >"$TMP/r.out" 2>&1; then
		fail "$n: rendered, should be refused"
	elif grep -q -- "$p" "$TMP/r.out"; then
		pass "$n: refused, naming it"
	else
		cat "$TMP/r.out" >&2
		fail "$n: refused without /$p/"
	fi
}
refused "misspelt key" "additional properties 'migStratgy' not allowed" \
    -n gpu-resources -f "$HERE/values/misspelt.yaml"
refused "misspelt nested key" "'/image': additional properties 'tgg'" \
    -n gpu-resources --set image.tgg=x
refused "bad migStrategy" "migStrategy" -n gpu-resources \
    --set migStrategy=both
refused "default namespace" "allowDefaultNamespace" -n default
refused "config.default not in config.map" '"nope" is not an entry' \
    -n gpu-resources -f "$HERE/values/time-slicing.yaml" \
    --set config.default=nope
refused "config.default not in config.map, config-manager" \
    '"nope" is not an entry' -n gpu-resources \
    -f "$HERE/values/multi-config.yaml" --set config.default=nope
refused "one config, no strategy applies" "no config file selected" \
    -n gpu-resources --set config.map.a=x --set 'config.fallbackStrategies={named}'
refused "podMonitor and serviceMonitor both" "turn on one, not both" \
    -n gpu-resources -f "$HERE/values/pod-monitor.yaml" \
    --set metrics.serviceMonitor.enabled=true
refused "podMonitor without metrics" "need metrics.enabled=true" \
    -n gpu-resources -f "$HERE/values/pod-monitor.yaml" \
    --set metrics.enabled=false
refused "bad podMonitor.interval" "interval" -n gpu-resources \
    --set metrics.podMonitor.interval=30seconds
refused "misspelt serviceMonitor key" \
    "additional properties 'enable' not allowed" -n gpu-resources \
    --set metrics.serviceMonitor.enable=true
if helm template nvdp "$CHART" -n default --set allowDefaultNamespace=true \
    >/dev/null 2>&1; then
	pass "allowDefaultNamespace=true: renders in default"
else
	fail "allowDefaultNamespace=true"
fi

if [ "$failures" -ne 0 ]; then
	echo "$failures deploy check(s) failed" >&2
	exit 1
fi
echo "all deploy checks passed"
