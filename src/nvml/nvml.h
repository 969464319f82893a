/*
 * nvml.h: NVML loaded at run time with dlopen, behind typed calls.
 *
 * No link-time dependency on the driver: the same binary runs on nodes
 * with any driver version, and on nodes with none (where opening fails
 * with a message saying what was looked for). The library is found the way
 * NVIDIA's plugin finds it: libnvidia-ml.so.1 under the container's view of
 * the driver root, then under the host driver root, in the usual library
 * directories, and last by its soname through the dynamic loader (which
 * honours LD_LIBRARY_PATH, how tests load the fake library).
 *
 * This is the only module that names NVML symbols. Each wrapper below
 * binds to the newest versioned symbol the library has and converts the
 * older layouts where they differ (PCI info v1, NVLink remote PCI info v1,
 * event data v1, which has no MIG instance ids: its events are whole-GPU
 * events). An entry point the library lacks answers as
 * NVML_ERROR_FUNCTION_NOT_FOUND would. Only nvmlInit, nvmlShutdown,
 * nvmlErrorString, nvmlDeviceGetCount, nvmlDeviceGetHandleByIndex and
 * nvmlDeviceGetUUID are required to open it.
 *
 * Errors: every wrapper returns 0 or a negative errno (nvml_errno() gives
 * the mapping: -ENOTSUP for NOT_SUPPORTED and a missing entry point,
 * -ENODEV for GPU_IS_LOST, -ETIMEDOUT for TIMEOUT, -EACCES for
 * NO_PERMISSION, -ENOENT for NOT_FOUND, -EINVAL, -ENOSPC, -ENOMEM, -ENXIO
 * for DRIVER_NOT_LOADED, -EIO for the rest) and, when |err| is not NULL,
 * fills it with the NVML code and the entry point's name, so that the
 * caller can say which call failed and how (nvml_error_text()).
 *
 * Threads: an opened binding may be used from several threads at once
 * (NVML itself is thread-safe). It is reference-counted: a thread that
 * may outlive its starter takes a reference (nvml_hold) and drops it when
 * done; the library is unloaded only by the last nvml_close.
 */
#ifndef GDP_NVML_H
#define GDP_NVML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nvml/nvml_types.h"

struct nvml;

/* Why an NVML call failed. */
struct nvml_error {
	nvmlReturn_t code;      /* NVML_SUCCESS: no failure recorded */
	const char *call;       /* the entry point, a static string */
};

/* gi/ci of an event that is not scoped to a MIG instance. */
#define NVML_NO_INSTANCE 0xFFFFFFFFu

/* One event from nvml_event_wait(). */
struct nvml_event {
	nvmlDevice_t device;
	uint64_t type;          /* one nvmlEventType* bit */
	uint64_t data;          /* the XID, for XID events */
	unsigned gi, ci;        /* NVML_NO_INSTANCE: the whole GPU */
};

/* The PCI facts the inventory keeps. */
struct nvml_pci {
	char bus_id[NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE]; /* "00000000:3B:00.0" */
	unsigned device_id;     /* (device << 16) | vendor */
};

/*
 * Loads NVML. |driver_root_ctr| and |driver_root| may be NULL or empty.
 * Returns a new binding with one reference (drop it with nvml_close), or
 * NULL with a message in |err| that names every place looked at and errno
 * set (ENOENT: not found or not NVML; ENOMEM).
 */
struct nvml *nvml_open(const char *driver_root_ctr, const char *driver_root,
    char *err, size_t errlen);
/* Takes another reference to |nvml|. Returns |nvml|. */
struct nvml *nvml_hold(struct nvml *nvml);
/*
 * Drops a reference; the last one shuts NVML down (if nvml_init succeeded
 * more often than nvml_shutdown) and unloads the library. NULL is a no-op.
 */
void nvml_close(struct nvml *nvml);

/* The file that was loaded, and the init symbol bound (for the logs). */
const char *nvml_path(const struct nvml *nvml);
const char *nvml_init_symbol(const struct nvml *nvml);
/*
 * Writes into |buf| the entry points the library lacks altogether (none
 * of their names), comma-separated: "" when it has them all. Returns
 * |buf|.
 */
const char *nvml_missing(const struct nvml *nvml, char *buf, size_t len);

