/*
 * mig.c: MIG mode, MIG devices, and GPU / compute instances.
 *
 * A profile gives each GPU a MIG mode (enabled, disabled, or unsupported
 * for pre-Ampere parts) and, when enabled, its MIG devices: a profile
 * name, GPU and compute instance ids and a UUID each (README.md). The
 * rest (memory, SMs, engines, NVML profile ids, placements) is derived
 * from the GPU model's table (mig_tables.c), so the enumeration NVIDIA's
 * plugin makes through go-nvlib sees what a real driver reports: handles
 * by index, attributes, instance ids, GI/CI info and profile info that
 * match each other.
 *
 * Handles: a MIG device handle points into slots[][], a GPU instance
 * handle into gis[][] and a compute instance handle into cis[][], fixed
 * arrays, so a stale handle never points at freed memory. A MIG handle
 * is no struct nvmlDevice_st: entry points that take only GPUs reject it
 * in fake_check_device (it is outside the GPU array) with
 * INVALID_ARGUMENT; those that take either call fake_enter_any.
 *
 * The control thread can replace a GPU's layout at run time
 * (fake_mig_relayout), so the built devices and every GPU's MIG mode are
 * read and written under mig_lock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fake_mig.h"

#define FAKE_MAX_MIG_DEVICES FAKE_MAX_MIGS
#define MAX_GI_ID 14		/* the driver's highest GPU instance id */
#define MAX_CI_ID 7
#define MIG_NAME_SIZE (FAKE_NAME_SIZE + FAKE_MIG_PROFILE_SIZE)

/* One built MIG device. */
struct mig_slot {
	const struct fake_gi_profile *gip;
	unsigned int gi, ci;
	unsigned int ci_slices;		/* C */
	unsigned int ci_profile;	/* NVML_COMPUTE_INSTANCE_PROFILE_* */
	unsigned int gi_start, ci_start;
	unsigned int gi_first;		/* the first slot of its GI */
	char uuid[FAKE_UUID_SIZE];
	char profile[FAKE_MIG_PROFILE_SIZE];
};

struct nvmlGpuInstance_st {
	unsigned int gpu, slot;
};

struct nvmlComputeInstance_st {
	unsigned int gpu, slot;
};

/* Per GPU: the table, the built devices and their count. */
struct mig_gpu {
	const struct fake_mig_table *table;
	unsigned int count;
	struct mig_slot dev[FAKE_MAX_MIGS];
};

static pthread_mutex_t mig_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mig_gpu migs[FAKE_MAX_GPUS];
/* The handles: slots[g][j] is MIG device j of GPU g. */
static struct { unsigned char unused; } slots[FAKE_MAX_GPUS][FAKE_MAX_MIGS];
static struct nvmlGpuInstance_st gis[FAKE_MAX_GPUS][FAKE_MAX_MIGS];
static struct nvmlComputeInstance_st cis[FAKE_MAX_GPUS][FAKE_MAX_MIGS];

/* CI slice counts of the compute instance profiles, by index. */
static const unsigned int ci_profile_slices[] = { 1, 2, 3, 4, 7, 8, 6 };

/* ---- building ---- */

/* Whether a GI of |g| slices can hold a CI profile of |c| slices. */
static bool
ci_fits(unsigned int g, unsigned int c)
{
	if (c == g || c == 1 || (c == 2 && g >= 3))
		return true;
	return g == 7 && (c == 3 || c == 4);
}

/* The CI profile index of |c| slices, or -1. */
static int
ci_profile_of(unsigned int c)
{
	for (unsigned int i = 0; i < sizeof(ci_profile_slices) /
	    sizeof(ci_profile_slices[0]); i++)
		if (ci_profile_slices[i] == c)
			return (int)i;
	return -1;
}

