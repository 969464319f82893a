/*
 * monitor.c: the health glue on the loop (see monitor.h).
 *
 * Layout: the queue shared with the thread, and the sink through which
 * the thread reaches it; the loop side (records to the state, the
 * recovery timer, telling the application); starting and stopping.
 *
 * Why a private eventfd rather than loop_add_wakeup(): a loop wake-up
 * cannot be removed before loop_free(), and a new monitor starts on every
 * reload, so each reload would leave a registration behind (an fd, and a
 * callback naming a freed monitor); and a thread still inside an NVML
 * wait when main() frees the loop would then post to a freed wake-up. The
 * eventfd lives in the queue, which the thread and the monitor share and
 * the last of them frees; after stop the thread posts nowhere.
 */
#include "monitor.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "health/thread.h"
#include "metrics/registry.h"
#include "util/alloc.h"
#include "util/log.h"

/* Shared by the thread and the monitor; freed by the last one. */
struct queue {
	pthread_mutex_t mu;
	pthread_cond_t cv;            /* wakes the sleeping thread to stop */
	struct health_record *q;      /* under |mu|, as the rest */
	size_t n, cap;
	int refs;
	bool stop;
	int efd;                      /* wakes the loop */
	atomic_bool want_beat;        /* the loop wants each heartbeat */
};

struct health_monitor {
	struct loop *loop;
	struct queue *q;
	struct health_state *state;
	struct loop_timer *timer;     /* recovery, at |timer_at| */
	int64_t timer_at;
	bool timer_failed;            /* said once per episode */
	health_changed_cb cb;
	void *arg;
	health_layout_cb layout_cb;   /* NULL: none */
	void *layout_arg;
};

/* ---- the queue (both sides) ---- */

static void
queue_put(struct queue *q)
{
	bool last;

	pthread_mutex_lock(&q->mu);
	last = --q->refs == 0;
	pthread_mutex_unlock(&q->mu);
	if (!last)
		return;
	close(q->efd);
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	gdp_free(q->q);
	gdp_free(q);
}

static void
queue_wake(struct queue *q)
{
	uint64_t one = 1;

	/* Fails only when the counter is full: a wake-up is pending. */
	(void)!write(q->efd, &one, sizeof(one));
}

/* Room for one more record; false if there is none to be had. */
static bool
queue_room(struct queue *q)
{
	size_t cap = q->cap ? q->cap * 2 : 16;
	struct health_record *grown;

	if (q->n < q->cap)
		return true;
	grown = gdp_realloc(q->q, cap * sizeof(*grown));
	if (grown == NULL)
		return false;
	q->q = grown;
	q->cap = cap;
	return true;
}

/* NULL with errno; |what| then names the call that failed. */
static struct queue *
queue_new(const char **what)
{
	struct queue *q = gdp_calloc(1, sizeof(*q));
	pthread_condattr_t ca;
	int saved;

	if (q == NULL)
		return NULL;
	q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->efd < 0) {
		*what = "eventfd: ";
		goto out_free;
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&q->mu, NULL);
	q->refs = 1;
	atomic_init(&q->want_beat, false);
	return q;

out_free:
	saved = errno;
	gdp_free(q);
	errno = saved;
	return NULL;
}

/* ---- the sink (on the thread) ---- */

static void
sink_post(void *arg, const struct health_record *r)
{
	struct queue *q = arg;
	bool queued = false;

	pthread_mutex_lock(&q->mu);
	if (!q->stop && queue_room(q)) {
		q->q[q->n++] = *r;
		queued = true;
	}
	pthread_mutex_unlock(&q->mu);
	if (queued)
		queue_wake(q); /* else dropped: nobody reads, or no memory */
}

static void
sink_heartbeat(void *arg)
{
	struct queue *q = arg;

	metrics_health_beat();
	if (atomic_load(&q->want_beat))
		queue_wake(q);
}

static bool
sink_sleep(void *arg, int64_t ms)
{
	struct queue *q = arg;
	struct timespec until;
	bool stop;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&q->mu);
	while (!q->stop && ms > 0 &&
	    pthread_cond_timedwait(&q->cv, &q->mu, &until) != ETIMEDOUT)
		;
	stop = q->stop;
	pthread_mutex_unlock(&q->mu);
	return stop;
}

