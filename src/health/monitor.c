/*
 * monitor.c: the health thread and the loop-side health state (see
 * monitor.h).
 *
 * Layout: the shared queue; the thread (event registration, waits with
 * backoff, the probe); the loop side (applying records to each GPU's
 * state, recovery, telling the application).
 *
 * A GPU is healthy when none of these holds: a transient XID within the
 * quiet period; a reset-class XID or a failed probe not yet followed by a
 * reset (the probe must see the GPU fail and then answer again); health
 * events unavailable (when so configured).
 */
#include "monitor.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

#define WAIT_MAX_MS 1000
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000
/* While a registered GPU is lost, every wait answers GPU_IS_LOST at once:
 * probe (which marks that GPU alone) and wait again after this long. */
#define LOST_RETRY_MS 250
#define NOT_MIG HEALTH_WHOLE
#define MAX_MIG_FAULTS 16

enum rec_kind {
	REC_EVENT,
	REC_PROBE,
	REC_WAIT_FAILED,
	REC_WAIT_OK,
	REC_REGISTER_FAILED,
	REC_REGISTER_UNSUPPORTED,
};

struct record {
	enum rec_kind kind;
	int gpu;                    /* -1: not one GPU */
	uint64_t type;
	uint64_t xid;
	unsigned gi, ci;
	nvmlReturn_t rc;
};

/* The queue between the thread and the loop; freed by the last user. */
struct shared {
	pthread_mutex_t mu;
	struct record *q;
	size_t n, cap;
	int efd;
	atomic_int refs;
	atomic_bool stop;
};

struct thread_ctx {
	struct nvml *nvml;          /* a reference of its own */
	struct shared *sh;
	size_t n;
	char (*uuids)[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
	nvmlDevice_t *handles;
	nvmlReturn_t *last_probe;
	int64_t probe_ms;
	nvmlEventSet_t set;
};

struct mig_fault {
	unsigned gi, ci;
	bool needs_reset;
	int64_t recover_at_ms;
};

struct gpu_state {
	struct mig_fault mig[MAX_MIG_FAULTS];
	size_t n_mig;
	bool xid_transient;
	int64_t recover_at_ms;
	bool need_reset;
	bool saw_down;
	bool events_broken;
	bool probe_ok;
	/* One text per cause, so that clearing one never hides another. */
	char fault[192];            /* the XID or probe failure in force */
	char events[128];           /* why events are unavailable */
	char mig_fault[192];        /* the latest MIG-scoped fault */
	char recovered[128];        /* how it last became healthy */
};

struct health_monitor {
	struct loop *loop;
	struct shared *sh;
	const struct inventory *inv;
	struct health_options opts;
	struct gpu_state *st;
	bool *healthy;
	size_t n;
	struct loop_timer *recover;
	bool faults_changed;
	struct health_fault *faults;    /* snapshot buffer */
	health_changed_cb cb;
	void *arg;
};

/* ---- the shared queue ---- */

static void
shared_put(struct shared *sh)
{
	if (atomic_fetch_sub(&sh->refs, 1) != 1)
		return;
	close(sh->efd);
	pthread_mutex_destroy(&sh->mu);
	free(sh->q);
	free(sh);
}

static void
post(struct shared *sh, const struct record *r)
{
	uint64_t one = 1;

	pthread_mutex_lock(&sh->mu);
	if (sh->n == sh->cap) {
		size_t cap = sh->cap ? sh->cap * 2 : 16;
		struct record *q = realloc(sh->q, cap * sizeof(*q));

		if (q == NULL) {
			pthread_mutex_unlock(&sh->mu);
			return; /* dropped; the probe catches up */
		}
		sh->q = q;
		sh->cap = cap;
	}
	sh->q[sh->n++] = *r;
	pthread_mutex_unlock(&sh->mu);
	(void)!write(sh->efd, &one, sizeof(one));
}

/* ---- the thread ---- */

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(int64_t ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void
register_events(struct thread_ctx *t)
{
	const uint64_t want = nvmlEventTypeXidCriticalError |
	    nvmlEventTypeDoubleBitEccError | nvmlEventTypeSingleBitEccError;
	struct nvml_error e;
	int rc = nvml_event_set_create(t->nvml, &t->set, &e);

	if (rc < 0) {
		struct record r = { .kind = REC_WAIT_FAILED, .gpu = -1,
			.rc = e.code };

		t->set = NULL;
		post(t->sh, &r);
		return;
	}
	for (size_t i = 0; i < t->n; i++) {
		uint64_t supported = 0;
		struct record r = { .kind = REC_REGISTER_FAILED,
			.gpu = (int)i };

		rc = nvml_device_by_uuid(t->nvml, t->uuids[i], &t->handles[i],
		    &e);
		if (rc == 0)
			rc = nvml_device_supported_events(t->nvml,
			    t->handles[i], &supported, &e);
		if (rc == 0)
			rc = nvml_device_register_events(t->nvml,
			    t->handles[i], want & supported, t->set, &e);
		if (rc == 0)
			continue;
		if (rc == -ENOTSUP)
			r.kind = REC_REGISTER_UNSUPPORTED;
		r.rc = e.code;
		post(t->sh, &r);
	}
}

static int
gpu_of(const struct thread_ctx *t, nvmlDevice_t dev)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->handles[i] == dev)
			return (int)i;
	return -1;
}

