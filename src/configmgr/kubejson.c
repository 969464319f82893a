/*
 * kubejson.c: the Node object and watch events through jansson
 * (kubejson.h).
 *
 * Only the fields the config-manager acts on are looked at; a field of
 * the wrong JSON type counts as missing, as jansson's getters make it.
 */
#include "kubejson.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

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
		*rv = *value = NULL;
		return -ENOMEM;
	}
	return 0;
}

int
kube_node_parse(const char *body, const char *label, char **value,
    char **rv)
{
	json_t *doc = json_loads(body, 0, NULL);
	int rc = doc != NULL ? node_fields(doc, label, value, rv) : -EPROTO;

	json_decref(doc);
	return rc;
}

static int
error_event(json_t *obj, struct kube_event *ev, char *err, size_t errlen)
{
	const char *msg = json_string_value(json_object_get(obj, "message"));

	ev->type = KUBE_EVENT_ERROR;
	ev->code = (int)json_integer_value(json_object_get(obj, "code"));
	snprintf(err, errlen, "watch: error event %d from the API server: %s",
	    ev->code, msg != NULL ? msg : "(none)");
	return ev->code == 410 ? -ESTALE : -EPROTO;
}

int
kube_event_parse(const char *line, const char *label,
    struct kube_event *ev, char *err, size_t errlen)
{
	json_t *doc = json_loads(line, 0, NULL), *obj;
	const char *type;
	int rc = 0;

	memset(ev, 0, sizeof(*ev));
	if (doc == NULL) {
		ev->type = KUBE_EVENT_NOT_JSON;
		snprintf(err, errlen, "watch: an event is not JSON: '%.80s'",
		    line);
		return -EPROTO;
	}
	type = json_string_value(json_object_get(doc, "type"));
	obj = json_object_get(doc, "object");
	ev->type = KUBE_EVENT_OTHER;
	if (type != NULL && strcmp(type, "ERROR") == 0)
		rc = error_event(obj, ev, err, errlen);
	else if (type != NULL && (strcmp(type, "ADDED") == 0 ||
	    strcmp(type, "MODIFIED") == 0)) {
		ev->type = KUBE_EVENT_CHANGE;
		rc = node_fields(obj, label, &ev->value, &ev->rv);
		if (rc < 0)
			snprintf(err, errlen, "watch: a %s event without a"
			    " Node object", type);
	}
	json_decref(doc);
	return rc;
}

void
kube_event_free(struct kube_event *ev)
{
	free(ev->value);
	free(ev->rv);
	ev->value = ev->rv = NULL;
}

char *
kube_status_message(const char *body)
{
	json_t *doc = body != NULL ? json_loads(body, 0, NULL) : NULL;
	const char *msg = json_string_value(json_object_get(doc, "message"));
	char *copy;

	if (msg == NULL && body != NULL && body[0] != '\0')
		msg = body;
	copy = msg != NULL ? strdup(msg) : NULL;
	json_decref(doc);
	return copy;
}

void
kube_lines_init(struct kube_lines *l, size_t max)
{
	memset(l, 0, sizeof(*l));
	l->max = max;
}

void
kube_lines_free(struct kube_lines *l)
{
	free(l->buf);
	l->buf = NULL;
	l->len = l->cap = 0;
}

/* Makes room for |n| more bytes and a NUL, doubling from 64 KiB. */
static int
lines_room(struct kube_lines *l, size_t n, char *err, size_t errlen)
{
	size_t cap = l->cap > 0 ? l->cap : 65536;
	char *p;

	if (n >= l->max - l->len) {
		snprintf(err, errlen, "watch: an event is too large");
		return -EPROTO;
	}
	while (cap < l->len + n + 1)
		cap *= 2;
	if (cap > l->max)
		cap = l->max;
	if (cap == l->cap)
		return 0;
	p = realloc(l->buf, cap);
	if (p == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	l->buf = p;
	l->cap = cap;
	return 0;
}

int
kube_lines_feed(struct kube_lines *l, const char *in, size_t n,
    kube_line_cb cb, void *arg, char *err, size_t errlen)
{
	const char *nl;
	size_t k;
	int rc;

	while (n > 0) {
		nl = memchr(in, '\n', n);
		k = nl != NULL ? (size_t)(nl - in) : n;
		rc = lines_room(l, k, err, errlen);
		if (rc < 0)
			return rc;
		memcpy(l->buf + l->len, in, k);
		l->len += k;
		in += k;
		n -= k;
		if (nl == NULL)
			break;
		in++;
		n--;
		l->buf[l->len] = '\0';
		k = l->len;
		l->len = 0;
		if (k > 0 && (rc = cb(l->buf, arg)) != 0)
			return rc;
	}
	return 0;
}