static int bad(const char *path, unsigned int g, unsigned int j,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Prints "fakenvml: PATH: gpus[G].mig_devices[J]: reason"; -EINVAL. */
static int
bad(const char *path, unsigned int g, unsigned int j, const char *fmt, ...)
{
	char reason[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	fprintf(stderr, "fakenvml: %s: gpus[%u].mig_devices[%u]: %s\n", path,
	    g, j, reason);
	return -EINVAL;
}

/* Parses "[Cc.]NAME" into the GI profile and C. */
static int
parse_profile(const struct fake_mig_table *t, const char *s,
    const struct fake_gi_profile **gip, unsigned int *c)
{
	unsigned int cs = 0;
	int n = 0;

	if (sscanf(s, "%uc.%n", &cs, &n) == 1 && n > 0)
		s += n;
	*gip = fake_mig_gi_by_name(t, s);
	if (*gip == NULL)
		return -ENOENT;
	*c = n > 0 ? cs : (*gip)->slices;
	if (!ci_fits((*gip)->slices, *c))
		return -EINVAL;
	return 0;
}

/* Builds slot |j| from its spec; checks what one spec can show. */
static int
build_slot(const char *path, unsigned int g, unsigned int j,
    const struct fake_mig_table *t, const struct fake_mig_spec *s,
    struct mig_slot *out)
{
	int rc = parse_profile(t, s->profile, &out->gip, &out->ci_slices);

	if (rc == -ENOENT)
		return bad(path, g, j, "profile '%s' is not one of this GPU's "
		    "(%s ...)", s->profile, t->gi[0].name);
	if (rc != 0)
		return bad(path, g, j, "profile '%s': no compute instance "
		    "profile of that many slices", s->profile);
	if (s->gi > MAX_GI_ID || s->ci > MAX_CI_ID)
		return bad(path, g, j, "gi is 0..%d, ci 0..%d", MAX_GI_ID,
		    MAX_CI_ID);
	out->gi = s->gi;
	out->ci = s->ci;
	out->ci_profile = (unsigned int)ci_profile_of(out->ci_slices);
	memcpy(out->uuid, s->uuid, sizeof(out->uuid));
	memcpy(out->profile, s->profile, sizeof(out->profile));
	return 0;
}

/* Places slot |j| in its GI (new or shared with earlier slots). */
static int
place_slot(const char *path, unsigned int g, unsigned int j,
    const struct fake_mig_spec *specs, struct mig_slot *d,
    unsigned int max_slices, unsigned int *next_start)
{
	struct mig_slot *me = &d[j];
	unsigned int used = 0;

	for (unsigned int k = 0; k < j; k++) {
		if (strcmp(d[k].uuid, me->uuid) == 0)
			return bad(path, g, j, "uuid the same as [%u]'s", k);
		if (d[k].gi != me->gi)
			continue;
		if (d[k].ci == me->ci)
			return bad(path, g, j, "gi %u ci %u given twice", me->gi,
			    me->ci);
		if (d[k].gip != me->gip)
			return bad(path, g, j, "gi %u has another profile in "
			    "[%u]", me->gi, k);
		if (used == 0)
			me->gi_first = k;
		used += d[k].ci_slices;
	}
	if (used == 0) {
		me->gi_first = j;
		me->gi_start = specs[j].has_placement ? specs[j].placement :
		    *next_start;
		*next_start = me->gi_start + me->gip->slices;
		if (*next_start > max_slices)
			return bad(path, g, j, "the GPU instances need more "
			    "than %u slices", max_slices);
	} else {
		me->gi_start = d[me->gi_first].gi_start;
	}
	me->ci_start = used;
	if (used + me->ci_slices > me->gip->slices)
		return bad(path, g, j, "gi %u's compute instances need more "
		    "than its %u slices", me->gi, me->gip->slices);
	return 0;
}

/* Checks no GI profile is used more often than it may be. */
static int
check_instances(const char *path, unsigned int g, const struct mig_gpu *mg)
{
	for (unsigned int j = 0; j < mg->count; j++) {
		unsigned int n = 0;

		for (unsigned int k = 0; k <= j; k++)
			n += mg->dev[k].gip == mg->dev[j].gip &&
			    mg->dev[k].gi_first == k;
		if (n > mg->dev[j].gip->instances)
			return bad(path, g, j, "more than %u GPU instances of "
			    "%s", mg->dev[j].gip->instances,
			    mg->dev[j].gip->name);
	}
	return 0;
}

/* Builds GPU |g|'s MIG devices into |out|; 0 or -EINVAL (said). */
static int
build_gpu(const char *path, unsigned int g, const struct nvmlDevice_st *dev,
    enum fake_mig mode, const struct fake_mig_layout *lay,
    struct mig_gpu *out)
{
	unsigned int next = 0;

	memset(out, 0, sizeof(*out));
	out->table = fake_mig_table_for(dev->name, dev->memory_mib);
	if (lay->count == 0)
		return 0;
	if (mode != FAKE_MIG_ENABLED)
		return bad(path, g, 0, "MIG devices need mig_mode: enabled");
	if (out->table == NULL)
		return bad(path, g, 0, "no MIG profile table for '%s' with "
		    "%llu MiB (A100 40GB, H100 80GB, H200 141GB)", dev->name,
		    dev->memory_mib);
	for (unsigned int j = 0; j < lay->count; j++) {
		if (build_slot(path, g, j, out->table, &lay->dev[j],
		    &out->dev[j]) != 0 || place_slot(path, g, j, lay->dev,
		    out->dev, out->table->slices, &next) != 0)
			return -EINVAL;
		out->count = j + 1;
	}
	return check_instances(path, g, out);
}

int
fake_mig_check(const char *path, const struct fake_machine *m)
{
	struct mig_gpu scratch;

	for (unsigned int g = 0; g < m->gpu_count; g++)
		if (build_gpu(path, g, &m->gpus[g], m->gpus[g].mig,
		    &m->gpus[g].mig_layout, &scratch) != 0)
			return -EINVAL;
	return 0;
}

void
fake_mig_load(void)
{
	pthread_mutex_lock(&mig_lock);
	memset(migs, 0, sizeof(migs));
	for (unsigned int g = 0; g < fake_machine.gpu_count; g++)
		(void)build_gpu("(checked)", g, &fake_machine.gpus[g],
		    fake_machine.gpus[g].mig, &fake_machine.gpus[g].mig_layout,
		    &migs[g]);
	pthread_mutex_unlock(&mig_lock);
}

/* Whether two layouts list the same MIG devices (fields, not bytes:
 * the specs have padding). */
static bool
same_layout(const struct fake_mig_layout *a, const struct fake_mig_layout *b)
{
	if (a->count != b->count)
		return false;
	for (unsigned int j = 0; j < a->count; j++) {
		const struct fake_mig_spec *x = &a->dev[j], *y = &b->dev[j];

		if (strcmp(x->profile, y->profile) != 0 ||
		    strcmp(x->uuid, y->uuid) != 0 || x->gi != y->gi ||
		    x->ci != y->ci || x->has_placement != y->has_placement ||
		    (x->has_placement && x->placement != y->placement))
			return false;
	}
	return true;
}

int
fake_mig_relayout(unsigned int g, enum fake_mig mode,
    const struct fake_mig_layout *lay, const char *path)
{
	struct nvmlDevice_st *dev = &fake_machine.gpus[g];
	struct mig_gpu built;
	bool changed;

	if (build_gpu(path, g, dev, mode, lay, &built) != 0)
		return -EINVAL;
	pthread_mutex_lock(&mig_lock);
	changed = dev->mig != mode || !same_layout(&dev->mig_layout, lay);
	dev->mig = mode;
	dev->mig_layout = *lay;
	migs[g] = built;
	pthread_mutex_unlock(&mig_lock);
	if (changed)
		fake_event_post(dev, nvmlEventTypeMigConfigChange, 0,
		    FAKE_NO_INSTANCE, FAKE_NO_INSTANCE);
	return 0;
}

/* ---- handles ---- */

/* Whether |p| points at an element of the |rows| x FAKE_MAX_MIGS array
 * |base| of |size|-byte elements; its GPU and slot. */
static bool
in_grid(const void *p, const void *base, size_t size, unsigned int *g,
    unsigned int *j)
{
	uintptr_t first = (uintptr_t)base, q = (uintptr_t)p;
	size_t k;

	if (p == NULL || q < first || (q - first) % size != 0)
		return false;
	k = (q - first) / size;
	if (k >= (size_t)FAKE_MAX_GPUS * FAKE_MAX_MIGS)
		return false;
	*g = (unsigned int)(k / FAKE_MAX_MIGS);
	*j = (unsigned int)(k % FAKE_MAX_MIGS);
	return true;
}

bool
fake_is_mig_handle(nvmlDevice_t dev)
{
	unsigned int g, j;

	return in_grid(dev, slots, sizeof(slots[0][0]), &g, &j);
}

static nvmlDevice_t
mig_handle(unsigned int g, unsigned int j)
{
	return (nvmlDevice_t)(void *)&slots[g][j];
}

/* A slot that exists now, of a GPU not lost: NVML_SUCCESS or why not.
 * Call with mig_lock held. */
static nvmlReturn_t
check_slot(unsigned int g, unsigned int j)
{
	if (g >= fake_machine.gpu_count || j >= migs[g].count)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (atomic_load(&fake_machine.gpus[g].lost))
		return NVML_ERROR_GPU_IS_LOST;
	return NVML_SUCCESS;
}

/* Checks MIG handle |dev| under the lock, giving its GPU and slot. */
static nvmlReturn_t
mig_of(nvmlDevice_t dev, unsigned int *g, unsigned int *j)
{
	if (!in_grid(dev, slots, sizeof(slots[0][0]), g, j))
		return NVML_ERROR_INVALID_ARGUMENT;
	return check_slot(*g, *j);
}

nvmlReturn_t
fake_enter_any(enum fake_sym sym, nvmlDevice_t dev)
{
	nvmlReturn_t rc = fake_fault(sym);
	unsigned int g, j;

	if (rc != NVML_SUCCESS)
		return rc;
	if (!fake_is_mig_handle(dev))
		return fake_check_device(dev);
	if (fake_check_init() != NVML_SUCCESS)
		return NVML_ERROR_UNINITIALIZED;
	pthread_mutex_lock(&mig_lock);
	rc = mig_of(dev, &g, &j);
	pthread_mutex_unlock(&mig_lock);
	return rc;
}

nvmlReturn_t
fake_mig_name(nvmlDevice_t mig, char *buf, unsigned int len)
{
	char name[MIG_NAME_SIZE];
	unsigned int g, j;
	nvmlReturn_t rc;

	pthread_mutex_lock(&mig_lock);
	rc = mig_of(mig, &g, &j);
	if (rc == NVML_SUCCESS)
		snprintf(name, sizeof(name), "%s MIG %s",
		    fake_machine.gpus[g].name, migs[g].dev[j].profile);
	pthread_mutex_unlock(&mig_lock);
	return rc != NVML_SUCCESS ? rc : fake_copy_string(name, buf, len);
}

nvmlReturn_t
fake_mig_uuid(nvmlDevice_t mig, char *buf, unsigned int len)
{
	char uuid[FAKE_UUID_SIZE];
	unsigned int g, j;
	nvmlReturn_t rc;

	pthread_mutex_lock(&mig_lock);
	rc = mig_of(mig, &g, &j);
	if (rc == NVML_SUCCESS)
		memcpy(uuid, migs[g].dev[j].uuid, sizeof(uuid));
	pthread_mutex_unlock(&mig_lock);
	return rc != NVML_SUCCESS ? rc : fake_copy_string(uuid, buf, len);
}

unsigned long long
fake_mig_memory_mib(nvmlDevice_t mig)
{
	unsigned long long mib = 0;
	unsigned int g, j;

	pthread_mutex_lock(&mig_lock);
	if (mig_of(mig, &g, &j) == NVML_SUCCESS)
		mib = migs[g].dev[j].gip->memory_mib;
	pthread_mutex_unlock(&mig_lock);
	return mib;
}

int
fake_mig_by_uuid(const char *uuid, nvmlDevice_t *mig, nvmlDevice_t *gpu,
    unsigned int *gi, unsigned int *ci)
{
	int rc = -ENOENT;

	pthread_mutex_lock(&mig_lock);
	for (unsigned int g = 0; g < fake_machine.gpu_count && rc; g++)
		for (unsigned int j = 0; j < migs[g].count && rc; j++) {
			if (strcmp(migs[g].dev[j].uuid, uuid) != 0)
				continue;
			*mig = mig_handle(g, j);
			*gpu = &fake_machine.gpus[g];
			*gi = migs[g].dev[j].gi;
			*ci = migs[g].dev[j].ci;
			rc = 0;
		}
	pthread_mutex_unlock(&mig_lock);
	return rc;
}

/* ---- the GPU's MIG mode and its MIG devices ---- */

nvmlReturn_t
fake_nvmlDeviceGetMigMode(nvmlDevice_t dev, unsigned int *current,
    unsigned int *pending)
{
	nvmlReturn_t rc = fake_enter_device(FAKE_SYM_nvmlDeviceGetMigMode, dev);
	enum fake_mig mode;

	if (rc != NVML_SUCCESS)
		return rc;
	if (current == NULL || pending == NULL)
		return NVML_ERROR_INVALID_ARGUMENT;
	pthread_mutex_lock(&mig_lock);
	mode = dev->mig;
	pthread_mutex_unlock(&mig_lock);
	if (mode == FAKE_MIG_UNSUPPORTED)
		return NVML_ERROR_NOT_SUPPORTED;
	*current = mode == FAKE_MIG_ENABLED ? NVML_DEVICE_MIG_ENABLE :
	    NVML_DEVICE_MIG_DISABLE;
	*pending = *current;
	return NVML_SUCCESS;
}

bool
fake_mig_enabled(nvmlDevice_t dev)
{
	bool on;

	pthread_mutex_lock(&mig_lock);
	on = dev->mig == FAKE_MIG_ENABLED;
	pthread_mutex_unlock(&mig_lock);
	return on;
}

/* MIG device slots of GPU |dev|: its table's slices, else 7. */
static unsigned int
max_slots(nvmlDevice_t dev)
{
	const struct fake_mig_table *t;

	pthread_mutex_lock(&mig_lock);
	t = migs[fake_device_index(dev)].table;
	pthread_mutex_unlock(&mig_lock);
	return t != NULL ? t->slices : FAKE_MAX_MIG_DEVICES;
}

nvmlReturn_t
fake_nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t dev,
    unsigned int *count)
{
	nvmlReturn_t rc = fake_enter_device(
	    FAKE_SYM_nvmlDeviceGetMaxMigDeviceCount, dev);

	if (rc != NVML_SUCCESS)
		return rc;
	if (count == NULL)
		return NVML_ERROR_INVALID_ARGUMENT;
	/* Like NVML: zero unless MIG is enabled; one per slice. */
	*count = fake_mig_enabled(dev) ? max_slots(dev) : 0;
	return NVML_SUCCESS;
}

/* An index past the slots is INVALID_ARGUMENT, an empty slot NOT_FOUND. */
nvmlReturn_t
fake_nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t dev,
    unsigned int index, nvmlDevice_t *mig)
{
	nvmlReturn_t rc = fake_enter_device(
	    FAKE_SYM_nvmlDeviceGetMigDeviceHandleByIndex, dev);
	unsigned int g;

	if (rc != NVML_SUCCESS)
		return rc;
	if (mig == NULL || index >= max_slots(dev) || !fake_mig_enabled(dev))
		return NVML_ERROR_INVALID_ARGUMENT;
	g = fake_device_index(dev);
	pthread_mutex_lock(&mig_lock);
	rc = index < migs[g].count ? NVML_SUCCESS : NVML_ERROR_NOT_FOUND;
	pthread_mutex_unlock(&mig_lock);
	if (rc == NVML_SUCCESS)
		*mig = mig_handle(g, index);
	return rc;
}

