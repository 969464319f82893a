/*
 * fake_mig.h: the fake's MIG profile tables (mig_tables.c), shared by
 * mig.c, which builds MIG devices from them.
 */
#ifndef FAKE_MIG_H
#define FAKE_MIG_H

#include "fakenvml.h"

/* One GPU instance profile, as nvidia-smi mig -lgip shows it. */
struct fake_gi_profile {
	unsigned int index;	/* NVML_GPU_INSTANCE_PROFILE_* */
	unsigned int id;	/* the profile id NVML and nvidia-smi report */
	const char *name;	/* NVIDIA's name: "1g.5gb+me" */
	unsigned int slices, instances, sms;
	unsigned int ce, dec, enc, jpeg, ofa;
	unsigned long long memory_mib;
};

/* The profiles of one GPU model. */
struct fake_mig_table {
	const char *name_has;		/* in the GPU's name */
	unsigned long long max_memory_mib;	/* the GPU's, at most */
	unsigned int slices;		/* compute slices: 7, or 4 */
	unsigned int sms_per_slice;	/* of a compute instance slice */
	const struct fake_gi_profile *gi;
	size_t n;
};

/* The table of a GPU by its name and memory, or NULL. */
const struct fake_mig_table *fake_mig_table_for(const char *name,
    unsigned long long memory_mib);
/* A table's profile by NVIDIA name or NVML profile index, or NULL. */
const struct fake_gi_profile *fake_mig_gi_by_name(
    const struct fake_mig_table *t, const char *name);
const struct fake_gi_profile *fake_mig_gi_by_index(
    const struct fake_mig_table *t, unsigned int index);

#endif /* FAKE_MIG_H */