/* One cheap query per GPU; posts only what changed. */
static void
probe_all(struct thread_ctx *t)
{
	for (size_t i = 0; i < t->n; i++) {
		struct nvml_error e = { NVML_SUCCESS, NULL };
		uint64_t total;
		nvmlReturn_t rc;
		struct record r = { .kind = REC_PROBE, .gpu = (int)i };

		if (t->handles[i] == NULL && nvml_device_by_uuid(t->nvml,
		    t->uuids[i], &t->handles[i], NULL) < 0)
			t->handles[i] = NULL;
		if (t->handles[i] == NULL)
			e.code = NVML_ERROR_GPU_IS_LOST;
		else if (nvml_device_memory(t->nvml, t->handles[i], &total,
		    &e) == -ENOTSUP)
			e.code = NVML_SUCCESS; /* the query cannot tell */
		rc = e.code;
		if (rc == t->last_probe[i])
			continue;
		t->last_probe[i] = rc;
		r.rc = rc;
		post(t->sh, &r);
	}
}

enum wait_result { WAITED, WAIT_LOST, WAIT_FAILING };

/* Waits for one event (or the next probe). */
static enum wait_result
wait_once(struct thread_ctx *t, int64_t timeout_ms, bool *failing)
{
	struct nvml_event data;
	struct nvml_error e = { NVML_SUCCESS, NULL };
	nvmlReturn_t rc;
	struct record r = { .gpu = -1 };

	if (t->set == NULL) {
		sleep_ms(timeout_ms);
		return WAITED;
	}
	memset(&data, 0, sizeof(data));
	(void)nvml_event_wait(t->nvml, t->set, (unsigned)timeout_ms, &data,
	    &e);
	rc = e.code;
	if (rc == NVML_ERROR_GPU_IS_LOST) {
		/* Not the waits failing: one GPU is gone. The probe finds
		 * which, and marks that one alone. */
		probe_all(t);
		return WAIT_LOST;
	}
	if (rc != NVML_SUCCESS && rc != NVML_ERROR_TIMEOUT) {
		if (!*failing) {
			r.kind = REC_WAIT_FAILED;
			r.rc = rc;
			post(t->sh, &r);
		}
		*failing = true;
		return WAIT_FAILING;
	}
	if (*failing) {
		r.kind = REC_WAIT_OK;
		post(t->sh, &r);
		*failing = false;
	}
	if (rc == NVML_SUCCESS) {
		r.kind = REC_EVENT;
		r.gpu = gpu_of(t, data.device);
		r.type = data.type;
		r.xid = data.data;
		r.gi = data.gi;
		r.ci = data.ci;
		post(t->sh, &r);
	}
	return WAITED;
}

static void
thread_ctx_free(struct thread_ctx *t)
{
	nvml_event_set_free(t->nvml, t->set);
	nvml_close(t->nvml);
	shared_put(t->sh);
	free(t->uuids);
	free(t->handles);
	free(t->last_probe);
	free(t);
}

