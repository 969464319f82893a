/*
 * kube.c: get and watch one node through the API server (kube.h).
 *
 * The watch is the plain HTTP one a client-go informer uses underneath:
 * GET .../nodes?fieldSelector=metadata.name=NODE&watch=true&
 * resourceVersion=RV answers with a chunked stream of JSON events, one per
 * line. Lines are collected across chunks before jansson parses them.
 */
#include "kube.h"

#include "https.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define BODY_MAX (4 << 20)	/* a node object is some kilobytes */
/*
 * The API server ends a watch after timeoutSeconds (client-go asks for
 * 5 to 10 minutes); a read waits that long and k->timeout_s more before
 * the connection counts as dead.
 */
#define WATCH_TIMEOUT_S 300

void
kube_free(struct kube *k)
{
	free(k->ca_pem);
	free(k->token);
	k->ca_pem = k->token = NULL;
}

static int
read_token(const struct kube *k, char *tok, size_t size, char *err)
{
	FILE *f;
	size_t n;
	int e;

	if (k->token != NULL) {
		if (snprintf(tok, size, "%s", k->token) >= (int)size) {
			snprintf(err, KUBE_ERR_LEN, "the token is too long");
			return -EINVAL;
		}
		return 0;
	}
	f = fopen(k->token_file, "r");
	e = errno;

	if (f == NULL) {
		snprintf(err, KUBE_ERR_LEN, "reading the service account"
		    " token %.512s: %s", k->token_file, strerror(e));
		return -e;
	}
	n = fread(tok, 1, size - 1, f);
	fclose(f);
	tok[n] = '\0';
	tok[strcspn(tok, "\r\n")] = '\0';
	if (tok[0] == '\0') {
		snprintf(err, KUBE_ERR_LEN, "the service account token %.512s is"
		    " empty", k->token_file);
		return -EINVAL;
	}
	return 0;
}

int
kube_in_cluster(struct kube *k, const char *sa_dir, int timeout_s,
    char *err)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");

	if (host == NULL || host[0] == '\0' || port == NULL ||
	    port[0] == '\0') {
		snprintf(err, KUBE_ERR_LEN, "KUBERNETES_SERVICE_HOST and"
		    " KUBERNETES_SERVICE_PORT must be set (run in a pod,"
		    " or set KUBECONFIG)");
		return -EINVAL;
	}
	if (strlen(host) >= sizeof(k->host) || strlen(port) >= sizeof(k->port)
	    || snprintf(k->ca_file, sizeof(k->ca_file), "%s/ca.crt", sa_dir)
	    >= (int)sizeof(k->ca_file)
	    || snprintf(k->token_file, sizeof(k->token_file), "%s/token",
	    sa_dir) >= (int)sizeof(k->token_file)) {
		snprintf(err, KUBE_ERR_LEN, "KUBERNETES_SERVICE_HOST, _PORT"
		    " or the service account directory is too long");
		return -EINVAL;
	}
	/* An IPv6 address comes bare; mbedTLS's connect takes it so. */
	k->timeout_s = timeout_s;
	snprintf(k->host, sizeof(k->host), "%s", host);
	snprintf(k->port, sizeof(k->port), "%s", port);
	return 0;
}

/* Reads the whole body (bounded) into a NUL-ended string. */
static int
read_body(struct https *h, char **out, char *err)
{
	size_t len = 0, cap = 8192;
	char *buf = malloc(cap), *p;
	ssize_t n;

	for (;;) {
		if (buf == NULL) {
			snprintf(err, KUBE_ERR_LEN, "out of memory");
			return -ENOMEM;
		}
		n = https_read(h, buf + len, cap - len - 1, err);
		if (n <= 0)
			break;
		len += (size_t)n;
		if (cap - len - 1 == 0) {
			if (cap >= BODY_MAX) {
				snprintf(err, KUBE_ERR_LEN, "the response is"
				    " larger than %d bytes", BODY_MAX);
				n = -EPROTO;
				break;
			}
			cap *= 2;
			p = realloc(buf, cap);
			if (p == NULL)
				free(buf);
			buf = p;
		}
	}
	if (n < 0) {
		free(buf);
		return (int)n;
	}
	buf[len] = '\0';
	*out = buf;
	return 0;
}

/* The error for a status other than 200, with the server's message. */
static int
status_error(struct https *h, const char *what, int status, char *err)
{
	char sub[HTTPS_ERR_LEN];
	const char *msg = NULL;
	json_t *doc = NULL;
	char *body = NULL;

	if (read_body(h, &body, sub) == 0) {
		doc = json_loads(body, 0, NULL);
		msg = json_string_value(json_object_get(doc, "message"));
		if (msg == NULL && body[0] != '\0')
			msg = body;
	}
	snprintf(err, KUBE_ERR_LEN, "%s: HTTP %d from the API server: %s",
	    what, status, msg != NULL ? msg : "(no message)");
	json_decref(doc);
	free(body);
	switch (status) {
	case 401:
	case 403:
		return -EACCES;
	case 404:
		return -ENOENT;
	case 410:
		return -ESTALE;
	default:
		return -EPROTO;
	}
}

/* Opens |path|; a status other than 200 is an error, read and closed. */
static int
request(const struct kube *k, const char *what, const char *path,
    int timeout_s, struct https **out, char *err)
{
	char token[8192], sub[HTTPS_ERR_LEN];
	struct https *h;
	int rc, status;

	rc = read_token(k, token, sizeof(token), err);
	if (rc < 0)
		return rc;
	rc = https_get(k->host, k->port, k->ca_file, k->ca_pem, token, path,
	    timeout_s, &h, &status, sub);
	if (rc < 0) {
		snprintf(err, KUBE_ERR_LEN, "%s: %s", what, sub);
		return rc;
	}
	if (status != 200) {
		rc = status_error(h, what, status, err);
		https_close(h);
		return rc;
	}
	*out = h;
	return 0;
}

