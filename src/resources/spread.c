/*
 * spread.c: which replicas GetPreferredAllocation offers for a shared
 * resource, by --shared-devices-allocation-policy (reference §8).
 *
 * As NVIDIA's plugin counts it: a device's replicas in use are those the
 * kubelet did not offer as available (its total less the ones offered;
 * the request's must-include replicas count as in use), and devices are
 * picked one replica at a time:
 *  - distributed (the default): the device with the fewest in use;
 *  - packed: the device with the most in use;
 *  - distributed-strict (ours): as distributed, but a device that has
 *    a replica in this request already (picked, or must-include) comes
 *    only after every device that has none, so one request never holds
 *    two replicas of one device while enough devices have one free.
 * Ties go to the device picked least often in this request (NVIDIA's
 * v0.20 rule), then to the first in the resource's order, which is GPU
 * index order (NVIDIA's sort is unstable there: its exact ties come out
 * in any order). The replica taken from a device is its lowest offered.
 *
 * Work: O(units) per pick and O(views) once, with units the devices of
 * the resource (a few dozen), whatever the replica count.
 */
#include <errno.h>

#include "resources/answer_int.h"

/* What is known of one device during a request. */
struct unit {
	size_t next;             /* its first view not yet looked at */
	size_t offered;          /* its views offered, not yet picked */
	size_t in_use;           /* replicas not offered, or picked */
	size_t picked;           /* in this request */
	bool has_one;            /* a replica in this request already */
};

/* Whether |a| comes before |b| (|ia| < |ib| their places) as the next
 * device to take a replica from under |policy|. */
static bool
before(const struct unit *a, size_t ia, const struct unit *b, size_t ib,
    enum allocation_policy policy)
{
	if (policy == ALLOCATION_DISTRIBUTED_STRICT && a->has_one != b->has_one)
		return !a->has_one;
	if (a->in_use != b->in_use)
		return policy == ALLOCATION_PACKED ? a->in_use > b->in_use :
		    a->in_use < b->in_use;
	if (a->picked != b->picked)
		return a->picked < b->picked;
	return ia < ib;
}

/* The units of |r|, counted from |offered| and |must|. */
static void
count_units(const struct resource *r, const bool *offered, const bool *must,
    struct unit *u)
{
	for (size_t d = 0; d < r->n; d++) {
		const struct view *v = &r->views[d];
		struct unit *x = &u[v->unit];

		if (d == 0 || v->unit != r->views[d - 1].unit) {
			x->next = d;
			x->has_one = must[v->unit];
		}
		if (offered[d])
			x->offered++;
		else
			x->in_use++;
	}
}

/* The device to take the next replica from, or -1 when none is left. */
static ptrdiff_t
best_unit(const struct unit *u, size_t n, enum allocation_policy policy)
{
	ptrdiff_t best = -1;

	for (size_t i = 0; i < n; i++)
		if (u[i].offered > 0 && (best < 0 || before(&u[i], i,
		    &u[best], (size_t)best, policy)))
			best = (ptrdiff_t)i;
	return best;
}

int
spread_pick(const struct resource *r, bool *offered, const bool *must,
    char **out, size_t *n, size_t want, struct arena *a)
{
	struct unit *u = arena_array(a, r->n_units, sizeof(*u));
	enum allocation_policy policy = r->all->policy;

	if (u == NULL)
		return -ENOMEM;
	count_units(r, offered, must, u);
	while (*n < want) {
		ptrdiff_t b = best_unit(u, r->n_units, policy);
		struct unit *x;

		if (b < 0)
			break;
		x = &u[b];
		while (!offered[x->next])
			x->next++;
		offered[x->next] = false;
		out[(*n)++] = (char *)r->views[x->next].id;
		x->offered--;
		x->in_use++;
		x->picked++;
		x->has_one = true;
	}
	return 0;
}
