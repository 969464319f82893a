/*
 * plugin.c: the DevicePlugin service (see plugin.h).
 *
 * Layout: ListAndWatch (the watchers and the broadcast); the unary
 * methods, each a call into src/resources and a reply; serving and
 * stopping. Every answer is built in an arena freed once it is sent, and
 * every call ends with a status: an answer that cannot be built ends the
 * call with RESOURCE_EXHAUSTED, a request past the bounds of
 * resources.h or with an id that cannot be one (a NUL, not UTF-8) with
 * INVALID_ARGUMENT, one that names a bad device with UNKNOWN and the
 * message NVIDIA's plugin gives. Allocate and GetPreferredAllocation are
 * decoded with the raw requests of proto/requests.proto, so that every
 * id keeps its length.
 */
#include "plugin.h"

#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "deviceplugin.pb-c.h"
#include "grpc/server.h"
#include "requests.pb-c.h"
#include "util/alloc.h"
#include "util/log.h"
#include "wire/wire.h"

/*
 * A stream whose queue still held an older list at the last change is
 * stale: it gets the newest list once its queue has drained. The resend
 * timer visits only the stale streams (kept on their own list), first
 * RESEND_MS after a change, then at twice the delay each time, up to
 * RESEND_MAX_MS: a client that never reads costs one look every 2 s,
 * not one every 50 ms (100,000 of them held the loop at 22 % CPU).
 */
#define RESEND_MS INT64_C(50)
#define RESEND_MAX_MS INT64_C(2000)

struct watcher {
	struct plugin *p;
	struct grpc_call *call;
	bool stale;                 /* the newest list is not queued yet */
	LIST_ENTRY(watcher) link;   /* on p->watchers */
	LIST_ENTRY(watcher) stale_link; /* on p->stale while |stale| */
};

struct plugin {
	struct loop *loop;
	struct resource *res;
	char socket_path[4096];
	const char *endpoint;       /* into socket_path */
	ino_t socket_ino;           /* 0: not listening */
	struct grpc_server *server;
	struct grpc_server_options opts;
	LIST_HEAD(watcher_list, watcher) watchers;
	struct watcher_list stale;  /* the stale ones, linked by stale_link */
	struct loop_timer *resend;
	int64_t resend_ms;          /* the resend timer's next delay */
	void (*unwatched)(void *arg);
	void *unwatched_arg;
	void (*before_allocate)(void *arg);
	void *before_allocate_arg;
	unsigned odd_noted;         /* RESOURCES_ODD_* already logged */
};

/* ---- ListAndWatch ---- */

/* Queues the full device list on |call|: 0, -ENOBUFS, -ENOMEM, -EPIPE. */
static int
send_list(struct plugin *p, struct grpc_call *call)
{
	struct arena a = ARENA_INIT;
	ProtobufCMessage *msg = resource_list(p->res, &a);
	int rc = msg != NULL ? grpc_call_send(call, msg) : -ENOMEM;

	arena_free(&a);
	return rc;
}

/* Puts |w| on the stale list or takes it off, as |stale| says. */
static void
set_stale(struct watcher *w, bool stale)
{
	if (stale && !w->stale)
		LIST_INSERT_HEAD(&w->p->stale, w, stale_link);
	else if (!stale && w->stale)
		LIST_REMOVE(w, stale_link);
	w->stale = stale;
}

static int64_t resend_stale(struct loop *loop, void *arg);

/*
 * (Re)arms the resend timer at RESEND_MS after a change made streams
 * stale; false if it cannot be armed.
 */
static bool
arm_resend(struct plugin *p)
{
	if (p->resend != NULL)
		loop_cancel_timer(p->loop, p->resend);
	p->resend_ms = 2 * RESEND_MS;
	p->resend = loop_add_timer(p->loop, RESEND_MS, resend_stale, p);
	return p->resend != NULL;
}

/* Sends the list to every stream; a full queue is retried later. */
static void
broadcast(struct plugin *p)
{
	struct watcher *w;

	LIST_FOREACH(w, &p->watchers, link)
		set_stale(w, grpc_call_queued(w->call) > 0 ||
		    send_list(p, w->call) < 0);
	if (!LIST_EMPTY(&p->stale) && !arm_resend(p))
		p->res->changed = true; /* the next publish tries again */
}

/* Only the newest list matters: a stream that is behind gets it when its
 * queue has drained, never a backlog of old ones. */
static int64_t
resend_stale(struct loop *loop, void *arg)
{
	struct plugin *p = arg;
	struct watcher *w, *next;
	int64_t delay = p->resend_ms;

	for (w = LIST_FIRST(&p->stale); w != NULL; w = next) {
		next = LIST_NEXT(w, stale_link);
		if (grpc_call_queued(w->call) == 0)
			set_stale(w, send_list(p, w->call) < 0);
	}
	if (!LIST_EMPTY(&p->stale)) {
		p->resend_ms = delay >= RESEND_MAX_MS / 2 ? RESEND_MAX_MS :
		    2 * delay;
		return delay;
	}
	p->resend = NULL;
	return LOOP_NOMORE;
}