static void *
health_thread(void *arg)
{
	struct thread_ctx *t = arg;
	int64_t next_probe = now_ms(), backoff = BACKOFF_FIRST_MS;
	bool failing = false;

	register_events(t);
	while (!atomic_load(&t->sh->stop)) {
		int64_t now = now_ms(), timeout = WAIT_MAX_MS;

		if (t->probe_ms > 0 && now >= next_probe) {
			probe_all(t);
			next_probe = now + t->probe_ms;
		}
		if (t->probe_ms > 0 && next_probe - now < timeout)
			timeout = next_probe - now > 0 ? next_probe - now : 1;
		switch (wait_once(t, timeout, &failing)) {
		case WAITED:
			backoff = BACKOFF_FIRST_MS;
			continue;
		case WAIT_LOST:
			sleep_ms(LOST_RETRY_MS);
			continue;
		case WAIT_FAILING:
			break;
		}
		sleep_ms(backoff);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
		    backoff * 2;
	}
	thread_ctx_free(t);
	return NULL;
}

/* ---- the loop side ---- */

static bool
is_healthy(const struct gpu_state *s)
{
	return !s->xid_transient && !s->need_reset && !s->events_broken;
}

static int64_t recover_tick(struct loop *loop, void *arg);

/* The cause in force, most serious first; "" when there is none. */
static const char *
cause_of(const struct gpu_state *s)
{
	if (s->need_reset || s->xid_transient)
		return s->fault;
	if (s->events_broken)
		return s->events;
	if (s->n_mig > 0)
		return s->mig_fault;
	return "";
}

static void
arm_recovery(struct health_monitor *m)
{
	int64_t next = INT64_MAX, now = loop_now_ms();

	for (size_t i = 0; i < m->n; i++) {
		const struct gpu_state *s = &m->st[i];

		if (s->xid_transient && s->recover_at_ms < next)
			next = s->recover_at_ms;
		for (size_t k = 0; k < s->n_mig; k++)
			if (!s->mig[k].needs_reset &&
			    s->mig[k].recover_at_ms < next)
				next = s->mig[k].recover_at_ms;
	}
	if (m->recover != NULL)
		loop_cancel_timer(m->loop, m->recover);
	m->recover = NULL;
	if (next != INT64_MAX)
		m->recover = loop_add_timer(m->loop, next > now ? next - now :
		    0, recover_tick, m);
}

/* A fault of one MIG instance: the GPU's other instances stay healthy. */
static void
add_mig_fault(struct health_monitor *m, struct gpu_state *s,
    const struct record *r, enum xid_class cls)
{
	struct mig_fault *f = NULL;

	for (size_t k = 0; k < s->n_mig && f == NULL; k++)
		if (s->mig[k].gi == r->gi && s->mig[k].ci == r->ci)
			f = &s->mig[k];
	if (f == NULL && s->n_mig < MAX_MIG_FAULTS)
		f = &s->mig[s->n_mig++];
	if (f == NULL) {
		s->need_reset = true; /* too many: treat the GPU as failed */
		return;
	}
	f->gi = r->gi;
	f->ci = r->ci;
	f->needs_reset |= cls == XID_CLASS_RESET;
	f->recover_at_ms = loop_now_ms() + m->opts.quiet_ms;
	m->faults_changed = true;
	log_warn("GPU %d (%s): %s: that MIG device is unhealthy, the GPU's "
	    "other instances are not", r->gpu, m->inv->gpus[r->gpu].uuid,
	    s->mig_fault);
	arm_recovery(m);
}

