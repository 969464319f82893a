/*
 * fuzz_kube_event.c: the config-manager's JSON (src/configmgr/kubejson.c)
 * on arbitrary bytes: the whole input as a Node GET's body and as an
 * error response's body, then each of its lines as a watch event, the
 * way kube.c splits the stream.
 *
 * Beyond not crashing or leaking: a Node comes with a resourceVersion;
 * an event's verdict matches its type (a change has a resourceVersion,
 * -ESTALE only for an ERROR with code 410, an ERROR is always an error,
 * an ignored event never is); every error names the watch, and leaves
 * nothing to free.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kubejson.h"

#define LABEL "nvidia.com/device-plugin.config"

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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *line, *nl;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	check_node(text);
	/* As kube.c's watch_stream(): split at newlines, skip empty lines. */
	for (line = text; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
		*nl = '\0';
		if (nl > line)
			check_event(line);
	}
	if (*line != '\0')
		check_event(line);
	free(text);
	return 0;
}