/* The label's value and the resourceVersion of a Node object. */
static int
node_fields(json_t *node, const char *label, char **value, char **rv)
{
	json_t *meta = json_object_get(node, "metadata");
	const char *v, *r;

	r = json_string_value(json_object_get(meta, "resourceVersion"));
	v = json_string_value(json_object_get(json_object_get(meta,
	    "labels"), label));
	if (r == NULL)
		return -EPROTO;
	*rv = strdup(r);
	*value = v != NULL ? strdup(v) : NULL;
	if (*rv == NULL || (v != NULL && *value == NULL)) {
		free(*rv);
		free(*value);
		return -ENOMEM;
	}
	return 0;
}

int
kube_get_node(const struct kube *k, const char *node, const char *label,
    char **value, char **rv, char *err)
{
	char path[512], what[600];
	struct https *h;
	json_t *doc;
	char *body;
	int rc;

	snprintf(path, sizeof(path), "/api/v1/nodes/%s", node);
	snprintf(what, sizeof(what), "GET %s", path);
	rc = request(k, what, path, k->timeout_s, &h, err);
	if (rc < 0)
		return rc;
	rc = read_body(h, &body, err);
	https_close(h);
	if (rc < 0)
		return rc;
	doc = json_loads(body, 0, NULL);
	free(body);
	rc = doc != NULL ? node_fields(doc, label, value, rv) : -EPROTO;
	json_decref(doc);
	if (rc == -EPROTO)
		snprintf(err, KUBE_ERR_LEN, "%s: the answer is not a Node"
		    " object with a resourceVersion", what);
	else if (rc < 0)
		snprintf(err, KUBE_ERR_LEN, "out of memory");
	return rc;
}

struct watch {
	const char *label;
	char **rv;
	kube_label_cb cb;
	void *arg;
	int *events;
};

/* One event line: ERROR (410 and others), or a change of the node. */
static int
watch_event(struct watch *w, const char *line, char *err)
{
	json_t *ev = json_loads(line, 0, NULL), *obj;
	const char *type;
	char *value = NULL, *rv = NULL;
	int rc = 0;

	if (ev == NULL) {
		snprintf(err, KUBE_ERR_LEN, "watch: an event is not JSON:"
		    " '%.80s'", line);
		return -EPROTO;
	}
	type = json_string_value(json_object_get(ev, "type"));
	obj = json_object_get(ev, "object");
	(*w->events)++;
	if (type != NULL && strcmp(type, "ERROR") == 0) {
		int code = (int)json_integer_value(json_object_get(obj,
		    "code"));
		const char *msg = json_string_value(json_object_get(obj,
		    "message"));

		snprintf(err, KUBE_ERR_LEN, "watch: error event %d from the"
		    " API server: %s", code, msg != NULL ? msg : "(none)");
		rc = code == 410 ? -ESTALE : -EPROTO;
	} else if (type != NULL && (strcmp(type, "ADDED") == 0 ||
	    strcmp(type, "MODIFIED") == 0)) {
		rc = node_fields(obj, w->label, &value, &rv);
		if (rc == 0) {
			free(*w->rv);
			*w->rv = rv;
			rc = w->cb(value, w->arg);
			free(value);
		} else
			snprintf(err, KUBE_ERR_LEN, "watch: a %s event"
			    " without a Node object", type);
	}
	json_decref(ev);
	return rc;
}

/* Splits the stream into lines and hands each to watch_event(). */
static int
watch_stream(struct https *h, struct watch *w, char *err)
{
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap), *nl, *p;
	ssize_t n;
	int rc = 0;

	if (buf == NULL)
		return -ENOMEM;
	while (rc == 0) {
		if (len + 1 == cap) {
			cap *= 2;
			p = cap <= BODY_MAX ? realloc(buf, cap) : NULL;
			if (p == NULL) {
				snprintf(err, KUBE_ERR_LEN, "watch: an event"
				    " is too large");
				rc = -EPROTO;
				break;
			}
			buf = p;
		}
		n = https_read(h, buf + len, cap - len - 1, err);
		if (n <= 0) {
			rc = (int)n;
			break;
		}
		len += (size_t)n;
		buf[len] = '\0';
		while (rc == 0 && (nl = strchr(buf, '\n')) != NULL) {
			*nl = '\0';
			if (nl > buf)
				rc = watch_event(w, buf, err);
			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len + 1);
		}
	}
	free(buf);
	return rc;
}

int
kube_watch(const struct kube *k, const char *node, const char *label,
    char **rv, kube_label_cb cb, void *arg, int *events, char *err)
{
	struct watch w = { label, rv, cb, arg, events };
	char path[1024], what[1100];
	struct https *h;
	int rc;

	snprintf(path, sizeof(path), "/api/v1/nodes?fieldSelector="
	    "metadata.name%%3D%s&watch=true&resourceVersion=%s"
	    "&timeoutSeconds=%d", node, *rv, WATCH_TIMEOUT_S);
	snprintf(what, sizeof(what), "GET %s", path);
	rc = request(k, what, path, WATCH_TIMEOUT_S + k->timeout_s, &h, err);
	if (rc < 0)
		return rc;
	rc = watch_stream(h, &w, err);
	https_close(h);
	return rc;
}
