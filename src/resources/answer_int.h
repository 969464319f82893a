/*
 * answer_int.h: what answers.c and strategies.c share (private to
 * src/resources): one container's resolved request, and the answer the
 * device-list strategies build for it.
 */
#ifndef GDP_RESOURCES_ANSWER_INT_H
#define GDP_RESOURCES_ANSWER_INT_H

#include "deviceplugin.pb-c.h"
#include "resources/resources.h"

/* What one container gets, while its answer is being built. */
struct pick {
	const struct resource *r;
	const size_t *idx;       /* view indexes, unique, request order */
	size_t n;
};

/*
 * The ContainerAllocateResponse for |p| under every strategy of
 * |p->r->all|, built in |a|. NULL with errno ENOMEM, or EIO when no
 * random bytes came for a cdi-annotations key.
 */
V1beta1__ContainerAllocateResponse *strategy_answer(struct arena *a,
    const struct pick *p);

/*
 * GetPreferredAllocation for a shared resource |r| (spread.c): picks
 * views among |offered| (one flag per view, cleared as they are picked)
 * by |r->all->policy|, their ids appended to |out| (|*n| so far, |want|
 * at most). |must| (one flag per unit) marks the devices the request's
 * must-include ids are of. Returns 0, or -ENOMEM (arrays from |a|).
 */
int spread_pick(const struct resource *r, bool *offered, const bool *must,
    char **out, size_t *n, size_t want, struct arena *a);

#endif /* GDP_RESOURCES_ANSWER_INT_H */