static void
sink_release(void *arg)
{
	metrics_health_thread(false);
	queue_put(arg);
}

/* ---- the loop side ---- */

static int64_t on_timer(struct loop *loop, void *arg);

/* One timer at the state's next deadline; if none can be had, the
 * thread's heartbeats stand in for it until one can. */
static void
arm(struct health_monitor *m)
{
	int64_t next = health_state_next_deadline(m->state);
	int64_t now = loop_now_ms();

	if (m->timer != NULL && next == m->timer_at)
		return;
	if (m->timer != NULL)
		loop_cancel_timer(m->loop, m->timer);
	m->timer = NULL;
	m->timer_at = INT64_MAX;
	if (next != INT64_MAX)
		m->timer = loop_add_timer(m->loop, next > now ? next - now : 0,
		    on_timer, m);
	if (next != INT64_MAX && m->timer == NULL) {
		if (!m->timer_failed)
			log_warn("Health: cannot arm the recovery timer (out "
			    "of memory); retrying on every health record and "
			    "every %d ms", HEALTH_WAIT_MAX_MS);
		m->timer_failed = true;
		atomic_store(&m->q->want_beat, true);
		return;
	}
	if (m->timer_failed)
		log_info("Health: recovery timer armed again");
	m->timer_failed = false;
	m->timer_at = next;
	atomic_store(&m->q->want_beat, false);
}

/* Ends what is due, tells the application if anything changed, re-arms. */
static void
settle(struct health_monitor *m)
{
	struct health_snapshot snap;

	health_state_tick(m->state, loop_now_ms());
	if (health_state_snapshot(m->state, &snap))
		m->cb(&snap, m->arg);
	arm(m);
}

static int64_t
on_timer(struct loop *loop, void *arg)
{
	struct health_monitor *m = arg;

	m->timer = NULL;  /* this one ends with LOOP_NOMORE */
	settle(m);
	return LOOP_NOMORE;
}

/*
 * Takes a MIG layout change out of |r| (noting it in |*layout|); returns
 * whether nothing is left of |r| for the state: the change is not a
 * health event.
 */
static bool
layout_record(struct health_record *r, bool *layout)
{
	if (r->kind != HEALTH_REC_EVENT ||
	    !(r->type & nvmlEventTypeMigConfigChange))
		return false;
	*layout = true;
	r->type &= ~(uint64_t)nvmlEventTypeMigConfigChange;
	return r->type == 0;
}

static void
on_records(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct health_monitor *m = arg;
	struct health_record *recs;
	uint64_t count;
	size_t n;
	bool layout = false;

	(void)!read(fd, &count, sizeof(count));
	pthread_mutex_lock(&m->q->mu);
	recs = m->q->q;
	n = m->q->n;
	m->q->q = NULL;
	m->q->n = m->q->cap = 0;
	pthread_mutex_unlock(&m->q->mu);
	for (size_t i = 0; i < n; i++)
		if (!layout_record(&recs[i], &layout))
			health_state_apply(m->state, &recs[i], loop_now_ms());
	gdp_free(recs);
	settle(m);
	if (layout && m->layout_cb != NULL)
		m->layout_cb(m->layout_arg);
}

void
health_monitor_keep_instances(struct health_monitor *m,
    const struct inventory *inv)
{
	for (size_t i = 0; m != NULL && i < inv->n; i++) {
		const struct gpu *g = &inv->gpus[i];
		size_t n = g->mig_enabled ? g->n_migs : 0;
		struct health_instance_id *ids = gdp_calloc(n + 1,
		    sizeof(*ids));

		if (ids == NULL)
			continue;  /* out of memory: the faults stay */
		for (size_t k = 0; k < n; k++) {
			ids[k].gi = g->migs[k].gi;
			ids[k].ci = g->migs[k].ci;
			snprintf(ids[k].uuid, sizeof(ids[k].uuid), "%s",
			    g->migs[k].uuid);
		}
		(void)health_state_keep_instances(m->state, i, ids, n);
		gdp_free(ids);
	}
	if (m != NULL)
		arm(m);
}

