/*
 * status.h: the health of the node's GPUs as plain data, what the health
 * monitor hands out and what the resource core fans out to every view.
 *
 * Kept apart from the state machine (state.h) so that src/resources can
 * read health without knowing how it is decided.
 */
#ifndef GDP_HEALTH_STATUS_H
#define GDP_HEALTH_STATUS_H

#include <stdbool.h>
#include <stddef.h>

/* gi/ci of a record, fault or view that is not scoped to a MIG instance
 * (the same value as NVML's "no instance"). */
#define HEALTH_WHOLE 0xFFFFFFFFu

/* One physical GPU. */
struct health_gpu_status {
	bool healthy;
	const char *reason;  /* "" when healthy, never "" when not */
};

/* A fault of one MIG instance; the GPU itself stays healthy. */
struct health_instance_fault {
	size_t gpu;          /* inventory index */
	unsigned gi;         /* GPU instance */
	unsigned ci;         /* compute instance, HEALTH_WHOLE: all of |gi| */
	const char *reason;  /* never "" */
};

/*
 * Every GPU's status (inventory order) and every MIG-scoped fault. The
 * pointers belong to whoever made the snapshot; valid until it changes.
 */
struct health_snapshot {
	const struct health_gpu_status *gpus;
	size_t ngpus;
	const struct health_instance_fault *faults;
	size_t nfaults;
};

#endif /* GDP_HEALTH_STATUS_H */
