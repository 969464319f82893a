/*
 * events.c: NVML event sets (XID and ECC events for health checking).
 *
 * Each event set keeps the event types registered per GPU and a queue of
 * pending events. fake_event_post() is the one way in: it queues an event
 * on every set that registered that GPU for that type. Its callers are
 * registration itself (the profile's pending_xids) and the control
 * channel (control.c), which injects events at run time from its own
 * thread.
 *
 * Callers of nvmlEventSetWait run on their own thread (the plugin's
 * health thread), so every set, its queue and the injected wait error
 * are guarded by one mutex, and Wait blocks on one condition variable
 * (on CLOCK_MONOTONIC, so a clock step cannot stretch a timeout). Anything
 * a waiter could be waiting for broadcasts it: a posted event, a GPU lost
 * or reset, a wait error set or cleared, a set freed, a full shutdown.
 * Every waiter then looks at its own set again, so a posted event wakes
 * its reader at once instead of at the next poll.
 *
 * Like NVML, Wait fails with GPU_IS_LOST while any GPU registered in the
 * set is lost (once the events already queued are read). Sets outlive a
 * full shutdown (their registrations are dropped, as the handles are
 * stale); only nvmlEventSetFree frees one.
 *
 * A profile can play a driver with no usable events (an independent NVML
 * implementation seen in the field): supported_event_types narrows what
 * GetSupportedEventTypes reports and RegisterEvents accepts (0: nothing),
 * and event_wait makes a Wait that finds nothing queued answer at once,
 * TIMEOUT or an empty SUCCESS, instead of blocking.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fakenvml.h"

#define QUEUE_SIZE 64

/* The first fields of nvmlEventData_t: the layout of nvmlEventSetWait v1. */
struct event_data_v1 {
	nvmlDevice_t device;
	unsigned long long eventType;
	unsigned long long eventData;
};

struct nvmlEventSet_st {
	struct nvmlEventSet_st *next;
	unsigned long long types[FAKE_MAX_GPUS];	/* per GPU */
	nvmlEventData_t queue[QUEUE_SIZE];		/* a ring */
	unsigned int head;
	unsigned int len;
};

static pthread_mutex_t events_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t events_cond;	/* "look again", on CLOCK_MONOTONIC */
static pthread_once_t events_once = PTHREAD_ONCE_INIT;
static struct nvmlEventSet_st *sets;	/* every live set */
static nvmlReturn_t wait_error;		/* not SUCCESS: every Wait fails */
static int hang;			/* every Wait blocks (wait-hang) */

/* A condition variable cannot be given a clock statically. */
static void
init_cond(void)
{
	pthread_condattr_t attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&events_cond, &attr);
	pthread_condattr_destroy(&attr);
}

/* Takes events_lock, the condition variable made ready. */
static void
events_lock_take(void)
{
	pthread_once(&events_once, init_cond);
	pthread_mutex_lock(&events_lock);
}

/* Wakes every waiter to look at its set again, and drops the lock. */
static void
events_lock_drop_waking(void)
{
	pthread_cond_broadcast(&events_cond);
	pthread_mutex_unlock(&events_lock);
}

/* Whether |set| is live. Call with events_lock held. */
static int
set_is_live(const struct nvmlEventSet_st *set)
{
	const struct nvmlEventSet_st *s;

	for (s = sets; s != NULL; s = s->next)
		if (s == set)
			return 1;
	return 0;
}

/* Appends an event to |set|'s ring, or drops it if the ring is full (a
 * reader that never waits must not grow memory). Call with the lock held. */
static void
queue_push(struct nvmlEventSet_st *set, nvmlDevice_t dev,
    unsigned long long type, unsigned long long data, unsigned int gi,
    unsigned int ci)
{
	nvmlEventData_t *e;

	if (set->len == QUEUE_SIZE)
		return;
	e = &set->queue[(set->head + set->len) % QUEUE_SIZE];
	e->device = dev;
	e->eventType = type;
	e->eventData = data;
	e->gpuInstanceId = gi;
	e->computeInstanceId = ci;
	set->len++;
}

int
fake_event_post(nvmlDevice_t dev, unsigned long long type,
    unsigned long long data, unsigned int gi, unsigned int ci)
{
	unsigned int i = fake_device_index(dev);
	struct nvmlEventSet_st *s;
	int reached = 0;

	events_lock_take();
	for (s = sets; s != NULL; s = s->next) {
		if (s->types[i] & type) {
			queue_push(s, dev, type, data, gi, ci);
			reached++;
		}
	}
	events_lock_drop_waking();
	return reached;
}

