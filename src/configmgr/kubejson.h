/*
 * kubejson.h: what gdp-config-manager reads out of the API server's
 * JSON: a Node object (the label's value, the resourceVersion) and a
 * watch event line (its type, and the node or the error it carries).
 *
 * No I/O, so the fuzz target (tests/fuzz/fuzz_kube_event.c) reaches the
 * same code kube.c runs. Strings handed out are the caller's to free().
 */
#ifndef GDP_CONFIGMGR_KUBEJSON_H
#define GDP_CONFIGMGR_KUBEJSON_H

#include <stddef.h>

/*
 * The label |label|'s value of the Node in the JSON text |body| (NULL
 * when it has none) and its resourceVersion. Returns 0, -EPROTO (not
 * JSON, or no metadata.resourceVersion string) or -ENOMEM.
 */
int kube_node_parse(const char *body, const char *label, char **value,
    char **rv);

enum kube_event_type {
	KUBE_EVENT_NOT_JSON,	/* the line is not a JSON object or array */
	KUBE_EVENT_CHANGE,	/* ADDED or MODIFIED, with a Node */
	KUBE_EVENT_ERROR,	/* ERROR, with a Status object */
	KUBE_EVENT_OTHER,	/* DELETED, BOOKMARK, anything else: ignored */
};

struct kube_event {
	enum kube_event_type type;
	char *value;		/* CHANGE: the label's value, or NULL */
	char *rv;		/* CHANGE: the node's resourceVersion */
	int code;		/* ERROR: the Status's code (0 if none) */
};

/*
 * One watch event line (NUL-ended, without its newline) into |ev|.
 * Returns 0 for a CHANGE or an OTHER; for an ERROR -ESTALE (code 410:
 * list again) or -EPROTO, with the server's message in |err| (|errlen|
 * bytes); -EPROTO for a line that is not JSON or a change without a
 * Node (|err| says which); -ENOMEM. On failure nothing is left to free;
 * on success kube_event_free() frees |ev|'s strings.
 */
int kube_event_parse(const char *line, const char *label,
    struct kube_event *ev, char *err, size_t errlen);

void kube_event_free(struct kube_event *ev);

/* A watch stream cut into lines, however its bytes arrive. */
struct kube_lines {
	char *buf;
	size_t len;		/* bytes of the line not yet ended */
	size_t cap;
	size_t max;		/* the longest line taken (its buffer's size) */
};

typedef int (*kube_line_cb)(const char *line, void *arg);

/* Starts |l| for lines of at most |max| - 1 bytes (memory comes later). */
void kube_lines_init(struct kube_lines *l, size_t max);

/*
 * Adds |n| bytes of the stream and calls |cb| with each non-empty line
 * they end (NUL-ended, without its newline), in order. A line with a NUL
 * byte in it reaches |cb| cut at the NUL. Returns 0, the first error
 * |cb| returns (the rest of the input is dropped), -EPROTO for a line
 * longer than |max| - 1 bytes or -ENOMEM, with a sentence in |err|
 * (|errlen| bytes) for those two.
 */
int kube_lines_feed(struct kube_lines *l, const char *in, size_t n,
    kube_line_cb cb, void *arg, char *err, size_t errlen);

void kube_lines_free(struct kube_lines *l);

/*
 * The API server's message in an error response's body |body| (a Status
 * object's "message", else the body itself), as a copy; NULL when |body|
 * is NULL or empty (or memory ran out).
 */
char *kube_status_message(const char *body);

#endif /* GDP_CONFIGMGR_KUBEJSON_H */
