/*
 * mhd.c: libmicrohttpd loaded on demand (see mhd.h). The handle is kept
 * for the process's life: the endpoint's objects are the library's.
 */
#include "metrics/mhd.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

static struct metrics_mhd table;
static void *handle;

/* Each entry point's name and its slot in |table|. */
static const struct {
	const char *name;
	size_t offset;
} symbols[] = {
	{ "MHD_start_daemon", offsetof(struct metrics_mhd, start_daemon) },
	{ "MHD_stop_daemon", offsetof(struct metrics_mhd, stop_daemon) },
	{ "MHD_get_daemon_info",
	  offsetof(struct metrics_mhd, get_daemon_info) },
	{ "MHD_run", offsetof(struct metrics_mhd, run) },
	{ "MHD_get_timeout", offsetof(struct metrics_mhd, get_timeout) },
	{ "MHD_create_response_from_buffer",
	  offsetof(struct metrics_mhd, create_response_from_buffer) },
	{ "MHD_add_response_header",
	  offsetof(struct metrics_mhd, add_response_header) },
	{ "MHD_queue_response", offsetof(struct metrics_mhd, queue_response) },
	{ "MHD_destroy_response",
	  offsetof(struct metrics_mhd, destroy_response) },
};

const struct metrics_mhd *
metrics_mhd_load(char *err, size_t errlen)
{
	struct metrics_mhd t;
	void *h;

	if (handle != NULL)
		return &table;
	h = dlopen(METRICS_MHD_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		snprintf(err, errlen, "cannot load %s (install libmicrohttpd12): "
		    "%s", METRICS_MHD_SONAME, dlerror());
		return NULL;
	}
	for (size_t i = 0; i < sizeof(symbols) / sizeof(symbols[0]); i++) {
		void *fn = dlsym(h, symbols[i].name);

		if (fn == NULL) {
			snprintf(err, errlen, "%s lacks %s", METRICS_MHD_SONAME,
			    symbols[i].name);
			dlclose(h);
			return NULL;
		}
		/* POSIX: a data pointer from dlsym is the function's. */
		memcpy((char *)&t + symbols[i].offset, &fn, sizeof(fn));
	}
	table = t;
	handle = h;
	return &table;
}