void
fake_events_set_wait_error(nvmlReturn_t rc)
{
	events_lock_take();
	wait_error = rc;
	events_lock_drop_waking();
}

void
fake_events_set_hang(int on)
{
	events_lock_take();
	hang = on;
	events_lock_drop_waking();
}

void
fake_events_wake(void)
{
	events_lock_take();
	events_lock_drop_waking();
}

void
fake_events_reset(void)
{
	struct nvmlEventSet_st *s;

	events_lock_take();
	for (s = sets; s != NULL; s = s->next) {
		memset(s->types, 0, sizeof(s->types));
		s->head = 0;
		s->len = 0;
	}
	wait_error = NVML_SUCCESS;
	hang = 0;
	events_lock_drop_waking();
}

nvmlReturn_t
fake_nvmlEventSetCreate(nvmlEventSet_t *set)
{
	nvmlReturn_t rc = fake_enter(FAKE_SYM_nvmlEventSetCreate);
	struct nvmlEventSet_st *s;

	if (rc != NVML_SUCCESS)
		return rc;
	if (set == NULL)
		return NVML_ERROR_INVALID_ARGUMENT;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NVML_ERROR_MEMORY;
	events_lock_take();
	s->next = sets;
	sets = s;
	pthread_mutex_unlock(&events_lock);
	*set = s;
	return NVML_SUCCESS;
}

/* The profile's event types, and MIG layout changes in MIG mode. */
static unsigned long long
supported(nvmlDevice_t dev)
{
	unsigned long long t = fake_machine.supported_events;

	return t != 0 && fake_mig_enabled(dev) ? t | FAKE_MIG_EVENTS : t;
}

nvmlReturn_t
fake_nvmlDeviceGetSupportedEventTypes(nvmlDevice_t dev,
    unsigned long long *types)
{
	nvmlReturn_t rc = fake_enter_device(
	    FAKE_SYM_nvmlDeviceGetSupportedEventTypes, dev);

	if (rc != NVML_SUCCESS)
		return rc;
	if (types == NULL)
		return NVML_ERROR_INVALID_ARGUMENT;
	*types = supported(dev);
	return NVML_SUCCESS;
}

/* Queues the GPU's pending_xids the first time |set| registers it for
 * XIDs. Call with events_lock held. */
static void
queue_pending_xids(struct nvmlEventSet_st *set, nvmlDevice_t dev,
    unsigned long long before)
{
	unsigned int i;

	if (before & nvmlEventTypeXidCriticalError)
		return;
	for (i = 0; i < dev->pending_xids.count; i++)
		queue_push(set, dev, nvmlEventTypeXidCriticalError,
		    dev->pending_xids.xid[i], FAKE_NO_INSTANCE,
		    FAKE_NO_INSTANCE);
}

nvmlReturn_t
fake_nvmlDeviceRegisterEvents(nvmlDevice_t dev, unsigned long long types,
    nvmlEventSet_t set)
{
	nvmlReturn_t rc = fake_enter_device(FAKE_SYM_nvmlDeviceRegisterEvents,
	    dev);
	unsigned int i;

	if (rc != NVML_SUCCESS)
		return rc;
	if (types & ~supported(dev))
		return NVML_ERROR_NOT_SUPPORTED;
	i = fake_device_index(dev);
	events_lock_take();
	if (!set_is_live(set)) {
		rc = NVML_ERROR_INVALID_ARGUMENT;
	} else {
		if (types & nvmlEventTypeXidCriticalError)
			queue_pending_xids(set, dev, set->types[i]);
		set->types[i] |= types;
	}
	events_lock_drop_waking();
	return rc;
}

/* Whether any GPU registered in |set| is lost. Call with the lock held. */
static int
set_has_lost_gpu(const struct nvmlEventSet_st *set)
{
	unsigned int i;

	for (i = 0; i < fake_machine.gpu_count; i++)
		if (set->types[i] != 0 &&
		    atomic_load(&fake_machine.gpus[i].lost))
			return 1;
	return 0;
}

/* One look at |set|: 1 with the answer in |rc| (SUCCESS with an event in
 * |data|, or an error), or 0 when there is nothing yet. Call with the
 * lock held: shutdown broadcasts under it, so a waiter that saw the
 * library initialised is already waiting when that broadcast comes. */
