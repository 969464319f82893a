/*
 * fuzz_kube_event.c: the config-manager's JSON (src/configmgr/kubejson.c)
 * on arbitrary bytes: the whole input as a Node GET's body and as an
 * error response's body, then the input as a watch stream, cut in three
 * pieces, through the line splitter kube.c uses (kube_lines_feed()), each
 * line as an event.
 *
 * Beyond not crashing or leaking: a Node comes with a resourceVersion;
 * an event's verdict matches its type (a change has a resourceVersion,
 * -ESTALE only for an ERROR with code 410, an ERROR is always an error,
 * an ignored event never is); every error names the watch, and leaves
 * nothing to free. The splitter must hand out, for any cut, the lines
 * the input holds (up to a NUL in one), the empty ones skipped, and stop
 * at the first line too long.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kubejson.h"

#define LABEL "nvidia.com/device-plugin.config"
/* Small, so that the fuzzer reaches "an event is too large". */
#define LINE_MAX_BYTES 2048

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_node(const char *text)
{
	char *value = NULL, *rv = NULL;
	int rc = kube_node_parse(text, LABEL, &value, &rv);

	if (rc == 0 && rv == NULL)
		abort();
	if (rc != 0 && rc != -EPROTO && rc != -ENOMEM)
		abort();
	if (rc == 0) {
		free(value);
		free(rv);
	}
	free(kube_status_message(text));
}

static void
check_event(const char *line)
{
	struct kube_event ev;
	char err[1024] = "";
	int rc = kube_event_parse(line, LABEL, &ev, err, sizeof(err));

	if (rc == -ESTALE && (ev.type != KUBE_EVENT_ERROR || ev.code != 410))
		abort();
	if ((ev.type == KUBE_EVENT_ERROR && rc >= 0) ||
	    (ev.type == KUBE_EVENT_NOT_JSON && rc != -EPROTO) ||
	    (ev.type == KUBE_EVENT_OTHER && rc != 0))
		abort();
	if (rc == 0 && ev.type == KUBE_EVENT_CHANGE && ev.rv == NULL)
		abort();
	if (rc < 0 && (strncmp(err, "watch: ", 7) != 0 || ev.rv != NULL ||
	    ev.value != NULL))
		abort();
	if (rc != 0 && rc != -EPROTO && rc != -ESTALE && rc != -ENOMEM)
		abort();
	kube_event_free(&ev);
}

/* What the line splitter handed out, one after the other. */
struct seen {
	char *text;
	size_t len;
};

static int
on_line(const char *line, void *arg)
{
	struct seen *s = arg;
	size_t n = strlen(line);

	if (n == 0 && line[0] != '\0')
		abort();
	check_event(line);
	memcpy(s->text + s->len, line, n + 1);
	s->len += n + 1;
	return 0;
}

/* The lines as kube.c must see them, straight from the input. */
static int
reference(const char *in, size_t size, struct seen *s)
{
	const char *end = in + size, *nl;
	size_t k, n;

	for (; in < end; in = nl + 1) {
		nl = memchr(in, '\n', (size_t)(end - in));
		k = nl != NULL ? (size_t)(nl - in) : (size_t)(end - in);
		if (k >= LINE_MAX_BYTES)
			return -EPROTO;
		if (nl == NULL)
			break;
		if (k == 0)
			continue;
		n = strnlen(in, k);
		memcpy(s->text + s->len, in, n);
		s->text[s->len + n] = '\0';
		s->len += n + 1;
	}
	return 0;
}

/* The stream in three pieces, at points taken from its last bytes. */
static void
check_lines(const char *in, size_t size)
{
	const unsigned char *u = (const unsigned char *)in;
	struct seen want = { malloc(size + 1), 0 };
	struct seen got = { malloc(size + 1), 0 };
	size_t a = size > 0 ? (size_t)u[size - 1] * 131 % (size + 1) : 0;
	size_t b = size > 1 ? (size_t)u[size - 2] * 257 % (size + 1) : 0;
	size_t lo = a < b ? a : b, hi = a < b ? b : a;
	struct kube_lines l;
	char err[256] = "";
	int rc, want_rc;

	if (want.text == NULL || got.text == NULL)
		abort();
	want_rc = reference(in, size, &want);
	kube_lines_init(&l, LINE_MAX_BYTES);
	rc = kube_lines_feed(&l, in, lo, on_line, &got, err, sizeof(err));
	if (rc == 0)
		rc = kube_lines_feed(&l, in + lo, hi - lo, on_line, &got, err,
		    sizeof(err));
	if (rc == 0)
		rc = kube_lines_feed(&l, in + hi, size - hi, on_line, &got,
		    err, sizeof(err));
	if (rc != -ENOMEM && (rc != want_rc || got.len != want.len ||
	    memcmp(got.text, want.text, got.len) != 0))
		abort();
	if (rc != 0 && strncmp(err, "watch: ", 7) != 0 && rc != -ENOMEM)
		abort();
	kube_lines_free(&l);
	free(want.text);
	free(got.text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	check_node(text);
	check_lines(text, size);
	free(text);
	return 0;
}