nvmlReturn_t
fake_nvmlDeviceIsMigDeviceHandle(nvmlDevice_t dev, unsigned int *is_mig)
{
	nvmlReturn_t rc = fake_enter_any(FAKE_SYM_nvmlDeviceIsMigDeviceHandle,
	    dev);

	if (rc != NVML_SUCCESS)
		return rc;
	if (is_mig == NULL)
		return NVML_ERROR_INVALID_ARGUMENT;
	*is_mig = fake_is_mig_handle(dev);
	return NVML_SUCCESS;
}

/* Only a MIG device has a parent. */
nvmlReturn_t
fake_nvmlDeviceGetDeviceHandleFromMigDeviceHandle(nvmlDevice_t mig,
    nvmlDevice_t *parent)
{
	nvmlReturn_t rc = fake_enter_any(
	    FAKE_SYM_nvmlDeviceGetDeviceHandleFromMigDeviceHandle, mig);
	unsigned int g, j;

	if (rc != NVML_SUCCESS)
		return rc;
	if (parent == NULL || !in_grid(mig, slots, sizeof(slots[0][0]), &g,
	    &j))
		return NVML_ERROR_INVALID_ARGUMENT;
	*parent = &fake_machine.gpus[g];
	return NVML_SUCCESS;
}

/* A MIG device's slot, copied under the lock; NOT_SUPPORTED for a GPU. */
static nvmlReturn_t
enter_mig(enum fake_sym sym, nvmlDevice_t dev, const void *out,
    struct mig_slot *copy, unsigned int *gpu)
{
	nvmlReturn_t rc = fake_enter_any(sym, dev);
	unsigned int g = 0, j = 0;

