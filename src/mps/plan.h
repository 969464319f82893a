/*
 * plan.h: what the MPS control daemon runs: one MPS daemon per resource
 * the plugin shares with MPS (its pipe directory is what Allocate mounts
 * into containers, <mps-root>/<resource>/pipe, reference §3), serving
 * that resource's devices, each with the per-client limits NVIDIA's
 * daemon sets: an equal share per replica of the GPU's memory (pinned
 * device memory limit) and of its threads (active thread percentage).
 *
 * Made from the resource table itself (resources/resources.h, built
 * from sharing.mps as the plugin builds it), so that the daemons serve
 * exactly the names, devices and replica counts the plugin advertises,
 * and a config the plugin refuses is refused here in the same words.
 * Pure: no process, no file, no NVML.
 */
#ifndef GDP_MPS_PLAN_H
#define GDP_MPS_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gpu/inventory.h"
#include "resources/resources.h"

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
	char shm_dir[MPS_PATH_MAX];     /* <root>/shm: containers' /dev/shm */
	struct mps_gpu *gpus;           /* owned, |n_gpus|, as listed */
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
 * The plan for |res| (built on |inv|), daemons under |root|: a daemon
 * for each resource shared with MPS, with the devices it has replicas
 * of. Returns 0 and |*out| (free with mps_plan_free()), or -EINVAL with
 * |err| naming what cannot be (a MIG device shared with MPS, as NVIDIA
 * refuses it; a path too long), or -ENOMEM.
 */
int mps_plan_build(const struct resources *res, const struct inventory *inv,
    const char *root, struct mps_plan **out, char *err, size_t errlen);
void mps_plan_free(struct mps_plan *plan);

/* Whether |a| and |b| run the same daemon with the same limits. */
bool mps_daemon_plan_equal(const struct mps_daemon_plan *a,
    const struct mps_daemon_plan *b);

#endif /* GDP_MPS_PLAN_H */
