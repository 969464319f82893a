/*
 * testservice.c: the DevicePlugin test service (see README.md here).
 *
 * Allocate doubles as a control channel: its first device id may be a
 * command (status:, sleep:, size:, stats, push:, flood:, end:) so that a
 * plain gRPC client can make the server do anything the interop suites
 * need to observe, without a second protocol.
 *
 * It decodes and encodes Allocate and GetPreferredAllocation with the
 * plugin's own codecs (wire/wire.h), so the interop suites check those
 * against grpc-go too; requests come with ids as bytes (requests.proto).
 */
#include "testservice.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deviceplugin.pb-c.h"
#include "requests.pb-c.h"
#include "wire/wire.h"

struct watcher {
	struct testservice *ts;
	struct grpc_call *call;
	unsigned gen;
	struct watcher *prev, *next;
};

struct sleeper {
	struct testservice *ts;
	struct grpc_call *call;
	struct loop_timer *timer;
	struct answer *answer;
};

struct testservice {
	struct loop *loop;
	struct grpc_server *server;
	struct watcher *watchers;
	uint64_t streams_open;
	uint64_t streams_closed_by_peer;
	uint64_t sleepers;              /* Allocate calls sleeping now */
	uint64_t sleepers_peak;         /* the most ever at once */
	struct loop_timer *flood_timer;
	size_t flood_bytes;
	char *flood_pad;
};

/* ---- building Allocate answers ---- */

/*
 * An answer is one allocation: the struct, its arrays and |text| bytes
 * for the env values answer_text() hands out, the way the plugin builds
 * its answers in an arena (src/resources/arena.c), so that the bench
 * measures the transport, not the test service's mallocs. Values given
 * to answer_env() from the heap are taken over and freed with it.
 */
struct answer {
	V1beta1__AllocateResponse resp;
	V1beta1__ContainerAllocateResponse *conts;
	V1beta1__ContainerAllocateResponse **cont_ptrs;
	V1beta1__ContainerAllocateResponse__EnvsEntry *entries;
	V1beta1__ContainerAllocateResponse__EnvsEntry **entry_ptrs;
	size_t per_cont;
	char **taken;     /* in the block: heap values to free */
	size_t ntaken;
	char *text;       /* in the block */
	size_t text_left;
};

static void
answer_free(struct answer *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->ntaken; i++)
		free(a->taken[i]);
	free(a);
}

/* An answer with |n| containers, room for |per_cont| envs each and
 * |text| bytes of values. */
static struct answer *
answer_new(size_t n, size_t per_cont, size_t text)
{
	size_t nc = n ? n : 1, ne = n * per_cont + 1;
	size_t size = sizeof(struct answer) +
	    nc * (sizeof(V1beta1__ContainerAllocateResponse) + sizeof(void *)) +
	    ne * (sizeof(V1beta1__ContainerAllocateResponse__EnvsEntry) +
	    2 * sizeof(void *)) + text;
	struct answer *a = calloc(1, size);
	V1beta1__AllocateResponse init = V1BETA1__ALLOCATE_RESPONSE__INIT;

	if (a == NULL)
		return NULL;
	a->resp = init;
	a->per_cont = per_cont;
	a->conts = (void *)(a + 1);
	a->entries = (void *)(a->conts + nc);
	a->cont_ptrs = (void *)(a->entries + ne);
	a->entry_ptrs = (void *)(a->cont_ptrs + nc);
	a->taken = (void *)(a->entry_ptrs + ne);
	a->text = (char *)(a->taken + ne);
	a->text_left = text;
	for (size_t i = 0; i < n; i++) {
		V1beta1__ContainerAllocateResponse c =
		    V1BETA1__CONTAINER_ALLOCATE_RESPONSE__INIT;

		a->conts[i] = c;
		a->conts[i].envs = &a->entry_ptrs[i * per_cont];
		a->cont_ptrs[i] = &a->conts[i];
	}
	a->resp.container_responses = a->cont_ptrs;
	a->resp.n_container_responses = n;
	return a;
}

/* |len| bytes of the answer's text room (asked for in answer_new). */
static char *
answer_text(struct answer *a, size_t len)
{
	char *p = a->text;

	if (len > a->text_left)
		return NULL;
	a->text += len;
	a->text_left -= len;
	return p;
}

/* Adds env |key| (static) = |value| (the answer's text, or, when
 * |owned|, the heap's, taken over) to container |i|. */