	if (rc != NVML_SUCCESS)
		return rc;
	if (out == NULL)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (!fake_is_mig_handle(dev))
		return NVML_ERROR_NOT_SUPPORTED;
	pthread_mutex_lock(&mig_lock);
	rc = mig_of(dev, &g, &j);
	if (rc == NVML_SUCCESS)
		*copy = migs[g].dev[j];
	pthread_mutex_unlock(&mig_lock);
	if (gpu != NULL)
		*gpu = g;
	return rc;
}

nvmlReturn_t
fake_nvmlDeviceGetGpuInstanceId(nvmlDevice_t dev, unsigned int *id)
{
	struct mig_slot s;
	nvmlReturn_t rc = enter_mig(FAKE_SYM_nvmlDeviceGetGpuInstanceId, dev,
	    id, &s, NULL);

	if (rc == NVML_SUCCESS)
		*id = s.gi;
	return rc;
}

nvmlReturn_t
fake_nvmlDeviceGetComputeInstanceId(nvmlDevice_t dev, unsigned int *id)
{
	struct mig_slot s;
	nvmlReturn_t rc = enter_mig(FAKE_SYM_nvmlDeviceGetComputeInstanceId,
	    dev, id, &s, NULL);

	if (rc == NVML_SUCCESS)
		*id = s.ci;
	return rc;
}

