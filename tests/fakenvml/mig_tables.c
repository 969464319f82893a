/*
 * mig_tables.c: the GPU instance profiles of the MIG-capable GPUs the
 * fake knows, as `nvidia-smi mig -lgip` lists them on a real one.
 *
 * A profile's MIG devices name their profile ("1g.5gb", "1c.2g.10gb");
 * everything else (memory, SMs, engines, the NVML profile index and id)
 * comes from these tables, so a profile cannot describe a MIG device no
 * driver would report. Memory sizes are the GPU instance's, in MiB, and
 * round to the names' GB by NVIDIA's rule (see mig.c): the tests check
 * that they do. The table is picked by the GPU's name and memory.
 *
 * The RTX PRO 6000 Blackwell table is the one with the newer attribute
 * profiles (+gfx, -me, +me.all; 4 slices): its names and sizes follow
 * NVIDIA's, its profile ids and engine counts are this fake's own.
 */
#include <string.h>

#include "fake_mig.h"

/* index, id, name, slices, instances, SMs, CE, DEC, ENC, JPEG, OFA, MiB */
static const struct fake_gi_profile a100_40gb[] = {
	{ NVML_GPU_INSTANCE_PROFILE_1_SLICE, 19, "1g.5gb",
	    1, 7, 14, 1, 0, 0, 0, 0, 4864 },
	{ NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV1, 20, "1g.5gb+me",
	    1, 1, 14, 1, 1, 0, 1, 1, 4864 },
	{ NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV2, 15, "1g.10gb",
	    1, 4, 14, 1, 1, 0, 0, 0, 9856 },
	{ NVML_GPU_INSTANCE_PROFILE_2_SLICE, 14, "2g.10gb",
	    2, 3, 28, 2, 1, 0, 0, 0, 9856 },
	{ NVML_GPU_INSTANCE_PROFILE_3_SLICE, 9, "3g.20gb",
	    3, 2, 42, 3, 2, 0, 0, 0, 19968 },
	{ NVML_GPU_INSTANCE_PROFILE_4_SLICE, 5, "4g.20gb",
	    4, 1, 56, 4, 2, 0, 0, 0, 19968 },
	{ NVML_GPU_INSTANCE_PROFILE_7_SLICE, 0, "7g.40gb",
	    7, 1, 98, 7, 5, 0, 1, 1, 40192 },
};

static const struct fake_gi_profile h100_80gb[] = {
	{ NVML_GPU_INSTANCE_PROFILE_1_SLICE, 19, "1g.10gb",
	    1, 7, 16, 1, 1, 0, 1, 0, 9984 },
	{ NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV1, 20, "1g.10gb+me",
	    1, 1, 16, 1, 1, 0, 1, 1, 9984 },
	{ NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV2, 15, "1g.20gb",
	    1, 4, 26, 1, 1, 0, 1, 0, 20096 },
	{ NVML_GPU_INSTANCE_PROFILE_2_SLICE, 14, "2g.20gb",
	    2, 3, 32, 2, 2, 0, 2, 0, 20096 },
	{ NVML_GPU_INSTANCE_PROFILE_3_SLICE, 9, "3g.40gb",
	    3, 2, 60, 3, 3, 0, 3, 0, 40448 },
	{ NVML_GPU_INSTANCE_PROFILE_4_SLICE, 5, "4g.40gb",
	    4, 1, 64, 4, 4, 0, 4, 0, 40448 },
	{ NVML_GPU_INSTANCE_PROFILE_7_SLICE, 0, "7g.80gb",
	    7, 1, 132, 8, 7, 0, 7, 1, 81152 },
};