void
health_monitor_on_layout_change(struct health_monitor *m,
    health_layout_cb cb, void *arg)
{
	if (m == NULL)
		return;
	m->layout_cb = cb;
	m->layout_arg = arg;
}

/* ---- starting and stopping ---- */

static struct health_state *
state_for(const struct inventory *inv, const struct health_options *opts)
{
	struct health_config cfg = { .policy = opts->policy,
		.quiet_ms = opts->quiet_ms,
		.unhealthy_without_events = opts->unhealthy_without_events };
	const char **names = gdp_calloc(inv->n + 1, sizeof(*names));
	struct health_state *s;

	if (names == NULL)
		return NULL;
	for (size_t i = 0; i < inv->n; i++)
		names[i] = inv->gpus[i].uuid;
	s = health_state_new(inv->n, names, &cfg);
	gdp_free(names);
	return s;
}

static int
start_thread(struct health_monitor *m, struct nvml *nvml,
    const struct inventory *inv, int64_t probe_ms)
{
	const struct health_sink sink = { sink_post, sink_heartbeat,
		sink_sleep, sink_release, m->q };
	const char **uuids = gdp_calloc(inv->n + 1, sizeof(*uuids));
	int rc;

	if (uuids == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < inv->n; i++)
		uuids[i] = inv->gpus[i].uuid;
	m->q->refs++;  /* the thread's; no thread yet to race with */
	metrics_health_beat();
	metrics_health_thread(true);
	rc = health_thread_start(nvml, uuids, inv->n, probe_ms, &sink);
	if (rc < 0) {
		metrics_health_thread(false);
		m->q->refs--;
	}
	gdp_free(uuids);
	return rc;
}

static void
monitor_free(struct health_monitor *m)
{
	if (m->q != NULL)
		queue_put(m->q);
	health_state_free(m->state);
	gdp_free(m);
}

struct health_monitor *
health_monitor_start(struct loop *loop, struct nvml *nvml,
    const struct inventory *inv, const struct health_options *opts,
    health_changed_cb cb, void *arg, char *err, size_t errlen)
{
	struct health_monitor *m = gdp_calloc(1, sizeof(*m));
	const char *what = "";  /* the call that failed, if not named */
	int rc = -ENOMEM;

	if (m == NULL)
		goto out_free;
	*m = (struct health_monitor){ .loop = loop, .timer_at = INT64_MAX,
		.cb = cb, .arg = arg };
	if ((m->q = queue_new(&what)) == NULL) {
		rc = -errno;
		goto out_free;
	}
	if ((m->state = state_for(inv, opts)) == NULL)
		goto out_free;
	rc = loop_add_fd(loop, m->q->efd, LOOP_READ, on_records, m);
	if (rc < 0)
		goto out_free;
	rc = start_thread(m, nvml, inv, opts->probe_ms);
	if (rc < 0) {
		loop_del_fd(loop, m->q->efd);
		goto out_free;
	}
	return m;

out_free:
	snprintf(err, errlen, "cannot start the health monitor: %s%s", what,
	    strerror(-rc));
	if (m != NULL)
		monitor_free(m);
	errno = -rc;
	return NULL;
}

void
health_monitor_inherit(struct health_monitor *m,
    const struct health_monitor *from)
{
	health_state_inherit(m->state, from->state);
	arm(m);  /* the deadlines that came with it */
}

void
health_monitor_snapshot(struct health_monitor *m,
    struct health_snapshot *snap)
{
	(void)health_state_snapshot(m->state, snap);
}

void
health_monitor_stop(struct health_monitor *m)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->q->mu);
	m->q->stop = true;
	pthread_cond_broadcast(&m->q->cv);
	pthread_mutex_unlock(&m->q->mu);
	loop_del_fd(m->loop, m->q->efd);
	if (m->timer != NULL)
		loop_cancel_timer(m->loop, m->timer);
	monitor_free(m);
}
