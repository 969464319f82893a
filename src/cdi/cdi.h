/*
 * cdi.h: the CDI spec files of our devices (reference §9), for container
 * runtimes that resolve the names a cdi-annotations or cdi-cri Allocate
 * answer carries (k8s.device-plugin.nvidia.com/gpu=<id>).
 *
 * One file per class, <dir>/k8s.device-plugin.nvidia.com-<class>.json:
 * "gpu" always (a device per full GPU, named by the device-id strategy,
 * with its /dev/nvidia<minor> and DRM nodes, and per MIG device, with its
 * parent's node and its nvidia-cap nodes; and the edits every
 * container with one of them gets: the control
 * nodes that exist, the driver's libraries, firmware, binaries and IPC
 * sockets, the toolkit's hooks), "imex-channel" when the node has IMEX
 * channels. The driver's files are found the way NVIDIA's toolkit finds
 * them (same names, same directories: discover.c) under the driver root
 * as this process sees it, and written as host paths: every path is
 * rewritten from the container driver root to the host driver root.
 *
 * Files are written whole or not at all (a temporary file in the same
 * directory, mode 0644, then rename), so a runtime reading the directory
 * at any moment sees the old spec or the new one. cdiVersion is the
 * lowest that the contents need (spec.c says which).
 */
#ifndef GDP_CDI_CDI_H
#define GDP_CDI_CDI_H

#include <stddef.h>

#include "resources/resources.h"

#define CDI_DEFAULT_DIR "/var/run/cdi"
#define CDI_DEFAULT_HOOK_PATH "/usr/bin/nvidia-ctk"

struct cdi_options {
	const char *driver_root;      /* host path of the driver root: "/" */
	const char *driver_root_seen; /* where this process sees it */
	const char *hook_path;        /* --nvidia-cdi-hook-path */
	/* --cdi-disable-hooks: comma-separated hook names, or "all". */
	const char *disable_hooks;
	const char *spec_dir;         /* CDI_DEFAULT_DIR */
	const char *driver_version;   /* "535.104.05", from NVML */
	/* Where this process sees the dev root ("/": its own), for the
	 * GPUs' DRM nodes; NULL: none looked for. */
	const char *dev_root_seen;
	const struct inventory *inv;  /* the GPUs the views are of */
};

/*
 * The JSON text of the gpu class spec for the views of |r| (the first
 * resource: whole GPUs, or MIG devices), then every MIG device of
 * |o->inv| that |r| does not have, so that the spec has all of them
 * whichever resource advertises them (mixed: one per profile); device
 * nodes and the dev root come from |r->all|. Returns 0
 * and a string in |*json| (free with gdp_free), or -ENOMEM, or -EINVAL
 * with a message in |err| (a path too long).
 */
int cdi_gpu_spec(const struct cdi_options *o, const struct resource *r,
    char **json, char *err, size_t errlen);
/* The imex-channel class spec: one device per channel of |all|. */
int cdi_imex_spec(const struct resources *all, char **json, char *err,
    size_t errlen);

/*
 * Writes |json| as <dir>/k8s.device-plugin.nvidia.com-<class>.json
 * atomically (see the top); a NULL |json| removes that file if it is
 * there. Returns 0 or -errno with a message in |err| naming the path.
 */
int cdi_write(const char *dir, const char *class, const char *json,
    char *err, size_t errlen);

/*
 * Every spec file for |r| (the gpu class, imex-channel when |r->all| has
 * channels, removed otherwise): what the daemon calls at start and on
 * every rediscovery or change of the control nodes. 0 or -errno with
 * |err|.
 */
int cdi_update(const struct cdi_options *o, const struct resource *r,
    char *err, size_t errlen);

#endif /* GDP_CDI_CDI_H */
