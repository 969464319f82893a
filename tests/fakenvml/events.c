/*
 * events.c: NVML event sets (XID and ECC events for health checking).
 *
 * Each event set keeps the event types registered per GPU and a queue of
 * pending events. fake_event_post() is the one way in: it queues an event
 * on every set that registered that GPU for that type. Today its only
 * caller is registration itself, for the profile's pending_xids; a control
 * channel that injects events at run time will call it too. Callers of
 * nvmlEventSetWait run on their own thread (the plugin's health thread),
 * so every set and its queue are guarded by one mutex, and Wait never
 * sleeps holding it: it checks the queue, then sleeps a short step, until
 * an event arrives or the timeout passes.
 *
 * Like NVML, Wait fails with GPU_IS_LOST while any GPU registered in the
 * set is lost (once the events already queued are read). Sets outlive a
 * full shutdown (their registrations are dropped, as the handles are
 * stale); only nvmlEventSetFree frees one.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fakenvml.h"

#define QUEUE_SIZE 64
#define WAIT_STEP_MS 10

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
static struct nvmlEventSet_st *sets;	/* every live set */

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
    unsigned long long type, unsigned long long data)
{
	nvmlEventData_t *e;

	if (set->len == QUEUE_SIZE)
		return;
	e = &set->queue[(set->head + set->len) % QUEUE_SIZE];
	e->device = dev;
	e->eventType = type;
	e->eventData = data;
	e->gpuInstanceId = FAKE_NO_INSTANCE;
	e->computeInstanceId = FAKE_NO_INSTANCE;
	set->len++;
}

int
fake_event_post(nvmlDevice_t dev, unsigned long long type,
    unsigned long long data)
{
	unsigned int i = fake_device_index(dev);
	struct nvmlEventSet_st *s;
	int reached = 0;

	pthread_mutex_lock(&events_lock);
	for (s = sets; s != NULL; s = s->next) {
		if (s->types[i] & type) {
			queue_push(s, dev, type, data);
			reached++;
		}
	}
	pthread_mutex_unlock(&events_lock);
	return reached;
}

void
fake_events_reset(void)
{
	struct nvmlEventSet_st *s;

	pthread_mutex_lock(&events_lock);
	for (s = sets; s != NULL; s = s->next) {
		memset(s->types, 0, sizeof(s->types));
		s->head = 0;
		s->len = 0;
	}
	pthread_mutex_unlock(&events_lock);
}

nvmlReturn_t
nvmlEventSetCreate(nvmlEventSet_t *set)
{
	struct nvmlEventSet_st *s;

	if (fake_check_init() != NVML_SUCCESS)
		return NVML_ERROR_UNINITIALIZED;
	if (set == NULL)
		return NVML_ERROR_INVALID_ARGUMENT;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NVML_ERROR_MEMORY;
	pthread_mutex_lock(&events_lock);
	s->next = sets;
	sets = s;
	pthread_mutex_unlock(&events_lock);
	*set = s;
	return NVML_SUCCESS;
}

nvmlReturn_t
nvmlDeviceGetSupportedEventTypes(nvmlDevice_t dev, unsigned long long *types)
{
	nvmlReturn_t rc = fake_check_device(dev);

	if (rc != NVML_SUCCESS)
		return rc;
	if (types == NULL)
		return NVML_ERROR_INVALID_ARGUMENT;
	*types = FAKE_SUPPORTED_EVENTS;
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
		    dev->pending_xids.xid[i]);
}

nvmlReturn_t
nvmlDeviceRegisterEvents(nvmlDevice_t dev, unsigned long long types,
    nvmlEventSet_t set)
{
	nvmlReturn_t rc = fake_check_device(dev);
	unsigned int i;

	if (rc != NVML_SUCCESS)
		return rc;
	if (types & ~FAKE_SUPPORTED_EVENTS)
		return NVML_ERROR_NOT_SUPPORTED;
	i = fake_device_index(dev);
	pthread_mutex_lock(&events_lock);
	if (!set_is_live(set)) {
		rc = NVML_ERROR_INVALID_ARGUMENT;
	} else {
		if (types & nvmlEventTypeXidCriticalError)
			queue_pending_xids(set, dev, set->types[i]);
		set->types[i] |= types;
	}
	pthread_mutex_unlock(&events_lock);
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

/* One look at |set|: an event into |data|, or why there is none
 * (TIMEOUT meaning "nothing yet"). */
static nvmlReturn_t
try_pop(nvmlEventSet_t set, nvmlEventData_t *data)
{
	nvmlReturn_t rc = NVML_ERROR_TIMEOUT;

	if (fake_check_init() != NVML_SUCCESS)
		return NVML_ERROR_UNINITIALIZED;
	pthread_mutex_lock(&events_lock);
	if (!set_is_live(set)) {
		rc = NVML_ERROR_INVALID_ARGUMENT;
	} else if (set->len > 0) {
		*data = set->queue[set->head];
		set->head = (set->head + 1) % QUEUE_SIZE;
		set->len--;
		rc = NVML_SUCCESS;
	} else if (set_has_lost_gpu(set)) {
		rc = NVML_ERROR_GPU_IS_LOST;
	}
	pthread_mutex_unlock(&events_lock);
	return rc;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(long long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

nvmlReturn_t
nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t *data,
    unsigned int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	long long left;
	nvmlReturn_t rc;

	if (fake_check_init() != NVML_SUCCESS)
		return NVML_ERROR_UNINITIALIZED;
	if (data == NULL)
		return NVML_ERROR_INVALID_ARGUMENT;
	for (;;) {
		rc = try_pop(set, data);
		if (rc != NVML_ERROR_TIMEOUT)
			return rc;
		left = deadline - now_ms();
		if (left <= 0)
			return NVML_ERROR_TIMEOUT;
		sleep_ms(left < WAIT_STEP_MS ? left : WAIT_STEP_MS);
	}
}

nvmlReturn_t
nvmlEventSetWait(nvmlEventSet_t set, nvmlEventData_t *data,
    unsigned int timeout_ms)
{
	struct event_data_v1 v1;
	nvmlEventData_t full;
	nvmlReturn_t rc;

	rc = nvmlEventSetWait_v2(set, data ? &full : NULL, timeout_ms);
	if (rc != NVML_SUCCESS)
		return rc;
	v1.device = full.device;
	v1.eventType = full.eventType;
	v1.eventData = full.eventData;
	memcpy(data, &v1, sizeof(v1));
	return NVML_SUCCESS;
}

nvmlReturn_t
nvmlEventSetFree(nvmlEventSet_t set)
{
	struct nvmlEventSet_st **p;
	nvmlReturn_t rc = NVML_ERROR_INVALID_ARGUMENT;

	if (fake_check_init() != NVML_SUCCESS)
		return NVML_ERROR_UNINITIALIZED;
	pthread_mutex_lock(&events_lock);
	for (p = &sets; *p != NULL; p = &(*p)->next) {
		if (*p == set) {
			*p = set->next;
			free(set);
			rc = NVML_SUCCESS;
			break;
		}
	}
	pthread_mutex_unlock(&events_lock);
	return rc;
}
