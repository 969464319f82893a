/*
 * fanout.h: from the health of physical GPUs to the health of every
 * resource view of them.
 *
 * Health lives on the physical device. A resource advertised to the
 * kubelet is a view: a whole GPU, one of its time-sliced replicas (also a
 * whole-GPU view), or one MIG device (a GPU instance and compute
 * instance). A failing GPU turns every view of it unhealthy, replicas and
 * MIG devices alike (NVIDIA's plugin marks only the last replica, and
 * loses all but one MIG device). A fault scoped to a MIG instance turns
 * only the views that use that instance unhealthy, plus the whole-GPU
 * views that share the silicon.
 */
#ifndef GDP_HEALTH_FANOUT_H
#define GDP_HEALTH_FANOUT_H

#include <stdbool.h>
#include <stddef.h>

/* gi/ci of a view or fault that is not scoped to a MIG instance. */
#define HEALTH_WHOLE 0xFFFFFFFFu

struct health_view {
	size_t gpu;       /* index of the physical GPU */
	unsigned gi, ci;  /* HEALTH_WHOLE for a whole-GPU view */
};

struct health_fault {
	size_t gpu;
	unsigned gi, ci;  /* ci HEALTH_WHOLE: the whole GPU instance */
};

/*
 * Sets |out[i]| to the health of |views[i]|, from |gpu_healthy| (|ngpus|
 * entries) and the MIG-scoped |faults|. Views of unknown GPUs are
 * unhealthy.
 */
void health_fanout(const struct health_view *views, size_t nviews,
    const bool *gpu_healthy, size_t ngpus, const struct health_fault *faults,
    size_t nfaults, bool *out);

#endif /* GDP_HEALTH_FANOUT_H */