/* SMs of a CI of |c| slices in a GI of profile |p|. */
static unsigned int
ci_sms(const struct mig_gpu *mg, const struct fake_gi_profile *p,
    unsigned int c)
{
	return c == p->slices ? p->sms : c * mg->table->sms_per_slice;
}

nvmlReturn_t
fake_nvmlDeviceGetAttributes_v2(nvmlDevice_t dev, nvmlDeviceAttributes_t *a)
{
	struct mig_slot s;
	unsigned int g = 0;
	nvmlReturn_t rc = enter_mig(FAKE_SYM_nvmlDeviceGetAttributes_v2, dev,
	    a, &s, &g);

	if (rc != NVML_SUCCESS)
		return rc;
	*a = (nvmlDeviceAttributes_t){
		.multiprocessorCount = ci_sms(&migs[g], s.gip, s.ci_slices),
		.sharedCopyEngineCount = s.gip->ce,
		.sharedDecoderCount = s.gip->dec,
		.sharedEncoderCount = s.gip->enc,
		.sharedJpegCount = s.gip->jpeg,
		.sharedOfaCount = s.gip->ofa,
		.gpuInstanceSliceCount = s.gip->slices,
		.computeInstanceSliceCount = s.ci_slices,
		.memorySizeMB = s.gip->memory_mib,
	};
	return NVML_SUCCESS;
}