/* "NVML_ERROR_GPU_IS_LOST" for 15; "NVML_ERROR_<n>" for unknown codes. */
const char *nvml_error_name(nvmlReturn_t rc);
/* The negative errno that stands for |rc| (0 for NVML_SUCCESS). */
int nvml_errno(nvmlReturn_t rc);
/*
 * Writes "<name>: <nvmlErrorString text>" into |buf| (|nvml| may be NULL,
 * then only the name). Returns |buf|.
 */
const char *nvml_describe(const struct nvml *nvml, nvmlReturn_t rc,
    char *buf, size_t len);
/* "<call>: <name>: <text>" for |err|. Returns |buf|. */
const char *nvml_error_text(const struct nvml *nvml,
    const struct nvml_error *err, char *buf, size_t len);
/* What an operator should check for an error from nvmlInit. */
const char *nvml_init_hint(nvmlReturn_t rc);

/* ---- the calls ---- */

/* nvmlInit_v2 (or nvmlInit); each success needs one nvml_shutdown. */
int nvml_init(struct nvml *nvml, struct nvml_error *err);
int nvml_shutdown(struct nvml *nvml, struct nvml_error *err);

/* |buf| gets a NUL-terminated string; -ENOSPC if |len| is too small. */
int nvml_driver_version(const struct nvml *nvml, char *buf, size_t len,
    struct nvml_error *err);
/* |version|: 12040 for CUDA 12.4. */
int nvml_cuda_version(const struct nvml *nvml, int *version,
    struct nvml_error *err);

int nvml_device_count(const struct nvml *nvml, unsigned *count,
    struct nvml_error *err);
int nvml_device_by_index(const struct nvml *nvml, unsigned index,
    nvmlDevice_t *dev, struct nvml_error *err);
int nvml_device_by_uuid(const struct nvml *nvml, const char *uuid,
    nvmlDevice_t *dev, struct nvml_error *err);
int nvml_device_uuid(const struct nvml *nvml, nvmlDevice_t dev, char *buf,
    size_t len, struct nvml_error *err);
int nvml_device_name(const struct nvml *nvml, nvmlDevice_t dev, char *buf,
    size_t len, struct nvml_error *err);
int nvml_device_minor(const struct nvml *nvml, nvmlDevice_t dev,
    unsigned *minor, struct nvml_error *err);
/* Through the newest of PciInfo_v3, _v2 and the v1 layout. */
int nvml_device_pci(const struct nvml *nvml, nvmlDevice_t dev,
    struct nvml_pci *pci, struct nvml_error *err);
/* Total memory in bytes; also the health probe (a cheap query). */
int nvml_device_memory(const struct nvml *nvml, nvmlDevice_t dev,
    uint64_t *total, struct nvml_error *err);
int nvml_device_compute_capability(const struct nvml *nvml,
    nvmlDevice_t dev, int *major, int *minor, struct nvml_error *err);
/* |enabled|: the current MIG mode is on. */
int nvml_device_mig_mode(const struct nvml *nvml, nvmlDevice_t dev,
    bool *enabled, struct nvml_error *err);
/*
 * Whether NVLink |link| is active. -ENOTSUP (no NVLink) or -EINVAL (past
 * the last link) end a walk over the links.
 */
int nvml_device_nvlink_active(const struct nvml *nvml, nvmlDevice_t dev,
    unsigned link, bool *active, struct nvml_error *err);
/* The far end's bus id, through _v2 or the v1 layout. */
int nvml_device_nvlink_remote(const struct nvml *nvml, nvmlDevice_t dev,
    unsigned link, struct nvml_pci *remote, struct nvml_error *err);

/*
 * What is at the far end of NVLink |link| (GPU, SWITCH, ...). Optional:
 * -ENOTSUP with err->code NVML_ERROR_FUNCTION_NOT_FOUND on a driver
 * without nvmlDeviceGetNvLinkRemoteDeviceType.
 */
int nvml_device_nvlink_remote_type(const struct nvml *nvml, nvmlDevice_t dev,
    unsigned link, nvmlIntNvLinkDeviceType_t *type, struct nvml_error *err);
/*
 * The PCIe relationship of two GPUs (nvmlDeviceGetTopologyCommonAncestor).
 * Optional, as above.
 */
int nvml_device_common_ancestor(const struct nvml *nvml, nvmlDevice_t a,
    nvmlDevice_t b, nvmlGpuTopologyLevel_t *level, struct nvml_error *err);

