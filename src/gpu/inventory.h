/*
 * inventory.h: the GPUs of this node, as NVML and sysfs describe them.
 *
 * Built once per discovery (start, SIGHUP, kubelet restart), then only
 * read: the hot paths (Allocate, GetPreferredAllocation) answer from it
 * and never call NVML. A GPU that NVML cannot describe is left out and
 * reported, not fatal: one broken GPU must not take the others off the
 * node.
 *
 * The link graph (struct gpu_pair for every two GPUs: direct NVLinks,
 * NVLinks through an NVSwitch fabric, the PCIe common ancestor) is read
 * here too, once per discovery, so that GetPreferredAllocation scores
 * pairs from memory. Each of its NVML queries is optional: a driver
 * without one leaves that part unknown, noted once in |warnings|.
 */
#ifndef GDP_GPU_INVENTORY_H
#define GDP_GPU_INVENTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nvml/nvml.h"

#define GPU_MAX_LINKS NVML_NVLINK_MAX_LINKS

/*
 * One MIG device (a compute instance inside a GPU instance) of a
 * MIG-enabled GPU, as NVML and /proc/driver/nvidia-caps/mig-minors
 * describe it. The facts are NVML's nvmlDeviceGetAttributes fields, the
 * GPU/compute instance ids and profile ids, and NVIDIA's profile name.
 */
struct mig_device {
	char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE];     /* "MIG-..." */
	unsigned index;         /* j: its MIG handle index; "i:j" names it */
	unsigned gi, ci;        /* GPU and compute instance ids */
	unsigned gi_profile_id, ci_profile_id;  /* NVML profile ids */
	unsigned gi_slices;     /* G: gpuInstanceSliceCount */
	unsigned ci_slices;     /* C: computeInstanceSliceCount */
	unsigned multiprocessors;
	unsigned copy_engines, decoders, encoders, jpegs, ofas; /* shared */
	uint64_t memory_mib;    /* memorySizeMB */
	/*
	 * NVIDIA's profile name: "1g.10gb", "1c.2g.10gb" when C < G, with
	 * attributes as NVML names them ("1g.10gb+me", "1g.20gb+me.all",
	 * "1g.10gb-me", "2g.20gb+gfx"). Resource names derive from it.
	 */
	char profile[48];
	/* /dev/nvidia-caps/nvidia-cap<minor> of the GI and CI access
	   capabilities; -1: not in mig-minors. */
	int gi_cap_minor, ci_cap_minor;
};

struct gpu {
	uint64_t memory_bytes;          /* 0: unknown */
	unsigned index;                 /* NVML index */
	unsigned minor;                 /* /dev/nvidia<minor> */
	unsigned pci_device_id;         /* (device << 16) | vendor */
	int cc_major, cc_minor;         /* -1: unknown */
	int numa_node;                  /* -1: unknown (no topology) */
	unsigned n_links;               /* active NVLinks */
	unsigned n_switch_links;        /* active NVLinks to an NVSwitch */
	unsigned link_remote_id[GPU_MAX_LINKS]; /* remote PCI device id */
	char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
	char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE];
	char bus_id[NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE]; /* NVML form */
	char sysfs_bdf[24];             /* "0000:3b:00.0" */
	char link_remote[GPU_MAX_LINKS][NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE];
	uint8_t link_type[GPU_MAX_LINKS];  /* nvmlIntNvLinkDeviceType_t;
	                                      UNKNOWN when NVML cannot say */
	bool mig_capable;               /* NVML has a MIG mode for it */
	bool mig_enabled;
	struct mig_device *migs;        /* owned, |n_migs|, by index */
	size_t n_migs;                  /* 0 unless mig_enabled */
};

/* PCIe relationship unknown (no common-ancestor query, or it failed). */
#define GPU_PCIE_UNKNOWN (-1)

/* How two GPUs are joined. */
struct gpu_pair {
	unsigned nvlinks;       /* direct: the smaller of the ends' counts */
	unsigned fabric;        /* through NVSwitches: the smaller of the
	                           two GPUs' switch link counts, 0 unless
	                           both have some */
	int pcie;               /* nvmlGpuTopologyLevel_t, or GPU_PCIE_UNKNOWN */
};

struct inventory {
	struct gpu *gpus;               /* owned, |n| entries, by index */
	size_t n;
	char driver_version[NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE];
	int cuda_version;               /* 12040 for 12.4; 0: unknown */
	char **skipped;                 /* owned: why each left-out GPU was */
	size_t n_skipped;
	char **warnings;                /* owned: facts NVML could not give */
	size_t n_warnings;
	struct gpu_pair *pairs;         /* owned, n * n; NULL: no link graph */
	unsigned noted;                 /* INVENTORY_NOTED_* already warned */
};

