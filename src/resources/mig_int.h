/*
 * mig_int.h: what resources.c and mig.c share (private to src/resources):
 * the pieces of a resource that do not depend on MIG, and the MIG
 * strategies' builder.
 */
#ifndef GDP_RESOURCES_MIG_INT_H
#define GDP_RESOURCES_MIG_INT_H

#include "resources/resources.h"

/* "nvidia.com/gpu" -> "nvidia-gpu.sock"; 0 or -EINVAL. */
int resources_socket_name(const char *resource, char *out, size_t len);
/* Names |r| and its socket; 0, or -EINVAL with a message in |err|. */
int resources_name(struct resource *r, const char *name, char *err,
    size_t errlen);
/* The view of GPU |g| (position |gpu| in the inventory), whole. */
void resources_whole_view(struct view *v, const struct gpu *g, size_t gpu);

/*
 * The resources of |inv| under --mig-strategy single or mixed (mig.c),
 * into |r->res| and |r->n| (whose |all| each is |r|). Returns 0, -ENOMEM,
 * or -EINVAL with NVIDIA's message in |err|; on failure what was made is
 * left in |r| for resources_free().
 */
int mig_build(struct resources *r, const struct inventory *inv,
    const struct resources_options *opts, char *err, size_t errlen);

/*
 * Shares the resources of |r| as |opts->sharing| says (replicas.c): the
 * table replaced by the shared one, and every resource's ListAndWatch
 * size checked against the kubelet's limit. Returns 0, -ENOMEM, or
 * -EINVAL with a message in |err|; on failure |r| is as it was.
 */
int replicas_apply(struct resources *r, const struct resources_options *opts,
    char *err, size_t errlen);

#endif /* GDP_RESOURCES_MIG_INT_H */