static int
answer_env(struct answer *a, size_t i, const char *key, char *value,
    bool owned)
{
	V1beta1__ContainerAllocateResponse *c = &a->conts[i];
	V1beta1__ContainerAllocateResponse__EnvsEntry init =
	    V1BETA1__CONTAINER_ALLOCATE_RESPONSE__ENVS_ENTRY__INIT;
	V1beta1__ContainerAllocateResponse__EnvsEntry *e;

	if (value == NULL)
		return -ENOMEM;
	if (owned)
		a->taken[a->ntaken++] = value;
	e = &a->entries[i * a->per_cont + c->n_envs];
	*e = init;
	e->key = (char *)key;
	e->value = value;
	c->envs[c->n_envs++] = e;
	return 0;
}

/* What join_ids() needs for |ids|, its terminator included. */
static size_t
joined_len(const ProtobufCBinaryData *ids, size_t n)
{
	size_t len = 1;

	for (size_t i = 0; i < n; i++)
		len += ids[i].len + 1;
	return len;
}

/* |ids| joined with commas, in |out| (joined_len() bytes). */
static char *
join_ids(char *out, const ProtobufCBinaryData *ids, size_t n)
{
	char *p = out;

	if (out == NULL)
		return NULL;
	*p = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t l = ids[i].len;

		if (i > 0)
			*p++ = ',';
		if (l > 0)
			memcpy(p, ids[i].data, l);
		p += l;
	}
	*p = '\0';
	return out;
}

static struct answer *
devices_answer(const V1beta1__Raw__AllocateRequest *req, size_t pad)
{
	size_t n = req->n_container_requests, text = 0;
	struct answer *a;

	for (size_t i = 0; i < n; i++)
		text += joined_len(req->container_requests[i]->devices_ids,
		    req->container_requests[i]->n_devices_ids);
	if ((a = answer_new(n, 2, text)) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		V1beta1__Raw__ContainerAllocateRequest *cr =
		    req->container_requests[i];
		size_t len = joined_len(cr->devices_ids, cr->n_devices_ids);

		if (answer_env(a, i, "DEVICES", join_ids(answer_text(a, len),
		    cr->devices_ids, cr->n_devices_ids), false) < 0)
			goto fail;
	}
	if (pad > 0 && n > 0) {
		char *p = malloc(pad + 1);

		if (p != NULL) {
			memset(p, 'x', pad);
			p[pad] = '\0';
		}
		if (answer_env(a, 0, "PAD", p, true) < 0)
			goto fail;
	}
	return a;
fail:
	answer_free(a);
	return NULL;
}

static char *
u64_string(uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return strdup(buf);
}

static uint64_t
rss_kb(void)
{
	unsigned long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f == NULL)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE) / 1024;
}

