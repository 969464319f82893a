/*
 * fanout.c: physical health to view health (see fanout.h).
 */
#include "fanout.h"

static bool
fault_hits(const struct health_view *v, const struct health_fault *f)
{
	if (f->gpu != v->gpu)
		return false;
	if (v->gi == HEALTH_WHOLE)
		return true;  /* a whole-GPU view shares every instance */
	return f->gi == v->gi && (f->ci == HEALTH_WHOLE || f->ci == v->ci);
}

void
health_fanout(const struct health_view *views, size_t nviews,
    const bool *gpu_healthy, size_t ngpus, const struct health_fault *faults,
    size_t nfaults, bool *out)
{
	for (size_t i = 0; i < nviews; i++) {
		const struct health_view *v = &views[i];

		out[i] = v->gpu < ngpus && gpu_healthy[v->gpu];
		for (size_t k = 0; out[i] && k < nfaults; k++)
			if (fault_hits(v, &faults[k]))
				out[i] = false;
	}
}