static int
try_pop(nvmlEventSet_t set, nvmlEventData_t *data, nvmlReturn_t *rc)
{
	if (fake_check_init() != NVML_SUCCESS)
		*rc = NVML_ERROR_UNINITIALIZED;
	else if (!set_is_live(set))
		*rc = NVML_ERROR_INVALID_ARGUMENT;
	else if (wait_error != NVML_SUCCESS)
		*rc = wait_error;
	else if (set->len > 0) {
		*data = set->queue[set->head];
		set->head = (set->head + 1) % QUEUE_SIZE;
		set->len--;
		*rc = NVML_SUCCESS;
	} else if (set_has_lost_gpu(set))
		*rc = NVML_ERROR_GPU_IS_LOST;
	else
		return 0;
	return 1;
}

/* The CLOCK_MONOTONIC time |ms| milliseconds from now. */
static struct timespec
deadline_after(unsigned int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

/*
 * Waits up to |timeout_ms| for an event on |set| and writes it to |data|,
 * setting |*got|. With nothing queued, a profile's event_wait may make it
 * answer at once instead: TIMEOUT, or SUCCESS with |data| untouched and
 * |*got| 0, as a driver with no usable events does.
 */
static nvmlReturn_t
wait_event(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeout_ms,
    int *got)
{
	enum fake_event_wait mode = fake_machine.event_wait;
	struct timespec deadline = deadline_after(timeout_ms);
	nvmlReturn_t rc = NVML_ERROR_TIMEOUT;
	int answered;
	int timed_out = mode != FAKE_WAIT_BLOCK;	/* one look only */

	events_lock_take();
	/* A stuck driver: no timeout; shutdown still wakes it. */
	while (hang && fake_check_init() == NVML_SUCCESS)
		pthread_cond_wait(&events_cond, &events_lock);
	/* One last look after the timeout, for an event posted with it. */
	for (;;) {
		answered = try_pop(set, data, &rc);
		if (answered || timed_out)
			break;
		timed_out = pthread_cond_timedwait(&events_cond, &events_lock,
		    &deadline) == ETIMEDOUT;
	}
	pthread_mutex_unlock(&events_lock);
	*got = answered && rc == NVML_SUCCESS;
	if (answered)
		return rc;
	return mode == FAKE_WAIT_EMPTY ? NVML_SUCCESS : NVML_ERROR_TIMEOUT;
}

nvmlReturn_t
fake_nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t *data,
    unsigned int timeout_ms)
{
	nvmlReturn_t rc = fake_enter(FAKE_SYM_nvmlEventSetWait_v2);
	int got;

	if (rc != NVML_SUCCESS)
		return rc;
	if (data == NULL)
		return NVML_ERROR_INVALID_ARGUMENT;
	return wait_event(set, data, timeout_ms, &got);
}

/* The old ABI: only the v1 fields (device, type, data) are written. */
nvmlReturn_t
fake_nvmlEventSetWait(nvmlEventSet_t set, nvmlEventData_t *data,
    unsigned int timeout_ms)
{
	nvmlReturn_t rc = fake_enter(FAKE_SYM_nvmlEventSetWait);
	struct event_data_v1 v1;
	nvmlEventData_t full;
	int got;

	if (rc != NVML_SUCCESS)
		return rc;
	if (data == NULL)
		return NVML_ERROR_INVALID_ARGUMENT;
	rc = wait_event(set, &full, timeout_ms, &got);
	if (!got)
		return rc;
	v1.device = full.device;
	v1.eventType = full.eventType;
	v1.eventData = full.eventData;
	memcpy(data, &v1, sizeof(v1));
	return NVML_SUCCESS;
}

nvmlReturn_t
fake_nvmlEventSetFree(nvmlEventSet_t set)
{
	nvmlReturn_t rc = fake_enter(FAKE_SYM_nvmlEventSetFree);
	struct nvmlEventSet_st **p;

	if (rc != NVML_SUCCESS)
		return rc;
	rc = NVML_ERROR_INVALID_ARGUMENT;
	/* A thread waiting on the set wakes and finds it gone. */
	events_lock_take();
	for (p = &sets; *p != NULL; p = &(*p)->next) {
		if (*p == set) {
			*p = set->next;
			free(set);
			rc = NVML_SUCCESS;
			break;
		}
	}
	events_lock_drop_waking();
	return rc;
}