static void
watcher_closed(struct grpc_call *call, enum grpc_close_reason reason,
    void *arg)
{
	struct watcher *w = arg;
	struct plugin *p = w->p;

	set_stale(w, false);
	LIST_REMOVE(w, link);
	gdp_free(w);
	if (reason != GRPC_CLOSE_SHUTDOWN && LIST_EMPTY(&p->watchers) &&
	    p->unwatched != NULL)
		p->unwatched(p->unwatched_arg);
}

static void
list_and_watch(struct grpc_call *call, const ProtobufCMessage *req,
    void *app)
{
	struct plugin *p = app;
	struct watcher *w = gdp_calloc(1, sizeof(*w));

	if (w == NULL) {
		grpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED,
		    "out of memory for a ListAndWatch stream");
		return;
	}
	w->p = p;
	w->call = call;
	LIST_INSERT_HEAD(&p->watchers, w, link);
	grpc_call_on_close(call, watcher_closed, w);
	set_stale(w, send_list(p, call) < 0);
	if (w->stale && p->resend == NULL && !arm_resend(p))
		grpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED,
		    "out of memory for the device list");
}

void
plugin_before_allocate(struct plugin *p, void (*cb)(void *arg), void *arg)
{
	p->before_allocate = cb;
	p->before_allocate_arg = arg;
}

void
plugin_on_unwatched(struct plugin *p, void (*cb)(void *arg), void *arg)
{
	p->unwatched = cb;
	p->unwatched_arg = arg;
}

bool
plugin_set_resource(struct plugin *p, struct resource *res)
{
	bool same = resource_same_list(p->res, res);

	/* A change not yet published must still be: the streams have the
	 * list before it. */
	res->changed = p->res->changed || !same;
	p->res = res;
	return !same;
}

const struct resource *
plugin_current(const struct plugin *p)
{
	return p->res;
}

bool
plugin_watched(const struct plugin *p)
{
	return !LIST_EMPTY(&p->watchers);
}

void
plugin_publish(struct plugin *p)
{
	if (!p->res->changed)
		return;
	p->res->changed = false;
	broadcast(p);
}

/* ---- the unary methods ---- */

/*
 * Replies with |msg|, or ends the call with why it could not be built
 * (|why|, or |fallback| when the core said nothing: out of memory).
 */
static void
answer(struct grpc_call *call, const ProtobufCMessage *msg, int code,
    const char *why, const char *fallback)
{
	if (msg == NULL || grpc_call_reply(call, msg) < 0)
		grpc_call_fail(call, msg == NULL ? code :
		    GRPC_RESOURCE_EXHAUSTED, "%s", msg == NULL ?
		    (why != NULL && why[0] != '\0' ? why : fallback) :
		    "out of memory for the answer");
}

/*
 * Where an answer is built: enough for a few GPUs' worth without a trip to
 * the heap (a one-GPU Allocate answer takes about 400 bytes).
 */
#define ANSWER_BUFFER 2048

/* The status of a request the resource core refused with |err|. */
static int
refusal(int err)
{
	return err == ENOMEM ? GRPC_RESOURCE_EXHAUSTED : err == EINVAL ?
	    GRPC_INVALID_ARGUMENT : GRPC_UNKNOWN;
}

static void
allocate(struct grpc_call *call, const ProtobufCMessage *request,
    void *app)
{
	struct plugin *p = app;
	alignas(max_align_t) unsigned char buf[ANSWER_BUFFER];
	struct arena a = ARENA_IN(buf, sizeof(buf));
	char why[768];
	ProtobufCMessage *msg;

	if (p->before_allocate != NULL)
		p->before_allocate(p->before_allocate_arg);
	why[0] = '\0';
	errno = ENOMEM;
	msg = resource_allocate(p->res, request, &a, why, sizeof(why));
	answer(call, msg, refusal(errno), why,
	    "out of memory for the Allocate answer");
	arena_free(&a);
}

static void
preferred(struct grpc_call *call, const ProtobufCMessage *request,
    void *app)
{
	struct plugin *p = app;
	alignas(max_align_t) unsigned char buf[ANSWER_BUFFER];
	struct arena a = ARENA_IN(buf, sizeof(buf));
	char why[768];
	ProtobufCMessage *msg;
	unsigned odd;

	errno = ENOMEM;
	msg = resource_preferred(p->res, request, &a, why, sizeof(why), &odd);
	if (msg != NULL && (odd & ~p->odd_noted) != 0) {
		/* Once a kind: the kubelet asks again for every pod. */
		log_warn("%s", why);
		p->odd_noted |= odd;
	}
	answer(call, msg, refusal(errno), why,
	    "out of memory for the preferred allocation");
	arena_free(&a);
}