static void
apply_xid(struct health_monitor *m, struct gpu_state *s, size_t i,
    const struct record *r)
{
	enum xid_class cls = xid_class_of(r->xid);
	char scope[64] = "", why[192];

	if (!policy_xid_critical(&m->opts.policy, r->xid)) {
		log_info("XID %" PRIu64 " (%s) on GPU %zu (%s): an application "
		    "error, health unchanged", r->xid, xid_description(r->xid),
		    i, m->inv->gpus[i].uuid);
		return;
	}
	if (r->gi != NOT_MIG)
		snprintf(scope, sizeof(scope), " (GPU instance %u, compute "
		    "instance %u)", r->gi, r->ci);
	snprintf(why, sizeof(why), "XID %" PRIu64 "%s%s%s, %s%s", r->xid,
	    xid_description(r->xid)[0] ? " (" : "", xid_description(r->xid),
	    xid_description(r->xid)[0] ? ")" : "", xid_class_name(cls), scope);
	if (r->gi != NOT_MIG) {
		snprintf(s->mig_fault, sizeof(s->mig_fault), "%s", why);
		add_mig_fault(m, s, r, cls);
		return;
	}
	if (cls == XID_CLASS_RESET) {
		snprintf(s->fault, sizeof(s->fault), "%s", why);
		s->need_reset = true;
		s->saw_down = false;
		s->xid_transient = false;
	} else if (!s->need_reset) {
		/* A reset-class fault in force stays the one named. */
		snprintf(s->fault, sizeof(s->fault), "%s", why);
		s->xid_transient = true;
		s->recover_at_ms = loop_now_ms() + m->opts.quiet_ms;
		arm_recovery(m);
	}
}

static void
apply_probe(struct health_monitor *m, struct gpu_state *s, nvmlReturn_t rc)
{
	char d[128];

	if (rc == NVML_SUCCESS) {
		s->probe_ok = true;
		if (s->saw_down) {
			/* A reset clears every fault of the GPU. */
			s->need_reset = false;
			s->saw_down = false;
			s->n_mig = 0;
			snprintf(s->recovered, sizeof(s->recovered),
			    "answers again after a reset");
		}
		return;
	}
	s->probe_ok = false;
	s->saw_down = true;
	s->need_reset = true;
	s->xid_transient = false;
	snprintf(s->fault, sizeof(s->fault), "NVML probe: %s",
	    nvml_describe(NULL, rc, d, sizeof(d)));
}

static void
set_events_broken(struct health_monitor *m, int gpu, bool broken,
    nvmlReturn_t rc)
{
	char d[128];

	for (size_t i = 0; i < m->n; i++) {
		if (gpu >= 0 && (size_t)gpu != i)
			continue;
		m->st[i].events_broken = broken &&
		    m->opts.unhealthy_without_events;
		if (broken)
			snprintf(m->st[i].events, sizeof(m->st[i].events),
			    "health events unavailable: %s",
			    nvml_describe(NULL, rc, d, sizeof(d)));
		else
			snprintf(m->st[i].recovered,
			    sizeof(m->st[i].recovered),
			    "health events work again");
	}
}

static void
apply(struct health_monitor *m, const struct record *r)
{
	char d[128];

	switch (r->kind) {
	case REC_EVENT:
		if (r->gpu < 0)
			break;
		if (r->type & nvmlEventTypeXidCriticalError)
			apply_xid(m, &m->st[r->gpu], (size_t)r->gpu, r);
		else
			log_info("ECC %s-bit event on GPU %d (%s)",
			    (r->type & nvmlEventTypeDoubleBitEccError) ?
			    "double" : "single", r->gpu,
			    m->inv->gpus[r->gpu].uuid);
		break;
	case REC_PROBE:
		if (r->gpu >= 0) {
			if (r->rc == NVML_SUCCESS && m->st[r->gpu].n_mig &&
			    m->st[r->gpu].saw_down)
				m->faults_changed = true;
			apply_probe(m, &m->st[r->gpu], r->rc);
		}
		break;
	case REC_WAIT_FAILED:
		log_warn("NVML event wait failing: %s; retrying with backoff "
		    "(%s)", nvml_describe(NULL, r->rc, d, sizeof(d)),
		    m->opts.unhealthy_without_events ? "GPUs unhealthy "
		    "meanwhile" : "GPUs left as they are");
		set_events_broken(m, -1, true, r->rc);
		break;
	case REC_WAIT_OK:
		log_info("NVML event waits work again");
		set_events_broken(m, -1, false, NVML_SUCCESS);
		break;
	case REC_REGISTER_FAILED:
		log_warn("GPU %d: cannot register for health events: %s",
		    r->gpu, nvml_describe(NULL, r->rc, d, sizeof(d)));
		set_events_broken(m, r->gpu, true, r->rc);
		break;
	case REC_REGISTER_UNSUPPORTED:
		log_info("GPU %d does not support health events; the probe "
		    "still watches it", r->gpu);
		break;
	}
}

