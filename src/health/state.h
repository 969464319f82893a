/*
 * state.h: the health of every GPU, decided from plain records.
 *
 * The pure half of health checking (DESIGN.md): records in (an XID or
 * ECC event, a probe result, event waits failing or working again, event
 * registration failing or unsupported), per-GPU health and reasons out,
 * plus the faults scoped to one MIG instance, which do not make the GPU
 * itself unhealthy. No NVML call, no descriptor, no clock and no thread:
 * time is an argument (|now_ms|, any monotonic origin), and the caller
 * ticks the machine at health_state_next_deadline(). NVML return codes
 * appear only as data. Transitions are logged (util/log.h).
 *
 * A GPU is healthy when none of these causes holds, each with its own
 * reason text so that ending one never hides another:
 *   - a transient XID within the quiet period (healthy again once quiet
 *     for that long with the probe passing);
 *   - a reset-class XID or a failed probe not yet followed by a reset
 *     (the probe must see the GPU fail and then answer again);
 *   - health events unavailable for it (registration failed, or waits
 *     failing), when so configured.
 * The reason named is the one in force, most serious first; an unhealthy
 * GPU always has one.
 *
 * Faults scoped to a MIG instance (GPU instance |gi|, compute instance
 * |ci| or HEALTH_WHOLE for the whole GPU instance) follow the same
 * classes and expire the same way; a reset of the GPU clears them. Up to
 * HEALTH_MAX_INSTANCE_FAULTS are kept per GPU, more than NVML can report
 * (at most 7 GPU instances with 8 compute instances each, plus the 7
 * whole instances). Past that bound a fault widens to its whole GPU
 * instance, and failing that to the whole GPU, with the same class and a
 * reason that says so: a bound never changes a fault's meaning.
 *
 * Event lines are rate-limited per GPU and kind of event (XID number and
 * MIG scope, or ECC single/double): the first is logged, repeats within
 * |log_repeat_ms| are only counted, and at the end of each such interval
 * with repeats one line sums them up ("XID 13 on GPU 0 (GPU-...)
 * repeated 812 times in the last 10 s"); a flood that goes on gets one
 * summary per interval, never a line per event. Up to HEALTH_REPEAT_KINDS
 * kinds are told apart per GPU at once, the rest counted together. The
 * summaries are due at health_state_next_deadline() like the rest.
 */
#ifndef GDP_HEALTH_STATE_H
#define GDP_HEALTH_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "health/policy.h"
#include "health/status.h"
#include "nvml/nvml_types.h"

/* The gpu of a record about every GPU (waits failing or working). */
#define HEALTH_ALL_GPUS SIZE_MAX
#define HEALTH_MAX_INSTANCE_FAULTS 64
#define HEALTH_REASON_MAX 224
/* Repeated event lines: the default interval, and kinds per GPU. */
#define HEALTH_LOG_REPEAT_MS 10000
#define HEALTH_REPEAT_KINDS 8

struct health_config {
	struct health_policy policy;
	int64_t quiet_ms;              /* transient faults: quiet period */
	bool unhealthy_without_events; /* events unavailable: unhealthy */
	int64_t log_repeat_ms;         /* one summary of repeated event
					* lines per this; 0: the default */
};

enum health_record_kind {
	HEALTH_REC_EVENT,              /* an NVML event on |gpu| */
	HEALTH_REC_PROBE,              /* the probe of |gpu| answered |rc| */
	HEALTH_REC_WAIT_FAILED,        /* event waits fail with |rc| */
	HEALTH_REC_WAIT_OK,            /* event waits work again */
	HEALTH_REC_REGISTER_FAILED,    /* |call| failed with |rc| for |gpu| */
	HEALTH_REC_REGISTER_UNSUPPORTED, /* |gpu| has no usable event type */
	HEALTH_REC_REGISTERED,         /* |gpu|'s events registered after a
					* failure (retried once it answers) */
	HEALTH_REC_WATCHING,           /* registration done: |count| GPUs'
					* events are watched */
	HEALTH_REC_WAIT_EARLY,         /* waits end at once with |rc| and no
					* event, |count| times in a row */
};

/* A plain record, as the NVML thread posts it. */
struct health_record {
	enum health_record_kind kind;
	size_t gpu;          /* inventory index, or HEALTH_ALL_GPUS */
	uint64_t type;       /* event type bits (nvmlEventType*) */
	uint64_t xid;        /* the XID of an XID event */
	unsigned gi;         /* GPU instance, or HEALTH_WHOLE: whole GPU */
	unsigned ci;         /* compute instance, or HEALTH_WHOLE */
	nvmlReturn_t rc;     /* the NVML answer (probe, wait, register) */
	const char *call;    /* static: the NVML call that failed, or NULL */
	unsigned count;      /* how many times in a row (WAIT_EARLY) */
};

struct health_state;

/*
 * A state for |ngpus| GPUs, all healthy. |names[i]| (copied; NULL for
 * none) labels GPU i in the logs, e.g. its UUID; |cfg| is copied.
 * Returns NULL with errno ENOMEM.
 */
struct health_state *health_state_new(size_t ngpus,
    const char *const *names, const struct health_config *cfg);
/* Safe with NULL. */
void health_state_free(struct health_state *s);
/* A MIG device: GPU instance |gi|, compute instance |ci|, its UUID. */
struct health_instance_id {
	unsigned gi, ci;
	char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
};
/* The MIG devices of a GPU the state knows (more are not told apart). */
#define HEALTH_MAX_MIG_DEVICES 16

/*
 * At every discovery: GPU |i|'s MIG devices are |ids| (|n|). A MIG-scoped
 * fault is of the MIG device that had its instance ids when it came; it
 * stays while that device (same ids, same UUID; a fault of a whole GPU
 * instance: any device of it) is there, and ends, logged, once it is
 * gone: a repartition that makes a new device with the ids of a failed
 * one must not hand it the fault. Returns whether any fault ended.
 */
bool health_state_keep_instances(struct health_state *s, size_t i,
    const struct health_instance_id *ids, size_t n);
/*
 * Takes over from |from| what it knows of each GPU of |to| with the same
 * name (its causes, deadlines, MIG-scoped faults, what was last
 * published), and whether event waits are failing: a new state for a
 * new GPU set (a reload) goes on where the old one was, so a GPU an XID
 * made unhealthy stays so. A GPU |from| does not know starts healthy.
 * Times are as |from| had them (the same clock). |from| is only read.
 */
void health_state_inherit(struct health_state *to,
    const struct health_state *from);

/*
 * Applies |r| at |now_ms|. Records for an unknown GPU are ignored.
 */
void health_state_apply(struct health_state *s,
    const struct health_record *r, int64_t now_ms);
/*
 * Ends the transient faults whose quiet period is over at |now_ms| (the
 * probe passing); postpones those of a GPU whose probe fails.
 */
void health_state_tick(struct health_state *s, int64_t now_ms);
/* When health_state_tick() next has work; INT64_MAX when never. */
int64_t health_state_next_deadline(const struct health_state *s);

/*
 * Fills |snap| (pointers into |s|), logs each GPU's health transition
 * since the last call, and returns whether anything the application sees
 * (health, reason or MIG-scoped faults) changed since then.
 */
bool health_state_snapshot(struct health_state *s,
    struct health_snapshot *snap);

#endif /* GDP_HEALTH_STATE_H */