/* ---- GPU instance profiles and GPU instances ---- */

/* The GI profile |index| of GPU |dev|, or why not. */
static nvmlReturn_t
gi_profile(enum fake_sym sym, nvmlDevice_t dev, unsigned int index,
    const void *out, const struct fake_gi_profile **p)
{
	nvmlReturn_t rc = fake_enter_device(sym, dev);
	const struct fake_mig_table *t;

	if (rc != NVML_SUCCESS)
		return rc;
	if (out == NULL || index >= NVML_GPU_INSTANCE_PROFILE_COUNT)
		return NVML_ERROR_INVALID_ARGUMENT;
	pthread_mutex_lock(&mig_lock);
	t = dev->mig == FAKE_MIG_UNSUPPORTED ? NULL :
	    migs[fake_device_index(dev)].table;
	pthread_mutex_unlock(&mig_lock);
	if (t == NULL)
		return NVML_ERROR_NOT_SUPPORTED;
	*p = fake_mig_gi_by_index(t, index);
	return *p != NULL ? NVML_SUCCESS : NVML_ERROR_NOT_SUPPORTED;
}

nvmlReturn_t
fake_nvmlDeviceGetGpuInstanceProfileInfo(nvmlDevice_t dev,
    unsigned int profile, nvmlGpuInstanceProfileInfo_t *info)
{
	const struct fake_gi_profile *p = NULL;
	nvmlReturn_t rc = gi_profile(
	    FAKE_SYM_nvmlDeviceGetGpuInstanceProfileInfo, dev, profile, info,
	    &p);

	if (rc != NVML_SUCCESS)
		return rc;
	*info = (nvmlGpuInstanceProfileInfo_t){ p->id, 0, p->slices,
		p->instances, p->sms, p->ce, p->dec, p->enc, p->jpeg, p->ofa,
		p->memory_mib };
	return NVML_SUCCESS;
}

nvmlReturn_t
fake_nvmlDeviceGetGpuInstanceProfileInfoV(nvmlDevice_t dev,
    unsigned int profile, nvmlGpuInstanceProfileInfo_v2_t *info)
{
	const struct fake_gi_profile *p = NULL;
	nvmlReturn_t rc = gi_profile(
	    FAKE_SYM_nvmlDeviceGetGpuInstanceProfileInfoV, dev, profile, info,
	    &p);

	if (rc != NVML_SUCCESS)
		return rc;
	if (info->version != nvmlGpuInstanceProfileInfo_v2)
		return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
	*info = (nvmlGpuInstanceProfileInfo_v2_t){ info->version, p->id, 0,
		p->slices, p->instances, p->sms, p->ce, p->dec, p->enc,
		p->jpeg, p->ofa, p->memory_mib, "" };
	snprintf(info->name, sizeof(info->name), "MIG %s", p->name);
	return NVML_SUCCESS;
}