static struct answer *
stats_answer(struct testservice *ts)
{
	const struct grpc_server_stats *st = grpc_server_stats(ts->server);
	struct answer *a = answer_new(1, 10, 0);
	const struct { const char *key; uint64_t value; } rows[] = {
		{ "calls", st->calls },
		{ "conns_open", st->conns_open },
		{ "streams_open", ts->streams_open },
		{ "streams_closed_by_peer", ts->streams_closed_by_peer },
		{ "deadline_cancelled", st->deadline_cancelled },
		{ "queued_bytes", st->queued_bytes },
		{ "max_queued_bytes", st->max_queued_bytes },
		{ "rss_kb", rss_kb() },
		{ "sleepers", ts->sleepers },
		{ "sleepers_peak", ts->sleepers_peak },
	};

	if (a == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (answer_env(a, 0, rows[i].key, u64_string(rows[i].value),
		    true) < 0) {
			answer_free(a);
			return NULL;
		}
	return a;
}

/* ---- ListAndWatch ---- */

/* Sends the device list; |gen| > 0 adds device gen-<gen>. */
static int
send_list(struct grpc_call *call, unsigned gen, const char *pad)
{
	V1beta1__NUMANode node = V1BETA1__NUMANODE__INIT;
	V1beta1__NUMANode *nodes[] = { &node };
	V1beta1__TopologyInfo topo = V1BETA1__TOPOLOGY_INFO__INIT;
	V1beta1__Device devs[3] = {
		V1BETA1__DEVICE__INIT, V1BETA1__DEVICE__INIT,
		V1BETA1__DEVICE__INIT,
	};
	V1beta1__Device *ptrs[] = { &devs[0], &devs[1], &devs[2] };
	V1beta1__ListAndWatchResponse resp =
	    V1BETA1__LIST_AND_WATCH_RESPONSE__INIT;
	char gen_id[32];

	node.id = 0;
	topo.nodes = nodes;
	topo.n_nodes = 1;
	devs[0].id = "dev-0";
	devs[0].health = "Healthy";
	devs[0].topology = &topo;
	devs[1].id = "dev-1";
	devs[1].health = "Healthy";
	resp.devices = ptrs;
	resp.n_devices = 2;
	if (gen > 0) {
		snprintf(gen_id, sizeof(gen_id), "gen-%u", gen);
		devs[2].id = gen_id;
		devs[2].health = pad ? (char *)pad : "Healthy";
		resp.n_devices = 3;
	}
	return grpc_call_send(call, &resp.base);
}

static void
watcher_free(struct watcher *w)
{
	struct testservice *ts = w->ts;

	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		ts->watchers = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	ts->streams_open--;
	free(w);
}

static void
watcher_closed(struct grpc_call *call, enum grpc_close_reason reason,
    void *arg)
{
	struct watcher *w = arg;

	if (reason == GRPC_CLOSE_PEER_GONE)
		w->ts->streams_closed_by_peer++;
	watcher_free(w);
}

static void
list_and_watch(struct grpc_call *call, const ProtobufCMessage *request,
    void *app)
{
	struct testservice *ts = app;
	struct watcher *w = calloc(1, sizeof(*w));

	if (w == NULL) {
		grpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	w->ts = ts;
	w->call = call;
	w->next = ts->watchers;
	if (ts->watchers != NULL)
		ts->watchers->prev = w;
	ts->watchers = w;
	ts->streams_open++;
	grpc_call_on_close(call, watcher_closed, w);
	send_list(call, 0, NULL);
}

static void
push_all(struct testservice *ts, unsigned count)
{
	for (struct watcher *w = ts->watchers; w != NULL; w = w->next)
		for (unsigned i = 0; i < count; i++)
			send_list(w->call, ++w->gen, NULL);
}

static void
end_all(struct testservice *ts, int code)
{
	struct watcher *w = ts->watchers, *next;

	ts->watchers = NULL;
	for (; w != NULL; w = next) {
		next = w->next;
		grpc_call_finish(w->call, code, code ? "ended by end:" : NULL);
		ts->streams_open--;
		free(w);
	}
}

static int64_t
flood_tick(struct loop *loop, void *arg)
{
	struct testservice *ts = arg;

	for (struct watcher *w = ts->watchers; w != NULL; w = w->next) {
		/* Until the queue is full; the gen number of a refused
		 * message is reused, so the reader sees no gaps it did not
		 * cause itself. */
		while (send_list(w->call, w->gen + 1, ts->flood_pad) == 0)
			w->gen++;
	}
	return 1;
}

static void
flood(struct testservice *ts, size_t bytes)
{
	if (ts->flood_timer != NULL)
		loop_cancel_timer(ts->loop, ts->flood_timer);
	ts->flood_timer = NULL;
	free(ts->flood_pad);
	ts->flood_pad = NULL;
	if (bytes == 0)
		return;
	ts->flood_pad = malloc(bytes + 1);
	if (ts->flood_pad == NULL)
		return;
	memset(ts->flood_pad, 'f', bytes);
	ts->flood_pad[bytes] = '\0';
	ts->flood_timer = loop_add_timer(ts->loop, 0, flood_tick, ts);
}

/* ---- Allocate and its commands ---- */

static void
sleeper_free(struct sleeper *s)
{
	if (s->timer != NULL)
		loop_cancel_timer(s->ts->loop, s->timer);
	s->ts->sleepers--;
	answer_free(s->answer);
	free(s);
}

static int64_t
sleeper_wake(struct loop *loop, void *arg)
{
	struct sleeper *s = arg;

	s->timer = NULL;
	grpc_call_reply(s->call, &s->answer->resp.base);
	sleeper_free(s);
	return LOOP_NOMORE;
}

static void
sleeper_closed(struct grpc_call *call, enum grpc_close_reason reason,
    void *arg)
{
	sleeper_free(arg);
}

static void
reply_answer(struct grpc_call *call, struct answer *a)
{
	if (a == NULL) {
		grpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	grpc_call_reply(call, &a->resp.base);
	answer_free(a);
}

static void
allocate_later(struct testservice *ts, struct grpc_call *call,
    struct answer *a, long ms)
{
	struct sleeper *s = calloc(1, sizeof(*s));

	if (s == NULL || a == NULL) {
		free(s);
		reply_answer(call, a);
		return;
	}
	s->ts = ts;
	s->call = call;
	s->answer = a;
	if (++ts->sleepers > ts->sleepers_peak)
		ts->sleepers_peak = ts->sleepers;
	s->timer = loop_add_timer(ts->loop, ms, sleeper_wake, s);
	if (s->timer == NULL) {
		s->answer = NULL;
		sleeper_free(s);
		reply_answer(call, a);
		return;
	}
	grpc_call_on_close(call, sleeper_closed, s);
}

/* Runs a command; returns false if |cmd| is an ordinary device id. */
static bool
run_command(struct testservice *ts, struct grpc_call *call,
    const V1beta1__Raw__AllocateRequest *req, const ProtobufCBinaryData *id)
{
	char cmd[256];
	long n;
	int consumed = 0;

	if (id->len == 0 || id->len >= sizeof(cmd) ||
	    memchr(id->data, '\0', id->len) != NULL)
		return false;
	memcpy(cmd, id->data, id->len);
	cmd[id->len] = '\0';
	if (strchr(cmd, ':') == NULL && strcmp(cmd, "stats") != 0)
		return false; /* the common case: a plain device id */
	if (sscanf(cmd, "status:%ld:%n", &n, &consumed) == 1 && consumed) {
		grpc_call_finish(call, (int)n, cmd + consumed);
	} else if (sscanf(cmd, "sleep:%ld", &n) == 1) {
		allocate_later(ts, call, devices_answer(req, 0), n);
	} else if (sscanf(cmd, "size:%ld", &n) == 1 && n >= 0) {
		reply_answer(call, devices_answer(req, (size_t)n));
	} else if (strcmp(cmd, "stats") == 0) {
		reply_answer(call, stats_answer(ts));
	} else if (sscanf(cmd, "push:%ld", &n) == 1 && n >= 0) {
		push_all(ts, (unsigned)n);
		reply_answer(call, devices_answer(req, 0));
	} else if (sscanf(cmd, "flood:%ld", &n) == 1 && n >= 0) {
		flood(ts, (size_t)n);
		reply_answer(call, devices_answer(req, 0));
	} else if (sscanf(cmd, "end:%ld", &n) == 1) {
		end_all(ts, (int)n);
		reply_answer(call, devices_answer(req, 0));
	} else {
		return false;
	}
	return true;
}

static void
allocate(struct grpc_call *call, const ProtobufCMessage *request,
    void *app)
{
	const V1beta1__Raw__AllocateRequest *req =
	    (const V1beta1__Raw__AllocateRequest *)request;

	if (req->n_container_requests > 0 &&
	    req->container_requests[0]->n_devices_ids > 0 &&
	    run_command(app, call, req,
	    &req->container_requests[0]->devices_ids[0]))
		return;
	reply_answer(call, devices_answer(req, 0));
}

/* ---- the small methods ---- */

static void
get_options(struct grpc_call *call, const ProtobufCMessage *request,
    void *app)
{
	V1beta1__DevicePluginOptions opts =
	    V1BETA1__DEVICE_PLUGIN_OPTIONS__INIT;

	opts.get_preferred_allocation_available = 1;
	grpc_call_reply(call, &opts.base);
}

static void
pre_start(struct grpc_call *call, const ProtobufCMessage *request,
    void *app)
{
	V1beta1__PreStartContainerResponse resp =
	    V1BETA1__PRE_START_CONTAINER_RESPONSE__INIT;

	grpc_call_reply(call, &resp.base);
}

static bool
same_id(const ProtobufCBinaryData *a, const ProtobufCBinaryData *b)
{
	return a->len == b->len && (a->len == 0 ||
	    memcmp(a->data, b->data, a->len) == 0);
}

static bool
contains(const ProtobufCBinaryData **ids, size_t n,
    const ProtobufCBinaryData *id)
{
	for (size_t i = 0; i < n; i++)
		if (same_id(ids[i], id))
			return true;
	return false;
}

/* Picks (room for |cap|): must-include ids, then available ones. */
static size_t
pick(const V1beta1__Raw__ContainerPreferredAllocationRequest *cr,
    const ProtobufCBinaryData **out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < cr->n_must_include_deviceids && n < cap; i++)
		out[n++] = &cr->must_include_deviceids[i];
	for (size_t i = 0; i < cr->n_available_deviceids && n < cap; i++)
		if (!contains(out, n, &cr->available_deviceids[i]))
			out[n++] = &cr->available_deviceids[i];
	return n;
}

/* The picked ids as strings, in one block at |out| (NULL on failure). */
static size_t
prefer(const V1beta1__Raw__ContainerPreferredAllocationRequest *cr,
    char ***out, size_t cap)
{
	const ProtobufCBinaryData **picked = calloc(cap + 1, sizeof(*picked));
	size_t n, text = 0;
	char **ids, *p;

	*out = NULL;
	if (picked == NULL)
		return 0;
	n = pick(cr, picked, cap);
	for (size_t i = 0; i < n; i++)
		text += picked[i]->len + 1;
	ids = malloc((n + 1) * sizeof(char *) + text);
	if (ids == NULL) {
		free(picked);
		return 0;
	}
	p = (char *)(ids + n + 1);
	for (size_t i = 0; i < n; i++) {
		ids[i] = p;
		if (picked[i]->len > 0)
			memcpy(p, picked[i]->data, picked[i]->len);
		p += picked[i]->len;
		*p++ = '\0';
	}
	free(picked);
	*out = ids;
	return n;
}

static void
preferred(struct grpc_call *call, const ProtobufCMessage *request,
    void *app)
{
	const V1beta1__Raw__PreferredAllocationRequest *req =
	    (const V1beta1__Raw__PreferredAllocationRequest *)request;
	size_t n = req->n_container_requests;
	V1beta1__PreferredAllocationResponse resp =
	    V1BETA1__PREFERRED_ALLOCATION_RESPONSE__INIT;
	V1beta1__ContainerPreferredAllocationResponse *conts, **ptrs;

	conts = calloc(n + 1, sizeof(*conts));
	ptrs = calloc(n + 1, sizeof(*ptrs));
	for (size_t i = 0; conts && ptrs && i < n; i++) {
		const V1beta1__Raw__ContainerPreferredAllocationRequest *cr =
		    req->container_requests[i];
		V1beta1__ContainerPreferredAllocationResponse init =
		    V1BETA1__CONTAINER_PREFERRED_ALLOCATION_RESPONSE__INIT;
		size_t cap = cr->allocation_size > 0 ?
		    (size_t)cr->allocation_size : 0;

		conts[i] = init;
		conts[i].n_deviceids = prefer(cr, &conts[i].deviceids, cap);
		ptrs[i] = &conts[i];
	}
	resp.container_responses = ptrs;
	resp.n_container_responses = conts && ptrs ? n : 0;
	grpc_call_reply(call, &resp.base);
	for (size_t i = 0; conts && ptrs && i < n; i++)
		free(conts[i].deviceids);
	free(conts);
	free(ptrs);
}

static const struct grpc_method methods[] = {
	{ "/v1beta1.DevicePlugin/GetDevicePluginOptions", GRPC_METHOD_UNARY,
	  &v1beta1__empty__descriptor, get_options, NULL },
	{ "/v1beta1.DevicePlugin/ListAndWatch",
	  GRPC_METHOD_SERVER_STREAMING, &v1beta1__empty__descriptor,
	  list_and_watch, NULL },
	{ "/v1beta1.DevicePlugin/GetPreferredAllocation", GRPC_METHOD_UNARY,
	  &v1beta1__raw__preferred_allocation_request__descriptor, preferred,
	  &wire_preferred_codec },
	{ "/v1beta1.DevicePlugin/Allocate", GRPC_METHOD_UNARY,
	  &v1beta1__raw__allocate_request__descriptor, allocate,
	  &wire_allocate_codec },
	{ "/v1beta1.DevicePlugin/PreStartContainer", GRPC_METHOD_UNARY,
	  &v1beta1__pre_start_container_request__descriptor, pre_start, NULL },
};

struct testservice *
testservice_new(struct loop *loop, const struct grpc_server_options *opts)
{
	struct testservice *ts = calloc(1, sizeof(*ts));

	if (ts == NULL)
		return NULL;
	ts->loop = loop;
	ts->server = grpc_server_new(loop, methods,
	    sizeof(methods) / sizeof(methods[0]), ts, opts);
	if (ts->server == NULL) {
		free(ts);
		return NULL;
	}
	return ts;
}

struct grpc_server *
testservice_server(struct testservice *ts)
{
	return ts->server;
}

void
testservice_free(struct testservice *ts)
{
	if (ts == NULL)
		return;
	flood(ts, 0);
	grpc_server_free(ts->server); /* close callbacks free the rest */
	free(ts);
}