/* The link graph's optional queries, each noted at most once. */
#define INVENTORY_NOTED_STATE 1u        /* no nvmlDeviceGetNvLinkState */
#define INVENTORY_NOTED_TYPE 2u         /* no ...RemoteDeviceType */
#define INVENTORY_NOTED_ANCESTOR 4u     /* no ...TopologyCommonAncestor */
#define INVENTORY_NOTED_PAIR 8u         /* a pair's ancestor query failed */
#define INVENTORY_NOTED_TYPE_FAILED 16u /* a remote type query failed */
#define INVENTORY_NOTED_MIG 32u         /* no MIG entry points */
#define INVENTORY_NOTED_MINORS 64u      /* mig-minors lacks an entry */

/*
 * Discovers the GPUs through an initialised |nvml|, reading NUMA nodes
 * from |sysfs_root| (normally "/sys"). A GPU whose identity (handle, UUID,
 * name, minor number, PCI bus id) NVML cannot give is left out, with the
 * GPU, the call and the NVML error in |skipped|; an optional fact that
 * fails otherwise than "not supported" stays unknown, likewise noted in
 * |warnings|. Returns 0 and a new inventory (the caller's, free with
 * inventory_free), or a negative errno with a message in |err| (the NVML
 * error of nvmlDeviceGetCount, e.g. -EIO or -ENODEV; -ENOMEM).
 */
int inventory_discover(const struct nvml *nvml, const char *sysfs_root,
    struct inventory **out, char *err, size_t errlen);
/*
 * The same, with MIG capability minors read from
 * |proc_root|/driver/nvidia-caps/mig-minors (normally "/proc";
 * inventory_discover uses that). Each MIG-enabled GPU's MIG devices are
 * enumerated into its |migs| (src/gpu/mig.c); one NVML cannot describe is
 * left out and noted in |skipped|. Devices named "DGX Display" or
 * "NVIDIA DGX Display" are left out (noted), as go-nvlib does.
 */
int inventory_discover_roots(const struct nvml *nvml, const char *sysfs_root,
    const char *proc_root, struct inventory **out, char *err, size_t errlen);
void inventory_free(struct inventory *inv);
/* The GPU with |uuid|, or NULL. */
const struct gpu *inventory_find(const struct inventory *inv,
    const char *uuid);
/*
 * How GPUs |i| and |j| (positions in |inv->gpus|) are joined, or NULL when
 * there is no link graph (an inventory not from discovery). Inline: the
 * resources library reads it without linking discovery (and NVML).
 */
static inline const struct gpu_pair *
inventory_pair(const struct inventory *inv, size_t i, size_t j)
{
	if (inv->pairs == NULL || i >= inv->n || j >= inv->n)
		return NULL;
	return &inv->pairs[i * inv->n + j];
}
/*
 * The PCIe level of GPUs |i| and |j| (nvmlGpuTopologyLevel_t): NVML's
 * where the link graph has it, else NODE or SYSTEM by their NUMA nodes;
 * GPU_PCIE_UNKNOWN when neither is known.
 */
static inline int
inventory_pcie_level(const struct inventory *inv, size_t i, size_t j)
{
	const struct gpu_pair *p = inventory_pair(inv, i, j);
	int a = inv->gpus[i].numa_node, b = inv->gpus[j].numa_node;

	if (p != NULL && p->pcie != GPU_PCIE_UNKNOWN)
		return p->pcie;
	if (a < 0 || b < 0)
		return GPU_PCIE_UNKNOWN;
	return a == b ? NVML_TOPOLOGY_NODE : NVML_TOPOLOGY_SYSTEM;
}

/*
 * The link matrix cell of GPUs |i| and |j| as nvidia-smi topo -m writes
 * it, into |buf|: "X" for a GPU with itself, "NV<n>" for n NVLinks
 * (direct, or through an NVSwitch fabric), else the PCIe level: "PIX"
 * (one switch), "PXB" (several), "PHB" (host bridge), "NODE", "SYS", or
 * "BRD" (the same board); "?" when unknown. Returns |buf|.
 */
const char *inventory_link_label(const struct inventory *inv, size_t i,
    size_t j, char *buf, size_t len);
/* Number of NVLinks from |a| whose far end is |b|. */
unsigned inventory_links_between(const struct gpu *a, const struct gpu *b);

/*
 * The sysfs name of an NVML bus id: "00000000:3B:00.0" -> "0000:3b:00.0".
 * Returns 0, or -EINVAL if |bus_id| is not domain:bus:device.function.
 */
int gpu_sysfs_bdf(const char *bus_id, char *out, size_t len);

#endif /* GDP_GPU_INVENTORY_H */