nvmlReturn_t
fake_nvmlDeviceGetGpuInstanceById(nvmlDevice_t dev, unsigned int id,
    nvmlGpuInstance_t *gi)
{
	nvmlReturn_t rc = fake_enter_device(
	    FAKE_SYM_nvmlDeviceGetGpuInstanceById, dev);
	unsigned int g;

	if (rc != NVML_SUCCESS)
		return rc;
	if (gi == NULL)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (!fake_mig_enabled(dev))
		return NVML_ERROR_INVALID_STATE;
	g = fake_device_index(dev);
	rc = NVML_ERROR_NOT_FOUND;
	pthread_mutex_lock(&mig_lock);
	for (unsigned int j = 0; j < migs[g].count && rc; j++)
		if (migs[g].dev[j].gi == id && migs[g].dev[j].gi_first == j) {
			gis[g][j] = (struct nvmlGpuInstance_st){ g, j };
			*gi = &gis[g][j];
			rc = NVML_SUCCESS;
		}
	pthread_mutex_unlock(&mig_lock);
	return rc;
}

/* Checks GI handle |gi| and copies its first slot, under the lock. */
static nvmlReturn_t
enter_gi(enum fake_sym sym, nvmlGpuInstance_t gi, const void *out,
    struct mig_slot *copy, unsigned int *gpu)
{
	nvmlReturn_t rc = fake_enter(sym);
	unsigned int g = 0, j = 0;

	if (rc != NVML_SUCCESS)
		return rc;
	if (out == NULL || !in_grid(gi, gis, sizeof(gis[0][0]), &g, &j))
		return NVML_ERROR_INVALID_ARGUMENT;
	pthread_mutex_lock(&mig_lock);
	rc = check_slot(g, j);
	if (rc == NVML_SUCCESS && migs[g].dev[j].gi_first != j)
		rc = NVML_ERROR_INVALID_ARGUMENT;
	if (rc == NVML_SUCCESS)
		*copy = migs[g].dev[j];
	pthread_mutex_unlock(&mig_lock);
	*gpu = g;
	return rc;
}

nvmlReturn_t
fake_nvmlGpuInstanceGetInfo(nvmlGpuInstance_t gi, nvmlGpuInstanceInfo_t *info)
{
	struct mig_slot s;
	unsigned int g = 0;
	nvmlReturn_t rc = enter_gi(FAKE_SYM_nvmlGpuInstanceGetInfo, gi, info,
	    &s, &g);

	if (rc != NVML_SUCCESS)
		return rc;
	*info = (nvmlGpuInstanceInfo_t){ &fake_machine.gpus[g], s.gi,
		s.gip->id, { s.gi_start, s.gip->slices } };
	return NVML_SUCCESS;
}

nvmlReturn_t
fake_nvmlGpuInstanceGetComputeInstanceById(nvmlGpuInstance_t gi,
    unsigned int id, nvmlComputeInstance_t *ci)
{
	struct mig_slot s;
	unsigned int g = 0;
	nvmlReturn_t rc = enter_gi(
	    FAKE_SYM_nvmlGpuInstanceGetComputeInstanceById, gi, ci, &s, &g);

	if (rc != NVML_SUCCESS)
		return rc;
	rc = NVML_ERROR_NOT_FOUND;
	pthread_mutex_lock(&mig_lock);
	for (unsigned int j = 0; j < migs[g].count && rc; j++)
		if (migs[g].dev[j].gi == s.gi && migs[g].dev[j].ci == id) {
			cis[g][j] = (struct nvmlComputeInstance_st){ g, j };
			*ci = &cis[g][j];
			rc = NVML_SUCCESS;
		}
	pthread_mutex_unlock(&mig_lock);
	return rc;
}

