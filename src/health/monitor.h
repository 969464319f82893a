/*
 * monitor.h: GPU health on the event loop, from NVML events and a light
 * periodic probe.
 *
 * Three parts, one file each: the NVML thread (thread.h) waits and
 * probes and posts plain records; the state machine (state.h) decides;
 * this glue carries records from the thread to the loop through a queue
 * and an eventfd, applies them to the state at loop_now_ms(), keeps one
 * recovery timer armed at the state's next deadline, and tells the
 * application once per batch, so that a batch of events becomes one
 * ListAndWatch message.
 *
 * Stopping never waits for the thread (it may be inside an NVML wait):
 * the thread is told to stop and finishes on its own; the queue is
 * shared and reference-counted, so either side may go first.
 */
#ifndef GDP_HEALTH_MONITOR_H
#define GDP_HEALTH_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gpu/inventory.h"
#include "health/policy.h"
#include "health/state.h"
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
 * Called on the loop after a batch that changed what the application
 * sees, with every GPU's status (inventory order) and the MIG-scoped
 * faults (state.h). |snap| is valid during the call only.
 */
typedef void (*health_changed_cb)(const struct health_snapshot *snap,
    void *arg);

/*
 * Starts monitoring every GPU of |inv| on |loop|. |inv| is read here only
 * (the thread copies the UUIDs and takes its own reference to |nvml|);
 * |opts| is copied. Returns the monitor, or NULL with errno (ENOMEM, or
 * the error of eventfd, epoll or pthread_create) and a message in |err|.
 */
struct health_monitor *health_monitor_start(struct loop *loop,
    struct nvml *nvml, const struct inventory *inv,
    const struct health_options *opts, health_changed_cb cb, void *arg,
    char *err, size_t errlen);
/*
 * Makes |m|, just started for a new GPU set, go on from what |from|
 * knew of the GPUs both watch (health_state_inherit()): call it before
 * the loop runs again, then stop |from|.
 */
void health_monitor_inherit(struct health_monitor *m,
    const struct health_monitor *from);
/*
 * The health of every GPU now (logging any transition not yet told);
 * |snap| points into |m| and is valid until the loop runs again.
 */
void health_monitor_snapshot(struct health_monitor *m,
    struct health_snapshot *snap);
/*
 * Called on the loop after a batch with an nvmlEventTypeMigConfigChange
 * event (GPU instances or compute instances made or destroyed): what is
 * advertised may have changed. The event is not a health event. The
 * callback must not stop the monitor (defer a rediscovery instead).
 */
typedef void (*health_layout_cb)(void *arg);
void health_monitor_on_layout_change(struct health_monitor *m,
    health_layout_cb cb, void *arg);
/*
 * After a rediscovery that kept |m| (or made it for |inv|): ends the
 * MIG-scoped faults of instances |inv| no longer has
 * (health_state_keep_instances()), so a MIG device made anew with the
 * ids of a failed one starts healthy. Safe with NULL.
 */
void health_monitor_keep_instances(struct health_monitor *m,
    const struct inventory *inv);
/* Stops without waiting for the thread; safe to call with NULL. */
void health_monitor_stop(struct health_monitor *m);

#endif /* GDP_HEALTH_MONITOR_H */
