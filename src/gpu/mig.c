/*
 * mig.c: the MIG devices of a MIG-enabled GPU, enumerated as go-nvlib
 * does it, and the capability minors of /proc/driver/nvidia-caps.
 *
 * For each slot j below nvmlDeviceGetMaxMigDeviceCount: the handle (an
 * empty slot answers NOT_FOUND or INVALID_ARGUMENT and is passed over),
 * its GPU and compute instance ids, its attributes, then the GPU
 * instance and compute instance behind them, whose profile ids are
 * matched against the GPU's profile tables (GI profiles 0..16, CI
 * profiles 0..7 with engine profile 0) to name the profile NVIDIA's way.
 * The name's GB is NVIDIA's rounding of the MIG memory's fraction of the
 * GPU's memory to eighths, times the GPU's memory in whole GiB.
 *
 * A MIG device NVML cannot describe is left out and reported, like a GPU;
 * a missing mig-minors entry leaves its minor at -1 (the resource layer
 * decides what that means for the device specs).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gpu/inventory_int.h"
#include "util/alloc.h"

#define MIG_MINORS_PATH "/driver/nvidia-caps/mig-minors"

/* ---- mig-minors ---- */

/* Parses "gpu<g>/gi<i>[/ci<c>]/access <m>"; 0 or -EINVAL (other lines:
 * config, monitor, or what a newer driver adds). */
static int
parse_minor_line(const char *line, struct mig_minor *m)
{
	unsigned gpu, gi, ci;
	int minor, n = 0;

	if (sscanf(line, "gpu%u/gi%u/access %d%n", &gpu, &gi, &minor,
	    &n) == 3 && n > 0) {
		*m = (struct mig_minor){ gpu, gi, -1, minor };
		return 0;
	}
	if (sscanf(line, "gpu%u/gi%u/ci%u/access %d%n", &gpu, &gi, &ci,
	    &minor, &n) == 4 && n > 0 && ci < 0x7fffffffu) {
		*m = (struct mig_minor){ gpu, gi, (int)ci, minor };
		return 0;
	}
	return -EINVAL;
}

int
mig_minors_read(const char *proc_root, struct mig_minors *out)
{
	char path[4096], line[256];
	size_t cap = 0;
	FILE *f;

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "%s" MIG_MINORS_PATH, proc_root);
	f = fopen(path, "re");
	if (f == NULL) {
		out->error = -errno;
		return 0;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		struct mig_minor m;

		if (parse_minor_line(line, &m) != 0)
			continue;
		if (out->n == cap) {
			size_t want = cap ? 2 * cap : 256;
			struct mig_minor *v = gdp_realloc(out->v,
			    want * sizeof(*v));

			if (v == NULL) {
				fclose(f);
				mig_minors_free(out);
				return -ENOMEM;
			}
			out->v = v;
			cap = want;
		}
		out->v[out->n++] = m;
	}
	fclose(f);
	return 0;
}

void
mig_minors_free(struct mig_minors *m)
{
	gdp_free(m->v);
	m->v = NULL;
	m->n = 0;
}

int
mig_minors_find(const struct mig_minors *m, unsigned gpu, unsigned gi,
    int ci)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->v[i].gpu == gpu && m->v[i].gi == gi && m->v[i].ci == ci)
			return m->v[i].minor;
	return -1;
}

/* ---- profile names ---- */

/* GB as NVIDIA rounds it: eighths of the GPU, times its whole GiB. */
static unsigned
mig_gb(uint64_t mig_mib, uint64_t gpu_bytes)
{
	double frac, gib;

	if (gpu_bytes == 0)
		return 0;
	frac = (double)mig_mib * 1048576.0 / (double)gpu_bytes;
	frac = ceil(frac * 8.0) / 8.0;
	gib = (double)((gpu_bytes + (1ULL << 30) - 1) >> 30);
	return (unsigned)round(frac * gib);
}

/* The attribute suffix of a GPU instance profile: "+me", "-me", ... */
static const char *
profile_suffix(unsigned gi_profile)
{
	switch (gi_profile) {
	case NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV1:
	case NVML_GPU_INSTANCE_PROFILE_2_SLICE_REV1:
		return "+me";
	case NVML_GPU_INSTANCE_PROFILE_1_SLICE_GFX:
	case NVML_GPU_INSTANCE_PROFILE_2_SLICE_GFX:
	case NVML_GPU_INSTANCE_PROFILE_4_SLICE_GFX:
		return "+gfx";
	case NVML_GPU_INSTANCE_PROFILE_1_SLICE_NO_ME:
	case NVML_GPU_INSTANCE_PROFILE_2_SLICE_NO_ME:
		return "-me";
	case NVML_GPU_INSTANCE_PROFILE_1_SLICE_ALL_ME:
	case NVML_GPU_INSTANCE_PROFILE_2_SLICE_ALL_ME:
		return "+me.all";
	default:
		return "";
	}
}

