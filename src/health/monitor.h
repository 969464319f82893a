/*
 * monitor.h: GPU health from NVML events and a light periodic probe.
 *
 * One thread blocks in nvmlEventSetWait (XID critical errors and ECC
 * events registered) and, between waits, probes each GPU with one cheap
 * NVML query. It decides nothing: it posts plain records (GPU, event
 * type, XID, GPU/compute instance; or a probe result; or a wait failure)
 * to a queue and wakes the loop through an eventfd. The loop applies the
 * policy, keeps each GPU's state, and tells the application the new
 * health of every GPU at once, so that a batch of events becomes one
 * ListAndWatch message.
 *
 * Stopping never waits for an NVML wait to time out: the thread is told
 * to stop and left to finish on its own; the queue it posts to is shared
 * and reference-counted, so either side may go first.
 */
#ifndef GDP_HEALTH_MONITOR_H
#define GDP_HEALTH_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gpu/inventory.h"
#include "health/fanout.h"
#include "health/policy.h"
#include "loop/loop.h"
#include "nvml/nvml.h"

struct health_monitor;

struct health_options {
	struct health_policy policy;
	int64_t probe_ms;            /* probe period; 0: no probe */
	int64_t quiet_ms;            /* transient XIDs: quiet period */
	bool unhealthy_without_events; /* events unavailable: unhealthy */
};

/*
 * What the loop knows after a batch of changes: the health of every GPU
 * (inventory order), and the faults scoped to one MIG instance (which do
 * not make the GPU itself unhealthy: health_fanout() decides per view).
 * Valid during the callback only.
 */
struct health_snapshot {
	const bool *healthy;
	size_t n;
	const struct health_fault *faults;
	size_t n_faults;
};

typedef void (*health_changed_cb)(const struct health_snapshot *snap,
    void *arg);

/*
 * Starts monitoring every GPU of |inv| (which must outlive the monitor
 * on the loop side; the thread keeps its own copy of the UUIDs and its
 * own reference to |nvml|). Returns NULL with a message in |err|.
 */
struct health_monitor *health_monitor_start(struct loop *loop,
    struct nvml *nvml, const struct inventory *inv,
    const struct health_options *opts, health_changed_cb cb, void *arg,
    char *err, size_t errlen);
/* Stops without waiting for the thread; safe to call with NULL. */
void health_monitor_stop(struct health_monitor *m);
/* Whether GPU |i| is healthy now. */
bool health_monitor_healthy(const struct health_monitor *m, size_t i);
/* Why GPU |i| (or one of its MIG devices) is unhealthy ("" if not). */
const char *health_monitor_reason(const struct health_monitor *m, size_t i);

#endif /* GDP_HEALTH_MONITOR_H */
