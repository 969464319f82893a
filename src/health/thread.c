/*
 * thread.c: the health thread (see thread.h).
 *
 * Layout: pacing; event registration; the probe; one wait; the thread's
 * main loop; starting it.
 *
 * The thread says nothing itself (only the loop logs): what the operator
 * should hear of (registration failing or unsupported, waits failing and
 * working again, waits returning at once) goes to the loop as records.
 */
#include "thread.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/alloc.h"

#define WANTED_EVENTS (nvmlEventTypeXidCriticalError | \
	nvmlEventTypeDoubleBitEccError | nvmlEventTypeSingleBitEccError)
/* Watched too where supported (GPUs in MIG mode): not health, but the
 * MIG layout changing, for the loop to rediscover (monitor.h). */
#define LAYOUT_EVENTS nvmlEventTypeMigConfigChange

struct thread_ctx {
	struct nvml *nvml;           /* a reference of its own */
	struct health_sink sink;
	size_t n;
	char (*uuids)[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
	nvmlDevice_t *handles;
	nvmlReturn_t *last_probe;
	bool *unregistered;          /* registration failed: retry it */
	int64_t probe_ms;
	nvmlEventSet_t set;          /* NULL: nothing registered */
	struct health_pacer pacer;
	bool failing;                /* in a wait-failure episode */
	bool early_reported;
};

/* ---- pacing ---- */

void
health_pacer_init(struct health_pacer *p)
{
	p->backoff_ms = HEALTH_BACKOFF_FIRST_MS;
	p->early = 0;
	p->events = 0;
}

/* An early end without an event: sleep the rest of the timeout. */
static int64_t
pause_early(struct health_pacer *p, int64_t timeout_ms, int64_t elapsed_ms)
{
	int64_t rest = timeout_ms - (elapsed_ms > 0 ? elapsed_ms : 0);

	if (elapsed_ms * 2 < timeout_ms)
		p->early++;
	else
		p->early = 0;
	return rest > 0 ? rest : 0;
}

int64_t
health_pacer_pause(struct health_pacer *p, enum health_wait_outcome o,
    int64_t timeout_ms, int64_t elapsed_ms)
{
	int64_t pause;

	if (o != HEALTH_WAIT_EVENT)
		p->events = 0;
	switch (o) {
	case HEALTH_WAIT_EVENT:
		p->backoff_ms = HEALTH_BACKOFF_FIRST_MS;
		p->early = 0;
		if (++p->events < HEALTH_EVENT_BURST)
			return 0;
		p->events = 0;
		return HEALTH_WAIT_MAX_MS;
	case HEALTH_WAIT_EMPTY:
	case HEALTH_WAIT_TIMEOUT:
		p->backoff_ms = HEALTH_BACKOFF_FIRST_MS;
		return pause_early(p, timeout_ms, elapsed_ms);
	case HEALTH_WAIT_LOST:
		return HEALTH_LOST_RETRY_MS;
	case HEALTH_WAIT_ERROR:
	default:
		pause = p->backoff_ms;
		p->backoff_ms = pause * 2 > HEALTH_BACKOFF_MAX_MS ?
		    HEALTH_BACKOFF_MAX_MS : pause * 2;
		return pause;
	}
}

/* ---- registration and probing ---- */

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
post_failure(struct thread_ctx *t, enum health_record_kind kind, size_t gpu,
    const struct nvml_error *e)
{
	struct health_record r = { .kind = kind, .gpu = gpu, .rc = e->code,
		.call = e->call, .gi = HEALTH_WHOLE, .ci = HEALTH_WHOLE };

	t->sink.post(t->sink.arg, &r);
}

/* Registers GPU |i|: 1 if registered, 0 if left to the probe, or < 0. */
static int
register_gpu(struct thread_ctx *t, size_t i, struct nvml_error *e)
{
	uint64_t supported = 0;
	int rc;

	rc = nvml_device_by_uuid(t->nvml, t->uuids[i], &t->handles[i], e);
	if (rc == 0)
		rc = nvml_device_supported_events(t->nvml, t->handles[i],
		    &supported, e);
	if (rc == 0 && (supported & WANTED_EVENTS) == 0) {
		/* Supported, but none of the types we watch. */
		*e = (struct nvml_error){ NVML_ERROR_NOT_SUPPORTED,
			"no XID or ECC event type supported" };
		return 0;
	}
	if (rc == 0)
		rc = nvml_device_register_events(t->nvml, t->handles[i],
		    supported & (WANTED_EVENTS | LAYOUT_EVENTS), t->set, e);
	if (rc == 0)
		return 1;
	return rc == -ENOTSUP ? 0 : rc;
}

/* Says how many GPUs' events are watched, once registration is done. */
static void
post_watching(struct thread_ctx *t, size_t registered)
{
	struct health_record r = { .kind = HEALTH_REC_WATCHING,
		.gpu = HEALTH_ALL_GPUS, .count = (unsigned)registered,
		.gi = HEALTH_WHOLE, .ci = HEALTH_WHOLE };

	t->sink.post(t->sink.arg, &r);
}

/* Registers every GPU that has events; frees the set if none has. */
static void
register_events(struct thread_ctx *t)
{
	struct nvml_error e = { NVML_SUCCESS, NULL };
	size_t registered = 0;

	if (nvml_event_set_create(t->nvml, &t->set, &e) < 0) {
		t->set = NULL;
		post_failure(t, HEALTH_REC_REGISTER_FAILED, HEALTH_ALL_GPUS,
		    &e);
		post_watching(t, 0);
		return;
	}
	for (size_t i = 0; i < t->n; i++) {
		int rc = register_gpu(t, i, &e);

		if (rc > 0)
			registered++;
		else
			post_failure(t, rc == 0 ?
			    HEALTH_REC_REGISTER_UNSUPPORTED :
			    HEALTH_REC_REGISTER_FAILED, i, &e);
		t->unregistered[i] = rc < 0;
	}
	if (registered == 0) {
		nvml_event_set_free(t->nvml, t->set);
		t->set = NULL;
	}
	post_watching(t, registered);
}

/*
 * GPU |i|, whose registration failed (lost at the time, say), answers
 * again: register it now, so that its health recovers with its events.
 */
static void
register_again(struct thread_ctx *t, size_t i)
{
	struct nvml_error e = { NVML_SUCCESS, NULL };
	struct health_record r = { .kind = HEALTH_REC_REGISTERED, .gpu = i,
		.gi = HEALTH_WHOLE, .ci = HEALTH_WHOLE };

	if (t->set == NULL && nvml_event_set_create(t->nvml, &t->set, &e) < 0) {
		t->set = NULL;
		return;
	}
	if (register_gpu(t, i, &e) <= 0)
		return; /* still failing: tried again at the next probe */
	t->unregistered[i] = false;
	t->sink.post(t->sink.arg, &r);
}

/* One cheap query per GPU; posts only what changed. */
static void
probe_all(struct thread_ctx *t)
{
	for (size_t i = 0; i < t->n; i++) {
		struct nvml_error e = { NVML_SUCCESS, NULL };
		struct health_record r = { .kind = HEALTH_REC_PROBE, .gpu = i };
		uint64_t total;

		if (t->handles[i] == NULL && nvml_device_by_uuid(t->nvml,
		    t->uuids[i], &t->handles[i], NULL) < 0)
			t->handles[i] = NULL;
		if (t->handles[i] == NULL)
			e.code = NVML_ERROR_GPU_IS_LOST;
		else if (nvml_device_memory(t->nvml, t->handles[i], &total,
		    &e) == -ENOTSUP)
			e.code = NVML_SUCCESS; /* the query cannot tell */
		if (e.code == NVML_SUCCESS && t->unregistered[i])
			register_again(t, i);
		if (e.code == t->last_probe[i])
			continue;
		t->last_probe[i] = e.code;
		r.rc = e.code;
		r.call = e.call;
		t->sink.post(t->sink.arg, &r);
	}
}

/* ---- one wait ---- */

static size_t
gpu_of(const struct thread_ctx *t, nvmlDevice_t dev)
{
	for (size_t i = 0; dev != NULL && i < t->n; i++)
		if (t->handles[i] == dev)
			return i;
	return HEALTH_ALL_GPUS;
}

/* Posts |ev| if it is for one of our GPUs; says whether it was. */
static bool
post_event(struct thread_ctx *t, const struct nvml_event *ev)
{
	struct health_record r = { .kind = HEALTH_REC_EVENT,
		.gpu = gpu_of(t, ev->device), .type = ev->type,
		.xid = ev->data, .gi = ev->gi, .ci = ev->ci };

	if (r.gpu == HEALTH_ALL_GPUS || ev->type == 0)
		return false;  /* no event, or not ours: dropped */
	t->sink.post(t->sink.arg, &r);
	return true;
}

/* Tells the loop when waits fail, once per episode, and when they work. */
static void
note_failing(struct thread_ctx *t, bool failing, const struct nvml_error *e)
{
	if (failing && !t->failing)
		post_failure(t, HEALTH_REC_WAIT_FAILED, HEALTH_ALL_GPUS, e);
	else if (!failing && t->failing)
		post_failure(t, HEALTH_REC_WAIT_OK, HEALTH_ALL_GPUS, e);
	t->failing = failing;
}

/* Says once that waits come back at once without an event. */
static void
note_early(struct thread_ctx *t, const struct nvml_error *e)
{
	struct health_record r = { .kind = HEALTH_REC_WAIT_EARLY,
		.gpu = HEALTH_ALL_GPUS, .rc = e->code, .call = e->call,
		.count = t->pacer.early };

	if (t->early_reported || t->pacer.early < HEALTH_EARLY_REPORT)
		return;
	t->early_reported = true;
	t->sink.post(t->sink.arg, &r);
}

/* Waits up to |timeout_ms| for one event; returns the pause to take. */
static int64_t
wait_once(struct thread_ctx *t, int64_t timeout_ms)
{
	struct nvml_error e = { NVML_SUCCESS, NULL };
	struct nvml_event ev;
	enum health_wait_outcome o;
	int64_t start = mono_ms(), pause;
	int rc;

	memset(&ev, 0, sizeof(ev));
	rc = nvml_event_wait(t->nvml, t->set, (unsigned)timeout_ms, &ev, &e);
	if (rc == 0)
		o = post_event(t, &ev) ? HEALTH_WAIT_EVENT : HEALTH_WAIT_EMPTY;
	else if (rc == -ETIMEDOUT)
		o = HEALTH_WAIT_TIMEOUT;
	else if (rc == -ENODEV)
		o = HEALTH_WAIT_LOST;
	else
		o = HEALTH_WAIT_ERROR;
	if (o == HEALTH_WAIT_LOST)
		probe_all(t);  /* one GPU is gone: the probe finds which */
	else
		note_failing(t, o == HEALTH_WAIT_ERROR, &e);
	pause = health_pacer_pause(&t->pacer, o, timeout_ms,
	    mono_ms() - start);
	if (o == HEALTH_WAIT_EMPTY || o == HEALTH_WAIT_TIMEOUT)
		note_early(t, &e);
	return pause;
}

/* ---- the thread ---- */

/* How long the next wait may take: until the next probe, at most 1 s. */
static int64_t
next_timeout(const struct thread_ctx *t, int64_t now, int64_t next_probe)
{
	int64_t timeout = HEALTH_WAIT_MAX_MS;

	if (t->probe_ms > 0 && next_probe - now < timeout)
		timeout = next_probe - now > 0 ? next_probe - now : 1;
	return timeout;
}

static void
thread_ctx_free(struct thread_ctx *t)
{
	nvml_event_set_free(t->nvml, t->set);
	nvml_close(t->nvml);
	gdp_free(t->uuids);
	gdp_free(t->handles);
	gdp_free(t->last_probe);
	gdp_free(t->unregistered);
	gdp_free(t);
}

/* Sleeps |ms| with a heartbeat every HEALTH_WAIT_MAX_MS; returns whether
 * to stop. */
static bool
pause_for(const struct health_sink *sink, int64_t ms)
{
	for (;;) {
		int64_t step = ms < HEALTH_WAIT_MAX_MS ? ms : HEALTH_WAIT_MAX_MS;

		if (sink->sleep(sink->arg, step))
			return true;
		ms -= step;
		if (ms <= 0)
			return false;
		sink->heartbeat(sink->arg);
	}
}

static void *
health_thread(void *arg)
{
	struct thread_ctx *t = arg;
	struct health_sink sink = t->sink;
	int64_t next_probe = mono_ms(), pause;

	register_events(t);
	do {
		int64_t now = mono_ms(), timeout;

		sink.heartbeat(sink.arg);
		if (t->probe_ms > 0 && now >= next_probe) {
			probe_all(t);
			next_probe = now + t->probe_ms;
		}
		timeout = next_timeout(t, now, next_probe);
		/* Nothing registered: nothing to wait on, only the probe. */
		pause = t->set == NULL ? timeout : wait_once(t, timeout);
	} while (!pause_for(&sink, pause));
	thread_ctx_free(t);
	sink.release(sink.arg);
	return NULL;
}

/* ---- starting ---- */

static struct thread_ctx *
thread_ctx_new(struct nvml *nvml, const char *const *uuids, size_t n,
    int64_t probe_ms, const struct health_sink *sink)
{
	struct thread_ctx *t = gdp_calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->sink = *sink;
	t->n = n;
	t->probe_ms = probe_ms;
	health_pacer_init(&t->pacer);
	t->uuids = gdp_calloc(n + 1, sizeof(*t->uuids));
	t->handles = gdp_calloc(n + 1, sizeof(*t->handles));
	t->last_probe = gdp_calloc(n + 1, sizeof(*t->last_probe));
	t->unregistered = gdp_calloc(n + 1, sizeof(*t->unregistered));
	if (t->uuids == NULL || t->handles == NULL || t->last_probe == NULL ||
	    t->unregistered == NULL) {
		thread_ctx_free(t);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		strncpy(t->uuids[i], uuids[i], sizeof(t->uuids[i]) - 1);
	t->nvml = nvml_hold(nvml);
	return t;
}

int
health_thread_start(struct nvml *nvml, const char *const *uuids, size_t n,
    int64_t probe_ms, const struct health_sink *sink)
{
	struct thread_ctx *t = thread_ctx_new(nvml, uuids, n, probe_ms, sink);
	pthread_attr_t attr;
	pthread_t th;
	sigset_t all, old;
	int rc;

	if (t == NULL)
		return -ENOMEM;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* Signals belong to the loop's signalfd, never to this thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&th, &attr, health_thread, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		thread_ctx_free(t);
		return -rc;
	}
	return 0;
}