const char *
mig_profile_name(unsigned gi_profile, unsigned c, unsigned g,
    uint64_t mig_mib, uint64_t gpu_bytes, char *buf, size_t len)
{
	unsigned gb = mig_gb(mig_mib, gpu_bytes);

	if (c == g)
		snprintf(buf, len, "%ug.%ugb%s", g, gb,
		    profile_suffix(gi_profile));
	else
		snprintf(buf, len, "%uc.%ug.%ugb%s", c, g, gb,
		    profile_suffix(gi_profile));
	return buf;
}

/* ---- one MIG device ---- */

/* A profile slot the GPU lacks: passed over, as go-nvlib does. */
static bool
absent(int rc)
{
	return rc == -ENOTSUP || rc == -EINVAL;
}

/* The CI profile of |ci_id| in GI |gi|: its slice count, 0 when none
 * matches, or < 0. */
static int
match_ci(const struct nvml *nvml, nvmlGpuInstance_t gi, unsigned ci_id,
    unsigned *c, struct nvml_error *e)
{
	nvmlComputeInstanceProfileInfo_t info;

	for (unsigned j = 0; j < NVML_COMPUTE_INSTANCE_PROFILE_COUNT; j++)
		for (unsigned k = 0;
		    k < NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_COUNT; k++) {
			int rc = nvml_ci_profile_info(nvml, gi, j, k, &info, e);

			if (absent(rc))
				continue;
			if (rc < 0)
				return rc;
			if (info.id == ci_id) {
				*c = info.sliceCount;
				return 1;
			}
		}
	return 0;
}

/* Names |m|'s profile from the GPU's and the GI's profile tables. */
static int
match_profiles(const struct nvml *nvml, nvmlDevice_t dev,
    nvmlGpuInstance_t gi, const nvmlGpuInstanceInfo_t *gii,
    const nvmlComputeInstanceInfo_t *cii, uint64_t gpu_bytes,
    struct mig_device *m, struct nvml_error *e)
{
	nvmlGpuInstanceProfileInfo_t info;

	for (unsigned i = 0; i < NVML_GPU_INSTANCE_PROFILE_COUNT; i++) {
		unsigned c = 0;
		int rc = nvml_gi_profile_info(nvml, dev, i, &info, e);

		if (absent(rc))
			continue;
		if (rc < 0)
			return rc;
		if (info.id != gii->profileId)
			continue;
		rc = match_ci(nvml, gi, cii->profileId, &c, e);
		if (rc < 0)
			return rc;
		if (rc == 0)
			break;
		mig_profile_name(i, c, info.sliceCount, m->memory_mib,
		    gpu_bytes, m->profile, sizeof(m->profile));
		return 0;
	}
	*e = (struct nvml_error){ NVML_ERROR_NOT_FOUND,
		"no GPU/compute instance profile matches" };
	return -ENOENT;
}

/* Fills |m| from MIG handle |mig| of |dev|. */
static int
describe_mig(const struct nvml *nvml, nvmlDevice_t dev, nvmlDevice_t mig,
    const struct gpu *g, struct mig_device *m, struct nvml_error *e)
{
	nvmlDeviceAttributes_t a;
	nvmlGpuInstance_t gi = NULL;
	nvmlComputeInstance_t ci = NULL;
	nvmlGpuInstanceInfo_t gii;
	nvmlComputeInstanceInfo_t cii;
	int rc;

	memset(&a, 0, sizeof(a));
	memset(&gii, 0, sizeof(gii));
	memset(&cii, 0, sizeof(cii));
	rc = nvml_device_uuid(nvml, mig, m->uuid, sizeof(m->uuid), e);
	if (rc == 0)
		rc = nvml_mig_instance_ids(nvml, mig, &m->gi, &m->ci, e);
	if (rc == 0)
		rc = nvml_device_attributes(nvml, mig, &a, e);
	if (rc == 0)
		rc = nvml_gpu_instance_by_id(nvml, dev, m->gi, &gi, e);
	if (rc == 0)
		rc = nvml_gpu_instance_info(nvml, gi, &gii, e);
	if (rc == 0)
		rc = nvml_compute_instance_by_id(nvml, gi, m->ci, &ci, e);
	if (rc == 0)
		rc = nvml_compute_instance_info(nvml, ci, &cii, e);
	if (rc < 0)
		return rc;
	m->gi_profile_id = gii.profileId;
	m->ci_profile_id = cii.profileId;
	m->gi_slices = a.gpuInstanceSliceCount;
	m->ci_slices = a.computeInstanceSliceCount;
	m->multiprocessors = a.multiprocessorCount;
	m->copy_engines = a.sharedCopyEngineCount;
	m->decoders = a.sharedDecoderCount;
	m->encoders = a.sharedEncoderCount;
	m->jpegs = a.sharedJpegCount;
	m->ofas = a.sharedOfaCount;
	m->memory_mib = a.memorySizeMB;
	return match_profiles(nvml, dev, gi, &gii, &cii, g->memory_bytes, m,
	    e);
}

