/*
 * supervise.c: a slot per daemon of the plan, each with one timer whose
 * callback is the slot's state machine (see supervise.h):
 *
 *   WAITING --start ok--> RUNNING --probe fails--> WAITING (backoff)
 *   WAITING --start fails--> WAITING (backoff, doubled)
 *
 * Slots are an array, rebuilt on each plan; a slot kept from the old
 * plan carries its state, timer and ready file over.
 */
#include "supervise.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "mps/ready.h"
#include "util/alloc.h"
#include "util/log.h"

enum slot_state { SLOT_WAITING, SLOT_RUNNING };

struct slot {
	struct mps_supervisor *sup;
	const struct mps_daemon_plan *plan;     /* in sup->plan */
	enum slot_state state;
	int ready_fd;
	int64_t backoff_ms;
	int64_t started_ms;
	struct loop_timer *timer;
};

struct mps_supervisor {
	struct loop *loop;
	struct mps_tools tools;
	int64_t probe_ms;
	struct mps_plan *plan;
	struct slot **slots;            /* owned, one per plan daemon */
	size_t n;
};

/* Where to wait after a failure, and the next backoff. */
static int64_t
back_off(struct slot *sl)
{
	int64_t delay = sl->backoff_ms;

	sl->backoff_ms = delay * 2 > MPS_BACKOFF_MAX_MS ? MPS_BACKOFF_MAX_MS :
	    delay * 2;
	log_info("MPS %s: starting again in %lld s", sl->plan->resource,
	    (long long)(delay / 1000));
	return delay;
}

static int64_t
try_start(struct slot *sl)
{
	const struct mps_daemon_plan *p = sl->plan;
	char err[1024];

	if (mps_daemon_start(&sl->sup->tools, p, &sl->ready_fd, err,
	    sizeof(err)) < 0) {
		log_error("MPS %s: cannot start the MPS daemon: %s",
		    p->resource, err);
		return back_off(sl);
	}
	sl->state = SLOT_RUNNING;
	sl->started_ms = loop_now_ms();
	log_info("MPS %s: daemon ready (%zu GPU(s), active thread "
	    "percentage %u, pipe %s)", p->resource, p->n_gpus,
	    p->thread_percentage, p->pipe_dir);
	return sl->sup->probe_ms;
}

static int64_t
probe(struct slot *sl)
{
	const struct mps_daemon_plan *p = sl->plan;
	char err[1024];

	if (mps_daemon_alive(&sl->sup->tools, p, err, sizeof(err))) {
		if (loop_now_ms() - sl->started_ms >= MPS_BACKOFF_MAX_MS)
			sl->backoff_ms = MPS_BACKOFF_FIRST_MS;
		return sl->sup->probe_ms;
	}
	log_error("MPS %s: the MPS daemon stopped answering (%s): its "
	    "devices are withdrawn", p->resource, err);
	mps_ready_remove(p->dir, sl->ready_fd);
	sl->ready_fd = -1;
	sl->state = SLOT_WAITING;
	return back_off(sl);
}

static int64_t
slot_tick(struct loop *loop, void *arg)
{
	struct slot *sl = arg;

	(void)loop;
	return sl->state == SLOT_WAITING ? try_start(sl) : probe(sl);
}

static void
slot_stop(struct mps_supervisor *s, struct slot *sl)
{
	if (sl->timer != NULL)
		loop_cancel_timer(s->loop, sl->timer);
	sl->timer = NULL;
	if (sl->state == SLOT_RUNNING) {
		log_info("MPS %s: stopping the MPS daemon", sl->plan->resource);
		mps_daemon_stop(&s->tools, sl->plan, sl->ready_fd);
	}
	sl->ready_fd = -1;
	sl->state = SLOT_WAITING;
}

/* A fresh slot |sl| runs |p|: its first start on the next round. */
static void
start_slot(struct mps_supervisor *s, struct slot *sl,
    const struct mps_daemon_plan *p)
{
	sl->sup = s;
	sl->plan = p;
	sl->ready_fd = -1;
	sl->backoff_ms = MPS_BACKOFF_FIRST_MS;
	sl->timer = loop_add_timer(s->loop, 0, slot_tick, sl);
	if (sl->timer == NULL)
		log_error("MPS %s: out of memory: the MPS daemon is not "
		    "started (a reload tries again)", p->resource);
}

struct mps_supervisor *
mps_supervisor_new(struct loop *loop, const struct mps_tools *tools,
    int64_t probe_ms)
{
	struct mps_supervisor *s = gdp_calloc(1, sizeof(*s));

	if (s == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	s->loop = loop;
	s->tools = *tools;
	s->probe_ms = probe_ms > 0 ? probe_ms : MPS_PROBE_DEFAULT_MS;
	return s;
}

/* The old slot running |p| unchanged, taken out of |s->slots|, or NULL. */
static struct slot *
take_same(struct mps_supervisor *s, const struct mps_daemon_plan *p)
{
	for (size_t i = 0; i < s->n; i++) {
		struct slot *sl = s->slots[i];

		if (sl != NULL && mps_daemon_plan_equal(sl->plan, p)) {
			s->slots[i] = NULL;
			return sl;
		}
	}
	return NULL;
}

static void
free_slots(struct mps_supervisor *s, struct slot **slots, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (slots[i] != NULL) {
			slot_stop(s, slots[i]);
			gdp_free(slots[i]);
		}
	gdp_free(slots);
}

int
mps_supervisor_apply(struct mps_supervisor *s, struct mps_plan *plan)
{
	struct slot **slots = gdp_calloc(plan->n + 1, sizeof(*slots));
	size_t made = 0;

	if (slots == NULL)
		return -ENOMEM;
	/* Fresh slots first, so that running out of memory changes
	   nothing that runs. */
	for (; made < plan->n; made++) {
		struct slot *sl = gdp_calloc(1, sizeof(*sl));

		if (sl == NULL)
			goto nomem;
		slots[made] = sl;
	}
	for (size_t i = 0; i < plan->n; i++) {
		struct slot *kept = take_same(s, &plan->daemons[i]);

		if (kept != NULL) {
			gdp_free(slots[i]);
			kept->plan = &plan->daemons[i];
			slots[i] = kept;
		}
	}
	free_slots(s, s->slots, s->n);
	mps_plan_free(s->plan);
	s->slots = slots;
	s->n = plan->n;
	s->plan = plan;
	for (size_t i = 0; i < plan->n; i++)
		if (slots[i]->sup == NULL)
			start_slot(s, slots[i], &plan->daemons[i]);
	return 0;
nomem:
	for (size_t i = 0; i < made; i++)
		gdp_free(slots[i]);
	gdp_free(slots);
	return -ENOMEM;
}

void
mps_supervisor_stop_all(struct mps_supervisor *s)
{
	for (size_t i = 0; i < s->n; i++)
		slot_stop(s, s->slots[i]);
}

void
mps_supervisor_free(struct mps_supervisor *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++) {
		if (s->slots[i]->timer != NULL)
			loop_cancel_timer(s->loop, s->slots[i]->timer);
		if (s->slots[i]->ready_fd >= 0)
			(void)close(s->slots[i]->ready_fd);
		gdp_free(s->slots[i]);
	}
	gdp_free(s->slots);
	mps_plan_free(s->plan);
	gdp_free(s);
}
