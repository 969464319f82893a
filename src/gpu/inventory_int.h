/*
 * inventory_int.h: what inventory.c shares with the MIG enumeration
 * (mig.c), which fills the same struct gpu and reports through the same
 * skipped/warnings lists.
 */
#ifndef GDP_GPU_INVENTORY_INT_H
#define GDP_GPU_INVENTORY_INT_H

#include "gpu/inventory.h"

/* Appends a copy of |text| to |*list|. Returns 0 or -ENOMEM. */
int inventory_note(char ***list, size_t *n, const char *text);

/* The MIG capability minors of /proc/driver/nvidia-caps/mig-minors. */
struct mig_minor {
	unsigned gpu;           /* the GPU's minor number */
	unsigned gi;
	int ci;                 /* -1: the GPU instance's own access */
	int minor;              /* /dev/nvidia-caps/nvidia-cap<minor> */
};

struct mig_minors {
	struct mig_minor *v;    /* owned */
	size_t n;
	int error;              /* 0, or -errno: the file could not be read */
};

/*
 * Reads |proc_root|/driver/nvidia-caps/mig-minors into |out|. A missing
 * or unreadable file leaves |out| empty with |out->error| set; returns
 * -ENOMEM only.
 */
int mig_minors_read(const char *proc_root, struct mig_minors *out);
void mig_minors_free(struct mig_minors *m);
/* The minor of gpu<gpu>/gi<gi>[/ci<ci>]/access (ci -1: the GI's); -1. */
int mig_minors_find(const struct mig_minors *m, unsigned gpu, unsigned gi,
    int ci);

/*
 * Fills |g->migs| with the MIG devices of MIG-enabled GPU |dev|, in index
 * order: ids, attributes, NVIDIA's profile name, capability minors from
 * |minors|. A MIG device NVML cannot describe is left out, noted in
 * |inv->skipped|; a driver without the MIG entry points is noted once in
 * |inv->warnings|. Returns 0 or -ENOMEM.
 */
int inventory_read_migs(const struct nvml *nvml, nvmlDevice_t dev,
    struct gpu *g, const struct mig_minors *minors, struct inventory *inv);

/* NVIDIA's name of a MIG profile: "1g.10gb", "1c.2g.10gb", "1g.10gb+me",
 * "1g.20gb+me.all", "1g.10gb-me", "2g.20gb+gfx", from the GPU instance
 * profile index (NVML_GPU_INSTANCE_PROFILE_*), C, G, the MIG device's
 * memory and the GPU's. Returns |buf|. */
const char *mig_profile_name(unsigned gi_profile, unsigned c, unsigned g,
    uint64_t mig_mib, uint64_t gpu_bytes, char *buf, size_t len);

#endif /* GDP_GPU_INVENTORY_INT_H */