/* Notes MIG device |j| of |g| as left out. */
static int
skip_mig(const struct nvml *nvml, struct inventory *inv, const struct gpu *g,
    unsigned j, const struct mig_device *m, const struct nvml_error *e)
{
	char line[512], d[320];

	snprintf(line, sizeof(line), "MIG device %u:%u%s%s%s: %s", g->index, j,
	    m->uuid[0] ? " (" : "", m->uuid, m->uuid[0] ? ")" : "",
	    nvml_error_text(nvml, e, d, sizeof(d)));
	return inventory_note(&inv->skipped, &inv->n_skipped, line);
}

/* Notes a failure of the walk itself (the count, a handle). */
static int
walk_failed(const struct nvml *nvml, struct inventory *inv,
    const struct gpu *g, const struct nvml_error *e)
{
	char line[512], d[320];

	if (e->code == NVML_ERROR_FUNCTION_NOT_FOUND) {
		if (inv->noted & INVENTORY_NOTED_MIG)
			return 0;
		inv->noted |= INVENTORY_NOTED_MIG;
		snprintf(line, sizeof(line), "%s: MIG devices unknown (a "
		    "driver without MIG)", nvml_error_text(nvml, e, d,
		    sizeof(d)));
	} else {
		snprintf(line, sizeof(line), "GPU %u (%s): %s: MIG devices "
		    "unknown", g->index, g->uuid, nvml_error_text(nvml, e, d,
		    sizeof(d)));
	}
	return inventory_note(&inv->warnings, &inv->n_warnings, line);
}

/* The capability minors of |m|, and a warning once when the file is
 * unreadable or lacks them. */
static int
find_minors(const struct mig_minors *minors, struct inventory *inv,
    const struct gpu *g, struct mig_device *m)
{
	char line[512];

	m->gi_cap_minor = mig_minors_find(minors, g->minor, m->gi, -1);
	m->ci_cap_minor = mig_minors_find(minors, g->minor, m->gi,
	    (int)m->ci);
	if ((m->gi_cap_minor >= 0 && m->ci_cap_minor >= 0) ||
	    (inv->noted & INVENTORY_NOTED_MINORS))
		return 0;
	inv->noted |= INVENTORY_NOTED_MINORS;
	if (minors->error != 0)
		snprintf(line, sizeof(line), "mig-minors: %s: MIG capability "
		    "device nodes unknown", strerror(-minors->error));
	else
		snprintf(line, sizeof(line), "mig-minors has no gpu%u/gi%u%s "
		    "entry (MIG device %u:%u): its capability device nodes "
		    "unknown", g->minor, m->gi, m->gi_cap_minor < 0 ? "" :
		    "/ci", g->index, m->index);
	return inventory_note(&inv->warnings, &inv->n_warnings, line);
}

/* Reads slot |j|: 1 if it holds a MIG device (in |m|), 0, or < 0. */
static int
read_slot(const struct nvml *nvml, nvmlDevice_t dev, struct gpu *g,
    unsigned j, struct mig_device *m, struct inventory *inv)
{
	struct nvml_error e = { NVML_SUCCESS, NULL };
	nvmlDevice_t mig = NULL;
	bool is_mig = false;
	int rc;

	memset(m, 0, sizeof(*m));
	m->index = j;
	rc = nvml_device_mig_by_index(nvml, dev, j, &mig, &e);
	if (rc == -ENOENT || rc == -EINVAL)
		return 0;
	if (rc == 0)
		rc = nvml_device_is_mig(nvml, mig, &is_mig, &e);
	if (rc == 0 && !is_mig)
		return 0;
	if (rc == 0)
		rc = describe_mig(nvml, dev, mig, g, m, &e);
	if (rc < 0)
		return skip_mig(nvml, inv, g, j, m, &e) < 0 ? -ENOMEM : 0;
	return 1;
}

int
inventory_read_migs(const struct nvml *nvml, nvmlDevice_t dev,
    struct gpu *g, const struct mig_minors *minors, struct inventory *inv)
{
	struct nvml_error e = { NVML_SUCCESS, NULL };
	unsigned max = 0;
	int rc;

	if (nvml_device_max_mig_count(nvml, dev, &max, &e) < 0)
		return walk_failed(nvml, inv, g, &e);
	if (max == 0)
		return 0;
	g->migs = gdp_calloc(max, sizeof(*g->migs));
	if (g->migs == NULL)
		return -ENOMEM;
	for (unsigned j = 0; j < max; j++) {
		struct mig_device *m = &g->migs[g->n_migs];

		rc = read_slot(nvml, dev, g, j, m, inv);
		if (rc < 0)
			return rc;
		if (rc == 0)
			continue;
		if (find_minors(minors, inv, g, m) < 0)
			return -ENOMEM;
		g->n_migs++;
	}
	return 0;
}