/*
 * MIG, as go-nvlib enumerates it. All optional: a driver without these
 * entry points has no MIG (-ENOTSUP, err->code
 * NVML_ERROR_FUNCTION_NOT_FOUND). GPU instance and compute instance
 * handles are NVML's, valid while NVML is initialised.
 */
/* MIG device slots of |dev| (0 unless MIG is on). */
int nvml_device_max_mig_count(const struct nvml *nvml, nvmlDevice_t dev,
    unsigned *count, struct nvml_error *err);
/* MIG device |index| of GPU |dev|: -ENOENT or -EINVAL for an empty or
 * absent slot. */
int nvml_device_mig_by_index(const struct nvml *nvml, nvmlDevice_t dev,
    unsigned index, nvmlDevice_t *mig, struct nvml_error *err);
int nvml_device_is_mig(const struct nvml *nvml, nvmlDevice_t dev,
    bool *is_mig, struct nvml_error *err);
/* The GPU of MIG device |mig|. */
int nvml_mig_parent(const struct nvml *nvml, nvmlDevice_t mig,
    nvmlDevice_t *parent, struct nvml_error *err);
/* The GPU and compute instance ids of MIG device |mig|. */
int nvml_mig_instance_ids(const struct nvml *nvml, nvmlDevice_t mig,
    unsigned *gi, unsigned *ci, struct nvml_error *err);
/* nvmlDeviceGetAttributes_v2 of a MIG device. */
int nvml_device_attributes(const struct nvml *nvml, nvmlDevice_t dev,
    nvmlDeviceAttributes_t *attributes, struct nvml_error *err);
/* GPU instance profile |profile| (NVML_GPU_INSTANCE_PROFILE_*) of |dev|;
 * -ENOTSUP or -EINVAL for one the GPU lacks. */
int nvml_gi_profile_info(const struct nvml *nvml, nvmlDevice_t dev,
    unsigned profile, nvmlGpuInstanceProfileInfo_t *info,
    struct nvml_error *err);
int nvml_gpu_instance_by_id(const struct nvml *nvml, nvmlDevice_t dev,
    unsigned id, nvmlGpuInstance_t *gi, struct nvml_error *err);
int nvml_gpu_instance_info(const struct nvml *nvml, nvmlGpuInstance_t gi,
    nvmlGpuInstanceInfo_t *info, struct nvml_error *err);
int nvml_compute_instance_by_id(const struct nvml *nvml,
    nvmlGpuInstance_t gi, unsigned id, nvmlComputeInstance_t *ci,
    struct nvml_error *err);
/* Through nvmlComputeInstanceGetInfo_v2, else the unversioned name. */
int nvml_compute_instance_info(const struct nvml *nvml,
    nvmlComputeInstance_t ci, nvmlComputeInstanceInfo_t *info,
    struct nvml_error *err);
/* Compute instance profile |profile| with engine profile |engine| of GPU
 * instance |gi|; -ENOTSUP or -EINVAL for one it lacks. */
int nvml_ci_profile_info(const struct nvml *nvml, nvmlGpuInstance_t gi,
    unsigned profile, unsigned engine,
    nvmlComputeInstanceProfileInfo_t *info, struct nvml_error *err);

int nvml_event_set_create(const struct nvml *nvml, nvmlEventSet_t *set,
    struct nvml_error *err);
int nvml_device_supported_events(const struct nvml *nvml, nvmlDevice_t dev,
    uint64_t *types, struct nvml_error *err);
int nvml_device_register_events(const struct nvml *nvml, nvmlDevice_t dev,
    uint64_t types, nvmlEventSet_t set, struct nvml_error *err);
/*
 * Waits up to |timeout_ms| for an event: 0 and |*ev| filled, -ETIMEDOUT,
 * -ENODEV (a GPU of the set is lost) or another error. Through
 * nvmlEventSetWait_v2, or the v1 call whose events carry no instance ids
 * (|ev->gi| and |ev->ci| are then NVML_NO_INSTANCE).
 */
int nvml_event_wait(const struct nvml *nvml, nvmlEventSet_t set,
    unsigned timeout_ms, struct nvml_event *ev, struct nvml_error *err);
/* Frees |set| (NULL is a no-op); failures are not interesting. */
void nvml_event_set_free(const struct nvml *nvml, nvmlEventSet_t set);

#endif /* GDP_NVML_H */