static size_t
collect_faults(struct health_monitor *m)
{
	size_t n = 0;

	for (size_t i = 0; i < m->n; i++)
		for (size_t k = 0; k < m->st[i].n_mig; k++) {
			m->faults[n].gpu = i;
			m->faults[n].gi = m->st[i].mig[k].gi;
			m->faults[n].ci = m->st[i].mig[k].ci;
			n++;
		}
	return n;
}

/* Logs every transition and tells the application once. */
static void
publish(struct health_monitor *m)
{
	bool changed = m->faults_changed;
	struct health_snapshot snap;

	for (size_t i = 0; i < m->n; i++) {
		bool now = is_healthy(&m->st[i]);

		if (now == m->healthy[i])
			continue;
		changed = true;
		m->healthy[i] = now;
		if (now)
			log_info("GPU %zu (%s): Unhealthy -> Healthy: %s", i,
			    m->inv->gpus[i].uuid, m->st[i].recovered);
		else
			log_warn("GPU %zu (%s): Healthy -> Unhealthy: %s", i,
			    m->inv->gpus[i].uuid, cause_of(&m->st[i]));
	}
	if (!changed)
		return;
	m->faults_changed = false;
	snap.healthy = m->healthy;
	snap.n = m->n;
	snap.faults = m->faults;
	snap.n_faults = collect_faults(m);
	m->cb(&snap, m->arg);
}

/* Transient MIG faults end after the quiet period, probe passing. */
static void
expire_mig_faults(struct health_monitor *m, struct gpu_state *s,
    int64_t now)
{
	size_t kept = 0;

	for (size_t k = 0; k < s->n_mig; k++) {
		struct mig_fault *f = &s->mig[k];

		if (!f->needs_reset && now >= f->recover_at_ms && s->probe_ok) {
			log_info("GPU instance %u / compute instance %u: quiet "
			    "for %" PRId64 " ms, healthy again", f->gi, f->ci,
			    m->opts.quiet_ms);
			m->faults_changed = true;
			continue;
		}
		if (!f->needs_reset && now >= f->recover_at_ms)
			f->recover_at_ms = now + m->opts.quiet_ms;
		s->mig[kept++] = *f;
	}
	s->n_mig = kept;
}

static int64_t
recover_tick(struct loop *loop, void *arg)
{
	struct health_monitor *m = arg;
	int64_t now = loop_now_ms();

	m->recover = NULL;
	for (size_t i = 0; i < m->n; i++)
		expire_mig_faults(m, &m->st[i], now);
	for (size_t i = 0; i < m->n; i++) {
		struct gpu_state *s = &m->st[i];

		if (!s->xid_transient || now < s->recover_at_ms)
			continue;
		if (!s->probe_ok) {
			s->recover_at_ms = now + m->opts.quiet_ms;
			continue;
		}
		s->xid_transient = false;
		snprintf(s->recovered, sizeof(s->recovered), "quiet for %"
		    PRId64 " ms since the last critical XID, probe passing",
		    m->opts.quiet_ms);
	}
	publish(m);
	arm_recovery(m);
	return LOOP_NOMORE;
}

static void
on_records(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct health_monitor *m = arg;
	struct record *q;
	uint64_t count;
	size_t n;

	(void)!read(fd, &count, sizeof(count));
	pthread_mutex_lock(&m->sh->mu);
	q = m->sh->q;
	n = m->sh->n;
	m->sh->q = NULL;
	m->sh->n = m->sh->cap = 0;
	pthread_mutex_unlock(&m->sh->mu);
	for (size_t i = 0; i < n; i++)
		apply(m, &q[i]);
	free(q);
	publish(m);
}

/* ---- starting and stopping ---- */