static nvmlReturn_t
ci_info(enum fake_sym sym, nvmlComputeInstance_t ci,
    nvmlComputeInstanceInfo_t *info)
{
	nvmlReturn_t rc = fake_enter(sym);
	struct mig_slot s;
	unsigned int g, j;

	if (rc != NVML_SUCCESS)
		return rc;
	if (info == NULL || !in_grid(ci, cis, sizeof(cis[0][0]), &g, &j))
		return NVML_ERROR_INVALID_ARGUMENT;
	pthread_mutex_lock(&mig_lock);
	rc = check_slot(g, j);
	if (rc == NVML_SUCCESS)
		s = migs[g].dev[j];
	pthread_mutex_unlock(&mig_lock);
	if (rc != NVML_SUCCESS)
		return rc;
	*info = (nvmlComputeInstanceInfo_t){ &fake_machine.gpus[g],
		&gis[g][s.gi_first], s.ci, s.ci_profile,
		{ s.ci_start, s.ci_slices } };
	gis[g][s.gi_first] = (struct nvmlGpuInstance_st){ g, s.gi_first };
	return NVML_SUCCESS;
}

nvmlReturn_t
fake_nvmlComputeInstanceGetInfo_v2(nvmlComputeInstance_t ci,
    nvmlComputeInstanceInfo_t *info)
{
	return ci_info(FAKE_SYM_nvmlComputeInstanceGetInfo_v2, ci, info);
}

nvmlReturn_t
fake_nvmlComputeInstanceGetInfo(nvmlComputeInstance_t ci,
    nvmlComputeInstanceInfo_t *info)
{
	return ci_info(FAKE_SYM_nvmlComputeInstanceGetInfo, ci, info);
}

/* The CI profile |profile| of GI |gi|: its slices, or why not. */
static nvmlReturn_t
ci_profile(enum fake_sym sym, nvmlGpuInstance_t gi, unsigned int profile,
    unsigned int engine, const void *out, struct mig_slot *s,
    unsigned int *g)
{
	nvmlReturn_t rc = enter_gi(sym, gi, out, s, g);

	if (rc != NVML_SUCCESS)
		return rc;
	if (profile >= NVML_COMPUTE_INSTANCE_PROFILE_COUNT ||
	    engine >= NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_COUNT)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (profile >= sizeof(ci_profile_slices) /
	    sizeof(ci_profile_slices[0]) ||
	    !ci_fits(s->gip->slices, ci_profile_slices[profile]))
		return NVML_ERROR_NOT_SUPPORTED;
	return NVML_SUCCESS;
}

nvmlReturn_t
fake_nvmlGpuInstanceGetComputeInstanceProfileInfo(nvmlGpuInstance_t gi,
    unsigned int profile, unsigned int engine,
    nvmlComputeInstanceProfileInfo_t *info)
{
	struct mig_slot s;
	unsigned int g = 0, c;
	nvmlReturn_t rc = ci_profile(
	    FAKE_SYM_nvmlGpuInstanceGetComputeInstanceProfileInfo, gi,
	    profile, engine, info, &s, &g);

	if (rc != NVML_SUCCESS)
		return rc;
	c = ci_profile_slices[profile];
	*info = (nvmlComputeInstanceProfileInfo_t){ profile, c,
		s.gip->slices / c, ci_sms(&migs[g], s.gip, c), s.gip->ce,
		s.gip->dec, s.gip->enc, s.gip->jpeg, s.gip->ofa };
	return NVML_SUCCESS;
}

nvmlReturn_t
fake_nvmlGpuInstanceGetComputeInstanceProfileInfoV(nvmlGpuInstance_t gi,
    unsigned int profile, unsigned int engine,
    nvmlComputeInstanceProfileInfo_v2_t *info)
{
	struct mig_slot s;
	unsigned int g = 0, c;
	nvmlReturn_t rc = ci_profile(
	    FAKE_SYM_nvmlGpuInstanceGetComputeInstanceProfileInfoV, gi,
	    profile, engine, info, &s, &g);

	if (rc != NVML_SUCCESS)
		return rc;
	if (info->version != nvmlComputeInstanceProfileInfo_v2)
		return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
	c = ci_profile_slices[profile];
	*info = (nvmlComputeInstanceProfileInfo_v2_t){ info->version,
		profile, c, s.gip->slices / c, ci_sms(&migs[g], s.gip, c),
		s.gip->ce, s.gip->dec, s.gip->enc, s.gip->jpeg, s.gip->ofa,
		"" };
	if (c == s.gip->slices)
		snprintf(info->name, sizeof(info->name), "MIG %s",
		    s.gip->name);
	else
		snprintf(info->name, sizeof(info->name), "MIG %uc.%s", c,
		    s.gip->name);
	return NVML_SUCCESS;
}