static const struct fake_gi_profile h200_141gb[] = {
	{ NVML_GPU_INSTANCE_PROFILE_1_SLICE, 19, "1g.18gb",
	    1, 7, 16, 1, 1, 0, 1, 0, 16384 },
	{ NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV1, 20, "1g.18gb+me",
	    1, 1, 16, 1, 1, 0, 1, 1, 16384 },
	{ NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV2, 15, "1g.35gb",
	    1, 4, 26, 1, 1, 0, 1, 0, 33280 },
	{ NVML_GPU_INSTANCE_PROFILE_2_SLICE, 14, "2g.35gb",
	    2, 3, 32, 2, 2, 0, 2, 0, 33280 },
	{ NVML_GPU_INSTANCE_PROFILE_3_SLICE, 9, "3g.71gb",
	    3, 2, 60, 3, 3, 0, 3, 0, 66560 },
	{ NVML_GPU_INSTANCE_PROFILE_4_SLICE, 5, "4g.71gb",
	    4, 1, 64, 4, 4, 0, 4, 0, 66560 },
	{ NVML_GPU_INSTANCE_PROFILE_7_SLICE, 0, "7g.141gb",
	    7, 1, 132, 8, 7, 0, 7, 1, 135168 },
};

static const struct fake_gi_profile rtx_pro_6000[] = {
	{ NVML_GPU_INSTANCE_PROFILE_1_SLICE, 14, "1g.24gb",
	    1, 4, 46, 1, 1, 1, 1, 0, 23808 },
	{ NVML_GPU_INSTANCE_PROFILE_1_SLICE_GFX, 47, "1g.24gb+gfx",
	    1, 4, 46, 1, 1, 1, 1, 0, 23808 },
	{ NVML_GPU_INSTANCE_PROFILE_1_SLICE_NO_ME, 40, "1g.24gb-me",
	    1, 4, 46, 1, 0, 0, 0, 0, 23808 },
	{ NVML_GPU_INSTANCE_PROFILE_1_SLICE_ALL_ME, 44, "1g.24gb+me.all",
	    1, 1, 46, 1, 4, 4, 4, 1, 23808 },
	{ NVML_GPU_INSTANCE_PROFILE_2_SLICE, 5, "2g.48gb",
	    2, 2, 92, 2, 2, 2, 2, 0, 47872 },
	{ NVML_GPU_INSTANCE_PROFILE_2_SLICE_GFX, 35, "2g.48gb+gfx",
	    2, 2, 92, 2, 2, 2, 2, 0, 47872 },
	{ NVML_GPU_INSTANCE_PROFILE_2_SLICE_NO_ME, 39, "2g.48gb-me",
	    2, 2, 92, 2, 0, 0, 0, 0, 47872 },
	{ NVML_GPU_INSTANCE_PROFILE_2_SLICE_ALL_ME, 36, "2g.48gb+me.all",
	    2, 1, 92, 2, 4, 4, 4, 1, 47872 },
	{ NVML_GPU_INSTANCE_PROFILE_4_SLICE, 0, "4g.96gb",
	    4, 1, 188, 4, 4, 4, 4, 1, 95744 },
	{ NVML_GPU_INSTANCE_PROFILE_4_SLICE_GFX, 32, "4g.96gb+gfx",
	    4, 1, 188, 4, 4, 4, 4, 1, 95744 },
};

#define ROWS(t) (t), sizeof(t) / sizeof((t)[0])
static const struct fake_mig_table tables[] = {
	{ "A100", 40960, 7, 14, ROWS(a100_40gb) },
	{ "H100", 81559, 7, 16, ROWS(h100_80gb) },
	{ "H200", 143771, 7, 16, ROWS(h200_141gb) },
	{ "RTX PRO 6000 Blackwell", 97887, 4, 46, ROWS(rtx_pro_6000) },
};
#undef ROWS

const struct fake_mig_table *
fake_mig_table_for(const char *name, unsigned long long memory_mib)
{
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		if (strstr(name, tables[i].name_has) != NULL &&
		    memory_mib <= tables[i].max_memory_mib)
			return &tables[i];
	return NULL;
}

const struct fake_gi_profile *
fake_mig_gi_by_name(const struct fake_mig_table *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->gi[i].name, name) == 0)
			return &t->gi[i];
	return NULL;
}

const struct fake_gi_profile *
fake_mig_gi_by_index(const struct fake_mig_table *t, unsigned int index)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->gi[i].index == index)
			return &t->gi[i];
	return NULL;
}
