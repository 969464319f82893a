// monitor-check.js: that a rendered chart's PodMonitor or ServiceMonitor
// would find the plugin's /metrics, which schema validation cannot say:
// the monitor's selector matches the DaemonSet's pod labels (a
// ServiceMonitor's matches the Service's labels, and the Service's the
// pods'), it looks in the DaemonSet's namespace, and every port it names
// is a port the plugin's container declares (through the Service's
// targetPort for a ServiceMonitor).
//
// Usage: node monitor-check.js FILE KIND   (KIND: PodMonitor or
// ServiceMonitor). Prints "ok ..." lines; exits 1 naming the first
// mismatch. NODE_PATH must find js-yaml (run-deploy-tests.sh sets it).
'use strict';

const fs = require('fs');
const yaml = require('js-yaml');

function subset(sel, labels, what) {
	for (const [k, v] of Object.entries(sel || {}))
		if (!labels || labels[k] !== v)
			throw new Error(what + ': selector ' + k + '=' + v +
			    ' matches nothing');
}

function one(docs, kind) {
	const found = docs.filter((d) => d && d.kind === kind);
	if (found.length !== 1)
		throw new Error(found.length + ' ' + kind + ' objects, want 1');
	return found[0];
}

// The plugin's DaemonSet: the one whose pods run the plugin's container
// (the chart may also render the MPS control daemon's).
function plugin(docs) {
	const found = docs.filter((d) => d && d.kind === 'DaemonSet' &&
	    d.spec.template.spec.containers.some((c) =>
		c.name === 'nvidia-device-plugin-ctr'));
	if (found.length !== 1)
		throw new Error(found.length + ' plugin DaemonSets, want 1');
	return found[0];
}

function matches(sel, labels) {
	return Object.entries(sel || {}).every(([k, v]) =>
	    labels && labels[k] === v);
}

// No other DaemonSet's pods may be selected: they serve no /metrics.
function selectsOnlyPlugin(docs, ds, sel, what) {
	for (const d of docs)
		if (d && d.kind === 'DaemonSet' && d !== ds &&
		    matches(sel, d.spec.template.metadata.labels))
			throw new Error(what + ' also selects the pods of ' +
			    d.metadata.name);
}

function check(docs, kind) {
	const ds = plugin(docs);
	const mon = one(docs, kind);
	const pod = ds.spec.template;
	const ports = new Set();
	for (const c of pod.spec.containers)
		for (const p of c.ports || [])
			ports.add(p.name);
	const names = mon.spec.namespaceSelector.matchNames || [];
	if (!names.includes(ds.metadata.namespace))
		throw new Error(kind + ': namespaces ' + names.join(',') +
		    ' lack ' + ds.metadata.namespace);
	let endpoints;
	if (kind === 'PodMonitor') {
		subset(mon.spec.selector.matchLabels, pod.metadata.labels,
		    'PodMonitor -> pods');
		selectsOnlyPlugin(docs, ds, mon.spec.selector.matchLabels,
		    'PodMonitor');
		endpoints = mon.spec.podMetricsEndpoints;
		for (const e of endpoints)
			if (!ports.has(e.port))
				throw new Error('PodMonitor port ' + e.port +
				    ': no such container port');
	} else {
		const svc = one(docs, 'Service');
		subset(mon.spec.selector.matchLabels, svc.metadata.labels,
		    'ServiceMonitor -> Service');
		subset(svc.spec.selector, pod.metadata.labels,
		    'Service -> pods');
		selectsOnlyPlugin(docs, ds, svc.spec.selector, 'Service');
		if (svc.metadata.namespace !== ds.metadata.namespace)
			throw new Error('Service in ' + svc.metadata.namespace);
		const svcPorts = new Map(svc.spec.ports.map((p) =>
		    [p.name, p.targetPort]));
		endpoints = mon.spec.endpoints;
		for (const e of endpoints) {
			if (!svcPorts.has(e.port))
				throw new Error('ServiceMonitor port ' + e.port +
				    ': not a port of the Service');
			if (!ports.has(svcPorts.get(e.port)))
				throw new Error('Service targetPort ' +
				    svcPorts.get(e.port) +
				    ': no such container port');
		}
	}
	for (const e of endpoints)
		if (e.path !== '/metrics')
			throw new Error(kind + ' path ' + e.path);
	console.log('ok ' + kind + ' ' + mon.metadata.name + ' finds the ' +
	    'pods of DaemonSet ' + ds.metadata.name + ' on port ' +
	    endpoints.map((e) => e.port).join(','));
}

try {
	const [file, kind] = process.argv.slice(2);
	check(yaml.loadAll(fs.readFileSync(file, 'utf8')), kind);
} catch (e) {
	console.error('FAIL ' + e.message);
	process.exit(1);
}
