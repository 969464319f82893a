/*
 * thread.h: the health thread: blocking NVML event waits and a periodic
 * probe, posting plain records (state.h) and deciding nothing.
 *
 * It never spins, whatever the driver does. A GPU that supports none of
 * the event types wanted is left to the probe (not registered; one
 * record says so); an event set with nothing registered is not waited on
 * (the thread sleeps until the next probe or stop); a wait that returns
 * before its timeout without an event (an early TIMEOUT, or SUCCESS with
 * no event for one of our GPUs) is followed by a sleep for the rest of
 * the timeout, and the first such run is reported once; failing waits
 * back off from 100 ms doubling to 5 s; a lost GPU is probed and the
 * wait retried every 250 ms; a flood of events pauses after 256 in a
 * row. The pacing rules are health_pacer_pause(), pure and unit-tested.
 *
 * The thread is detached and may outlive whoever started it: it holds its
 * own reference to the NVML binding and copies of the UUIDs, and reaches
 * the loop only through the sink, which it releases when it ends.
 */
#ifndef GDP_HEALTH_THREAD_H
#define GDP_HEALTH_THREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "health/state.h"
#include "nvml/nvml.h"

/* The longest event wait: events end it at once, so this only bounds how
 * late a stop or a probe can be; 5 s matches the default probe period,
 * so an idle thread wakes once per probe. */
#define HEALTH_WAIT_MAX_MS 5000
#define HEALTH_BACKOFF_FIRST_MS 100
#define HEALTH_BACKOFF_MAX_MS 5000
#define HEALTH_LOST_RETRY_MS 250
#define HEALTH_EVENT_BURST 256
/* Consecutive early returns before the thread says so (once). */
#define HEALTH_EARLY_REPORT 3

/* Where the thread's records go. Every function is called on the thread. */
struct health_sink {
	/* Queues a copy of |r| for the loop and wakes it. */
	void (*post)(void *arg, const struct health_record *r);
	/* Called about every HEALTH_WAIT_MAX_MS (unless NVML hangs). */
	void (*heartbeat)(void *arg);
	/* Sleeps up to |ms|, less if told to stop; returns whether told. */
	bool (*sleep)(void *arg, int64_t ms);
	/* The thread's last call: it is done with |arg|. */
	void (*release)(void *arg);
	void *arg;
};

/*
 * Starts the thread for the |n| GPUs named by |uuids| (copied), with a
 * probe every |probe_ms| (0: none). It takes its own reference to |nvml|.
 * |sink| is copied; on success the thread calls sink->release once at the
 * end, on failure never. Returns 0, -ENOMEM or a negative pthread_create
 * error (-EAGAIN).
 */
int health_thread_start(struct nvml *nvml, const char *const *uuids,
    size_t n, int64_t probe_ms, const struct health_sink *sink);

/* ---- pacing (pure) ---- */

enum health_wait_outcome {
	HEALTH_WAIT_EVENT,    /* an event for one of our GPUs */
	HEALTH_WAIT_EMPTY,    /* SUCCESS without a usable event */
	HEALTH_WAIT_TIMEOUT,  /* TIMEOUT, whenever it came */
	HEALTH_WAIT_LOST,     /* GPU_IS_LOST: a GPU of the set is gone */
	HEALTH_WAIT_ERROR,    /* any other failure */
};

struct health_pacer {
	int64_t backoff_ms;   /* the pause after the next error */
	unsigned early;       /* consecutive early returns without event */
	unsigned events;      /* consecutive events */
};

/* A pacer at rest. */
void health_pacer_init(struct health_pacer *p);
/*
 * After a wait of |timeout_ms| that ended with |o| after |elapsed_ms|:
 * how long to sleep before the next wait (0: none).
 */
int64_t health_pacer_pause(struct health_pacer *p,
    enum health_wait_outcome o, int64_t timeout_ms, int64_t elapsed_ms);

#endif /* GDP_HEALTH_THREAD_H */