static void
get_options(struct grpc_call *call, const ProtobufCMessage *request,
    void *app)
{
	V1beta1__DevicePluginOptions opts =
	    V1BETA1__DEVICE_PLUGIN_OPTIONS__INIT;

	opts.get_preferred_allocation_available = 1;
	answer(call, &opts.base, GRPC_OK, NULL, NULL);
}

static void
pre_start(struct grpc_call *call, const ProtobufCMessage *request,
    void *app)
{
	V1beta1__PreStartContainerResponse resp =
	    V1BETA1__PRE_START_CONTAINER_RESPONSE__INIT;

	answer(call, &resp.base, GRPC_OK, NULL, NULL);
}

static const struct grpc_method methods[] = {
	{ "/v1beta1.DevicePlugin/GetDevicePluginOptions", GRPC_METHOD_UNARY,
	  &v1beta1__empty__descriptor, get_options, NULL },
	{ "/v1beta1.DevicePlugin/ListAndWatch",
	  GRPC_METHOD_SERVER_STREAMING, &v1beta1__empty__descriptor,
	  list_and_watch, NULL },
	{ "/v1beta1.DevicePlugin/GetPreferredAllocation", GRPC_METHOD_UNARY,
	  &v1beta1__raw__preferred_allocation_request__descriptor,
	  preferred, &wire_preferred_codec },
	{ "/v1beta1.DevicePlugin/Allocate", GRPC_METHOD_UNARY,
	  &v1beta1__raw__allocate_request__descriptor, allocate,
	  &wire_allocate_codec },
	{ "/v1beta1.DevicePlugin/PreStartContainer", GRPC_METHOD_UNARY,
	  &v1beta1__pre_start_container_request__descriptor, pre_start, NULL },
};

/* ---- lifetime ---- */

struct plugin *
plugin_new(struct loop *loop, struct resource *res, const char *socket_dir)
{
	struct sockaddr_un sun;
	struct plugin *p;
	int len;

	p = gdp_calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->loop = loop;
	p->res = res;
	LIST_INIT(&p->watchers);
	LIST_INIT(&p->stale);
	len = snprintf(p->socket_path, sizeof(p->socket_path), "%s/%s",
	    socket_dir, res->socket_name);
	/* A unix socket's path has room for sun_path only: refuse now, not
	 * at every attempt to serve. */
	if (len < 0 || (size_t)len >= sizeof(sun.sun_path)) {
		gdp_free(p);
		errno = ENAMETOOLONG;
		return NULL;
	}
	p->endpoint = strrchr(p->socket_path, '/') + 1;
	return p;
}

void
plugin_set_server_options(struct plugin *p,
    const struct grpc_server_options *opts)
{
	p->opts = *opts;
}

static void
on_server_event(enum grpc_server_event event, int err, void *arg)
{
	struct plugin *p = arg;

	if (event == GRPC_SERVER_ACCEPT_PAUSED)
		log_warn("Cannot accept connections on %s: %s; pausing "
		    "accepts for up to a second at a time until it works "
		    "again", p->socket_path, strerror(err));
}

int
plugin_serve(struct plugin *p)
{
	struct grpc_server_options opts = p->opts;
	struct stat st;
	int rc;

	plugin_stop(p);
	if (opts.on_event == NULL) {
		opts.on_event = on_server_event;
		opts.event_arg = p;
	}
	p->server = grpc_server_new(p->loop, methods,
	    sizeof(methods) / sizeof(methods[0]), p, &opts);
	if (p->server == NULL)
		return -errno;
	rc = grpc_server_listen(p->server, p->socket_path);
	if (rc < 0) {
		grpc_server_free(p->server);
		p->server = NULL;
		return rc;
	}
	p->socket_ino = stat(p->socket_path, &st) == 0 ? st.st_ino : 0;
	return 0;
}

uint64_t
plugin_connections(const struct plugin *p)
{
	return p->server != NULL ? grpc_server_stats(p->server)->conns_open :
	    0;
}

bool
plugin_socket_intact(const struct plugin *p)
{
	struct stat st;

	return p->server != NULL && stat(p->socket_path, &st) == 0 &&
	    st.st_ino == p->socket_ino;
}

void
plugin_stop(struct plugin *p)
{
	if (p->server == NULL)
		return;
	/* Only remove the file if it is still ours: after a kubelet
	 * restart the path may be free or, in principle, someone else's. */
	if (!plugin_socket_intact(p))
		grpc_server_forget_path(p->server);
	grpc_server_shutdown(p->server);
	grpc_server_free(p->server);
	p->server = NULL;
	p->socket_ino = 0;
	if (p->resend != NULL)
		loop_cancel_timer(p->loop, p->resend);
	p->resend = NULL;
}

void
plugin_free(struct plugin *p)
{
	if (p == NULL)
		return;
	plugin_stop(p);
	gdp_free(p);
}

const char *
plugin_socket_path(const struct plugin *p)
{
	return p->socket_path;
}

const char *
plugin_endpoint(const struct plugin *p)
{
	return p->endpoint;
}

const char *
plugin_resource(const struct plugin *p)
{
	return p->res->name;
}