static struct thread_ctx *
thread_ctx_new(struct nvml *nvml, const struct inventory *inv,
    struct shared *sh, int64_t probe_ms)
{
	struct thread_ctx *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->sh = sh;
	t->n = inv->n;
	t->probe_ms = probe_ms;
	t->uuids = calloc(inv->n + 1, sizeof(*t->uuids));
	t->handles = calloc(inv->n + 1, sizeof(*t->handles));
	t->last_probe = calloc(inv->n + 1, sizeof(*t->last_probe));
	if (!t->uuids || !t->handles || !t->last_probe) {
		free(t->uuids);
		free(t->handles);
		free(t->last_probe);
		free(t);
		return NULL;
	}
	for (size_t i = 0; i < inv->n; i++)
		memcpy(t->uuids[i], inv->gpus[i].uuid, sizeof(t->uuids[i]));
	return t;
}

static struct shared *
shared_new(void)
{
	struct shared *sh = calloc(1, sizeof(*sh));

	if (sh == NULL)
		return NULL;
	sh->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (sh->efd < 0) {
		free(sh);
		return NULL;
	}
	pthread_mutex_init(&sh->mu, NULL);
	atomic_init(&sh->refs, 1);
	atomic_init(&sh->stop, false);
	return sh;
}

static int
start_thread(struct health_monitor *m, struct nvml *nvml)
{
	struct thread_ctx *t = thread_ctx_new(nvml, m->inv, m->sh,
	    m->opts.probe_ms);
	pthread_attr_t attr;
	pthread_t th;
	sigset_t all, old;
	int rc;

	if (t == NULL)
		return ENOMEM;
	atomic_fetch_add(&m->sh->refs, 1);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* Signals belong to the loop's signalfd, never to this thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	t->nvml = nvml_hold(nvml);
	rc = pthread_create(&th, &attr, health_thread, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		nvml_close(t->nvml);
		atomic_fetch_sub(&m->sh->refs, 1);
		t->sh = NULL;
		free(t->uuids);
		free(t->handles);
		free(t->last_probe);
		free(t);
	}
	return rc;
}

struct health_monitor *
health_monitor_start(struct loop *loop, struct nvml *nvml,
    const struct inventory *inv, const struct health_options *opts,
    health_changed_cb cb, void *arg, char *err, size_t errlen)
{
	struct health_monitor *m = calloc(1, sizeof(*m));
	int rc;

	if (m == NULL || (m->sh = shared_new()) == NULL)
		goto fail;
	m->loop = loop;
	m->inv = inv;
	m->opts = *opts;
	m->n = inv->n;
	m->cb = cb;
	m->arg = arg;
	m->st = calloc(m->n + 1, sizeof(*m->st));
	m->healthy = calloc(m->n + 1, sizeof(*m->healthy));
	m->faults = calloc(m->n * MAX_MIG_FAULTS + 1, sizeof(*m->faults));
	if (m->st == NULL || m->healthy == NULL || m->faults == NULL)
		goto fail;
	for (size_t i = 0; i < m->n; i++) {
		m->healthy[i] = true;
		m->st[i].probe_ok = true;
	}
	if (loop_add_fd(loop, m->sh->efd, LOOP_READ, on_records, m) < 0)
		goto fail;
	rc = start_thread(m, nvml);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start the health thread: %s",
		    strerror(rc));
		loop_del_fd(loop, m->sh->efd);
		goto fail_quiet;
	}
	return m;
fail:
	snprintf(err, errlen, "out of memory for the health monitor");
fail_quiet:
	if (m != NULL && m->sh != NULL)
		shared_put(m->sh);
	if (m != NULL) {
		free(m->st);
		free(m->healthy);
		free(m->faults);
	}
	free(m);
	return NULL;
}

void
health_monitor_stop(struct health_monitor *m)
{
	if (m == NULL)
		return;
	atomic_store(&m->sh->stop, true);
	loop_del_fd(m->loop, m->sh->efd);
	if (m->recover != NULL)
		loop_cancel_timer(m->loop, m->recover);
	shared_put(m->sh);
	free(m->st);
	free(m->healthy);
	free(m->faults);
	free(m);
}

bool
health_monitor_healthy(const struct health_monitor *m, size_t i)
{
	return i < m->n && m->healthy[i];
}

const char *
health_monitor_reason(const struct health_monitor *m, size_t i)
{
	return i < m->n ? cause_of(&m->st[i]) : "";
}
