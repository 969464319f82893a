// k8s-validate.js: check Kubernetes manifests against the API's OpenAPI
// schemas, offline, with the kubernetes-models package (the schemas of one
// Kubernetes release, compiled to validators).
//
// Usage: node k8s-validate.js FILE...   ("-" reads standard input)
// Each file may hold many YAML documents (helm template output, a static
// manifest). Every document must be an object with apiVersion and kind
// that kubernetes-models knows, and must pass its validator (types,
// enums, formats such as quantities, required fields). Fields the schema
// does not define are not caught: the compiled validators allow them, as
// the API server does without strict field validation. Prints one line
// per object; exits 1 naming the file, the object and the failing path on
// the first bad one.
// Finds its modules through NODE_PATH (tests/deploy/run-deploy-tests.sh).
'use strict';

const fs = require('fs');
const yaml = require('js-yaml');

// kubernetes-models has no Prometheus Operator kinds: PodMonitor,
// ServiceMonitor and PrometheusRule (monitoring.coreos.com/v1) are
// checked against the fields of the Operator's CRDs that the chart
// writes, with ajv. Unlike
// the API's own validators, a field not listed here is refused, so a
// misspelt key in the chart's template fails.
const DURATION = '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?' +
    '(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$';
const ENDPOINT = {
	type: 'object', additionalProperties: false, required: ['port'],
	properties: {
		port: {type: 'string', minLength: 1},
		path: {type: 'string', pattern: '^/'},
		scheme: {enum: ['http', 'https']},
		interval: {type: 'string', pattern: DURATION},
		scrapeTimeout: {type: 'string', pattern: DURATION},
		relabelings: {type: 'array', items: {
			type: 'object', additionalProperties: false,
			properties: {
				sourceLabels: {type: 'array', items: {type: 'string',
				    pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$'}},
				targetLabel: {type: 'string', minLength: 1},
				action: {type: 'string'},
				regex: {type: 'string'},
				replacement: {type: 'string'},
			},
		}},
	},
};
function monitorSchema(endpoints) {
	const spec = {
		type: 'object', additionalProperties: false,
		required: ['selector', endpoints],
		properties: {
			selector: {type: 'object', required: ['matchLabels'],
			    properties: {matchLabels: {type: 'object',
			    minProperties: 1, additionalProperties:
			    {type: 'string'}}}},
			namespaceSelector: {type: 'object', additionalProperties:
			    false, properties: {any: {type: 'boolean'},
			    matchNames: {type: 'array', items: {type: 'string'}}}},
			jobLabel: {type: 'string'},
		},
	};
	spec.properties[endpoints] = {type: 'array', minItems: 1,
	    items: ENDPOINT};
	return {
		type: 'object', required: ['metadata', 'spec'],
		properties: {
			metadata: {type: 'object', required: ['name'],
			    properties: {name: {type: 'string', pattern:
			    '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'}, labels:
			    {type: 'object', additionalProperties:
			    {type: 'string'}}}},
			spec: spec,
		},
	};
}
const RULE = {
	type: 'object', additionalProperties: false, required: ['expr'],
	oneOf: [{required: ['record']}, {required: ['alert']}],
	properties: {
		record: {type: 'string'}, alert: {type: 'string'},
		expr: {type: 'string', minLength: 1},
		for: {type: 'string', pattern: DURATION},
		labels: {type: 'object', additionalProperties: {type: 'string'}},
		annotations: {type: 'object',
		    additionalProperties: {type: 'string'}},
	},
};
const CRDS = {
	PodMonitor: monitorSchema('podMetricsEndpoints'),
	ServiceMonitor: monitorSchema('endpoints'),
	PrometheusRule: {
		type: 'object', required: ['metadata', 'spec'],
		properties: {spec: {type: 'object', additionalProperties: false,
		    properties: {groups: {type: 'array', minItems: 1, items: {
			type: 'object', additionalProperties: false,
			required: ['name', 'rules'],
			properties: {name: {type: 'string'},
			    interval: {type: 'string', pattern: DURATION},
			    rules: {type: 'array', items: RULE}},
		    }}}}},
	},
};

function crdModel(kind) {
	const Ajv = require('ajv');
	const check = new Ajv({allErrors: false}).compile(CRDS[kind]);
	return function (doc) {
		this.validate = () => {
			if (!check(doc)) {
				const e = check.errors[0];
				throw new Error(e.instancePath + ' ' + e.message +
				    (e.params.additionalProperty ? ': ' +
				    e.params.additionalProperty : ''));
			}
		};
	};
}

function modelFor(apiVersion, kind) {
	if (apiVersion === 'monitoring.coreos.com/v1' &&
	    Object.prototype.hasOwnProperty.call(CRDS, kind))
		return crdModel(kind);
	// "apps/v1" -> kubernetes-models/apps/v1/Kind; "v1" -> .../v1/Kind
	if (!/^[a-z0-9.]*\/?v[0-9a-z]+$/.test(apiVersion) ||
	    !/^[A-Za-z]+$/.test(kind))
		return null;
	try {
		const m = require('kubernetes-models/' + apiVersion + '/' + kind);
		return m[kind] || null;
	} catch (e) {
		return null;
	}
}

function checkDoc(file, n, doc) {
	const where = file + ': document ' + n;
	if (doc === null || doc === undefined)
		return null;	// an empty document (a leading "---")
	if (typeof doc !== 'object' || Array.isArray(doc))
		return where + ': not a mapping';
	const name = (doc.metadata && doc.metadata.name) || '(no name)';
	const what = where + ' (' + doc.kind + ' ' + name + ')';
	const Model = modelFor(String(doc.apiVersion), String(doc.kind));
	if (!Model)
		return what + ': unknown apiVersion/kind ' + doc.apiVersion +
		    '/' + doc.kind;
	try {
		new Model(doc).validate();
	} catch (e) {
		return what + ': ' + e.message.split('\n').slice(0, 4).join('; ');
	}
	console.log('ok ' + what);
	return null;
}

function main(files) {
	if (files.length === 0) {
		console.error('usage: k8s-validate.js FILE...');
		return 2;
	}
	let count = 0;
	for (const f of files) {
		let text;
		try {
			text = fs.readFileSync(f === '-' ? 0 : f, 'utf8');
		} catch (e) {
			console.error(f + ': ' + e.message);
			return 1;
		}
		let docs;
		try {
			docs = yaml.loadAll(text);
		} catch (e) {
			console.error(f + ': not YAML: ' + e.message);
			return 1;
		}
		for (let i = 0; i < docs.length; i++) {
			const err = checkDoc(f, i + 1, docs[i]);
			if (err) {
				console.error('FAIL ' + err);
				return 1;
			}
			if (docs[i] !== null && docs[i] !== undefined)
				count++;
		}
	}
	if (count === 0) {
		console.error('FAIL no objects in ' + files.join(' '));
		return 1;
	}
	return 0;
}

process.exit(main(process.argv.slice(2)));
