/*
 * plan.h: what the MPS control daemon runs, from the config file's
 * sharing.mps section and the node's GPUs: one MPS daemon per resource
 * name (its pipe directory is what Allocate mounts into containers,
 * <mps-root>/<resource>/pipe, reference §3), serving the GPUs that
 * resource's entries select, each with the per-client limits NVIDIA's
 * daemon sets: an equal share per replica of the GPU's memory (pinned
 * device memory limit) and of its threads (active thread percentage).
 *
 * Pure: no process, no file, no NVML; unit-tested with made-up GPUs.
 */
#ifndef GDP_MPS_PLAN_H
#define GDP_MPS_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/file.h"
#include "gpu/inventory.h"

#define MPS_PATH_MAX 1024
/* A daemon's directory: room left for "/pipe" after it. */
#define MPS_DIR_MAX (MPS_PATH_MAX - 8)

struct mps_gpu {
	char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
	unsigned index;                 /* NVML index */
	unsigned long replicas;
	uint64_t limit_mib;             /* memory / replicas; 0: unknown */
};

/* One MPS daemon. */
struct mps_daemon_plan {
	char resource[128];             /* as advertised: "nvidia.com/gpu" */
	char dir[MPS_DIR_MAX];          /* <root>/<resource> (.ready in it) */
	char pipe_dir[MPS_PATH_MAX];    /* CUDA_MPS_PIPE_DIRECTORY */
	char log_dir[MPS_PATH_MAX];     /* CUDA_MPS_LOG_DIRECTORY */
	struct mps_gpu *gpus;           /* owned, |n_gpus|, as selected */
	size_t n_gpus;
	/* 100 / the most replicas of one of its GPUs: the daemon has one
	   default for all its clients, so the smallest share wins. */
	unsigned thread_percentage;
};

struct mps_plan {
	struct mps_daemon_plan *daemons;        /* owned, |n| */
	size_t n;
};

/*
 * The plan for |mps| (the file's sharing.mps; NULL or without a resource
 * with replicas: an empty plan) on |inv|, daemons under |root|. Only
 * entries named |resource_name| (the full-GPU resource, "nvidia.com/gpu")
 * are served: NVIDIA skips a replicated resource that matches nothing,
 * and so does this, naming it in |note| (may be NULL). A GPU an entry
 * selects: "all", the first |count|, or the listed indices and UUIDs.
 * Returns 0 and |*out| (free with mps_plan_free()), or -EINVAL with |err|
 * naming the key and what was wrong (a device that is not on the node,
 * a MIG device or a GPU with MIG on, a GPU in two entries, a name too
 * long), or -ENOMEM.
 */
int mps_plan_build(const struct cfgfile_sharing *mps, const char *root,
    const char *resource_name, const struct inventory *inv,
    struct mps_plan **out, char *err, size_t errlen,
    void (*note)(const char *msg, void *arg), void *arg);
void mps_plan_free(struct mps_plan *plan);

/* Whether |a| and |b| run the same daemon with the same limits. */
bool mps_daemon_plan_equal(const struct mps_daemon_plan *a,
    const struct mps_daemon_plan *b);

#endif /* GDP_MPS_PLAN_H */
