/*
 * nvml.c: finding, loading and binding libnvidia-ml, and the typed calls
 * (see nvml.h).
 *
 * Layout: the ABI checks; error names and texts; finding and binding the
 * library; the calls, one short wrapper each, through CALL() which turns
 * a missing entry point into NVML_ERROR_FUNCTION_NOT_FOUND and records
 * the failing call.
 */
#include "nvml.h"

#include <dlfcn.h>
#include <link.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics/registry.h"
#include "util/alloc.h"

#define NVML_SONAME "libnvidia-ml.so.1"

/*
 * The layouts the calls rely on, as NVML's C ABI has them on LP64
 * (x86_64, aarch64): a mismatch here would make the driver write past or
 * short of our structs.
 */
_Static_assert(sizeof(nvmlPciInfo_t) == 68, "nvmlPciInfo_t layout");
_Static_assert(offsetof(nvmlPciInfo_t, busId) == 36, "nvmlPciInfo_t.busId");
_Static_assert(offsetof(nvmlPciInfo_t, pciDeviceId) == 28,
    "nvmlPciInfo_t.pciDeviceId");
_Static_assert(sizeof(nvmlPciInfoV1_t) == 52, "nvmlPciInfoV1_t layout");
_Static_assert(offsetof(nvmlPciInfoV1_t, pciDeviceId) == 28,
    "nvmlPciInfoV1_t.pciDeviceId");
_Static_assert(sizeof(nvmlMemory_t) == 24, "nvmlMemory_t layout");
_Static_assert(sizeof(nvmlEventData_t) == 32, "nvmlEventData_t layout");
_Static_assert(offsetof(nvmlEventData_t, gpuInstanceId) == 24,
    "nvmlEventData_t.gpuInstanceId");
_Static_assert(sizeof(nvmlEventDataV1_t) == 24, "nvmlEventDataV1_t layout");
_Static_assert(sizeof(nvmlDeviceAttributes_t) == 40,
    "nvmlDeviceAttributes_t layout");
_Static_assert(offsetof(nvmlDeviceAttributes_t, memorySizeMB) == 32,
    "nvmlDeviceAttributes_t.memorySizeMB");
_Static_assert(sizeof(nvmlGpuInstanceProfileInfo_t) == 48,
    "nvmlGpuInstanceProfileInfo_t layout");
_Static_assert(sizeof(nvmlGpuInstanceProfileInfo_v2_t) == 152,
    "nvmlGpuInstanceProfileInfo_v2_t layout");
_Static_assert(sizeof(nvmlGpuInstanceInfo_t) == 24,
    "nvmlGpuInstanceInfo_t layout");
_Static_assert(sizeof(nvmlComputeInstanceProfileInfo_t) == 36,
    "nvmlComputeInstanceProfileInfo_t layout");
_Static_assert(sizeof(nvmlComputeInstanceProfileInfo_v2_t) == 136,
    "nvmlComputeInstanceProfileInfo_v2_t layout");
_Static_assert(sizeof(nvmlComputeInstanceInfo_t) == 32,
    "nvmlComputeInstanceInfo_t layout");
_Static_assert(offsetof(nvmlComputeInstanceInfo_t, placement) == 24,
    "nvmlComputeInstanceInfo_t.placement");
_Static_assert(sizeof(nvmlReturn_t) == 4, "nvmlReturn_t is an int");
_Static_assert(sizeof(nvmlEnableState_t) == 4, "nvmlEnableState_t");

struct nvml {
	void *handle;
	atomic_int refs;
	int inits;                  /* successful nvml_init - nvml_shutdown */
	char path[4096];            /* the file that was loaded */
	const char *bound_init;     /* the init symbol bound */
	/* One pointer per entry point; NULL when the library lacks it. */
/* NOLINTNEXTLINE(bugprone-macro-parentheses): a declarator, not an expression */
#define GDP_NVML_MEMBER(name, ret, args) ret (*name) args;
	GDP_NVML_FUNCTIONS(GDP_NVML_MEMBER)
#undef GDP_NVML_MEMBER
};

/* Where NVIDIA's plugin looks under a driver root. */
static const char *const lib_dirs[] = {
	"/usr/lib64", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
	"/lib64", "/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu",
};

static const char *const error_names[] = {
	"NVML_SUCCESS", "NVML_ERROR_UNINITIALIZED",
	"NVML_ERROR_INVALID_ARGUMENT", "NVML_ERROR_NOT_SUPPORTED",
	"NVML_ERROR_NO_PERMISSION", "NVML_ERROR_ALREADY_INITIALIZED",
	"NVML_ERROR_NOT_FOUND", "NVML_ERROR_INSUFFICIENT_SIZE",
	"NVML_ERROR_INSUFFICIENT_POWER", "NVML_ERROR_DRIVER_NOT_LOADED",
	"NVML_ERROR_TIMEOUT", "NVML_ERROR_IRQ_ISSUE",
	"NVML_ERROR_LIBRARY_NOT_FOUND", "NVML_ERROR_FUNCTION_NOT_FOUND",
	"NVML_ERROR_CORRUPTED_INFOROM", "NVML_ERROR_GPU_IS_LOST",
	"NVML_ERROR_RESET_REQUIRED", "NVML_ERROR_OPERATING_SYSTEM",
	"NVML_ERROR_LIB_RM_VERSION_MISMATCH", "NVML_ERROR_IN_USE",
	"NVML_ERROR_MEMORY", "NVML_ERROR_NO_DATA",
	"NVML_ERROR_VGPU_ECC_NOT_SUPPORTED",
	"NVML_ERROR_INSUFFICIENT_RESOURCES", "NVML_ERROR_FREQ_NOT_SUPPORTED",
	"NVML_ERROR_ARGUMENT_VERSION_MISMATCH", "NVML_ERROR_DEPRECATED",
	"NVML_ERROR_NOT_READY", "NVML_ERROR_GPU_NOT_FOUND",
	"NVML_ERROR_INVALID_STATE",
};

const char *
nvml_error_name(nvmlReturn_t rc)
{
	static __thread char other[32];

	if ((unsigned)rc < sizeof(error_names) / sizeof(error_names[0]))
		return error_names[rc];
	if (rc == NVML_ERROR_UNKNOWN)
		return "NVML_ERROR_UNKNOWN";
	snprintf(other, sizeof(other), "NVML_ERROR_%d", (int)rc);
	return other;
}

const char *
nvml_describe(const struct nvml *nvml, nvmlReturn_t rc, char *buf,
    size_t len)
{
	const char *text = NULL;

	if (nvml != NULL && nvml->nvmlErrorString != NULL)
		text = nvml->nvmlErrorString(rc);
	if (text != NULL && text[0] != '\0')
		snprintf(buf, len, "%s: %s", nvml_error_name(rc), text);
	else
		snprintf(buf, len, "%s", nvml_error_name(rc));
	return buf;
}

const char *
nvml_error_text(const struct nvml *nvml, const struct nvml_error *err,
    char *buf, size_t len)
{
	char d[256];

	snprintf(buf, len, "%s: %s", err->call != NULL ? err->call : "NVML",
	    nvml_describe(nvml, err->code, d, sizeof(d)));
	return buf;
}

int
nvml_errno(nvmlReturn_t rc)
{
	switch (rc) {
	case NVML_SUCCESS:
		return 0;
	case NVML_ERROR_NOT_SUPPORTED:
	case NVML_ERROR_FUNCTION_NOT_FOUND:
		return -ENOTSUP;
	case NVML_ERROR_GPU_IS_LOST:
		return -ENODEV;
	case NVML_ERROR_TIMEOUT:
		return -ETIMEDOUT;
	case NVML_ERROR_NO_PERMISSION:
		return -EACCES;
	case NVML_ERROR_NOT_FOUND:
		return -ENOENT;
	case NVML_ERROR_INVALID_ARGUMENT:
		return -EINVAL;
	case NVML_ERROR_INSUFFICIENT_SIZE:
		return -ENOSPC;
	case NVML_ERROR_MEMORY:
		return -ENOMEM;
	case NVML_ERROR_DRIVER_NOT_LOADED:
		return -ENXIO;
	default:
		return -EIO;
	}
}

const char *
nvml_init_hint(nvmlReturn_t rc)
{
	switch (rc) {
	case NVML_ERROR_DRIVER_NOT_LOADED:
		return "the NVIDIA kernel driver is not loaded: check "
		    "`lsmod | grep nvidia` and dmesg on the node";
	case NVML_ERROR_NO_PERMISSION:
		return "no permission to open /dev/nvidia*: run privileged "
		    "or give the plugin access to the device nodes";
	case NVML_ERROR_LIB_RM_VERSION_MISMATCH:
		return "libnvidia-ml and the kernel driver differ in version: "
		    "reboot after a driver upgrade, or mount the matching "
		    "library";
	case NVML_ERROR_LIBRARY_NOT_FOUND:
		return "libnvidia-ml.so.1 was not found: set --driver-root "
		    "(and --driver-root-ctr-path in a container), or use the "
		    "nvidia container runtime";
	default:
		return "if this is a GPU node, check that the driver works "
		    "(nvidia-smi) and that the plugin runs with the nvidia "
		    "runtime; if it is not, keep the plugin off this node "
		    "with a nodeSelector or toleration";
	}
}

/* Appends to the NUL-terminated |buf|, truncating quietly. */
static void
append(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
append(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;

	if (used + 1 >= len)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

/* Tries |root|/<libdir>/libnvidia-ml.so.1 for each library directory. */
static void *
open_under(const char *root, char *path, size_t len, char *tried,
    size_t tried_len)
{
	for (size_t i = 0; i < sizeof(lib_dirs) / sizeof(lib_dirs[0]); i++) {
		char *real;
		void *h;

		snprintf(path, len, "%s%s/%s", strcmp(root, "/") ? root : "",
		    lib_dirs[i], NVML_SONAME);
		if (access(path, R_OK) != 0)
			continue;
		real = realpath(path, NULL);
		h = dlopen(real ? real : path, RTLD_LAZY | RTLD_LOCAL);
		if (real != NULL) {
			snprintf(path, len, "%s", real);
			gdp_free(real);
		}
		if (h != NULL)
			return h;
		append(tried, tried_len, "; %s: %s", path, dlerror());
	}
	append(tried, tried_len, "; not under %s", root);
	return NULL;
}

static void *
find_library(const char *ctr_root, const char *host_root, char *path,
    size_t len, char *tried, size_t tried_len)
{
	const char *roots[] = { ctr_root, host_root };
	void *h;

	tried[0] = '\0';
	for (size_t i = 0; i < 2; i++) {
		if (roots[i] == NULL || roots[i][0] == '\0')
			continue;
		h = open_under(roots[i], path, len, tried, tried_len);
		if (h != NULL)
			return h;
	}
	snprintf(path, len, "%s", NVML_SONAME);
	h = dlopen(NVML_SONAME, RTLD_LAZY | RTLD_LOCAL);
	if (h == NULL) {
		append(tried, tried_len, "; %s", dlerror());
		return NULL;
	}
	/* Say which file the loader picked, for the logs. */
	struct link_map *lm = NULL;

	if (dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm != NULL &&
	    lm->l_name != NULL && lm->l_name[0] != '\0')
		snprintf(path, len, "%s", lm->l_name);
	return h;
}

/* Points |slot| at |newest|, else |oldest|; returns the name bound. */
static const char *
bind_one(void *handle, void **slot, const char *newest, const char *oldest)
{
	*slot = dlsym(handle, newest);
	if (*slot != NULL)
		return newest;
	if (oldest == NULL)
		return NULL;
	*slot = dlsym(handle, oldest);
	return *slot != NULL ? oldest : NULL;
}

/* Binds every entry point to the first of its names the library has. */
static void
bind_symbols(struct nvml *nvml)
{
#define GDP_NVML_BIND(member, newest, oldest) \
	bind_one(nvml->handle, (void **)&nvml->member, newest, oldest);
	GDP_NVML_SYMBOLS(GDP_NVML_BIND)
#undef GDP_NVML_BIND
	nvml->bound_init = bind_one(nvml->handle, (void **)&nvml->nvmlInit,
	    "nvmlInit_v2", "nvmlInit");
}

static bool
has_required(const struct nvml *nvml, char *err, size_t errlen)
{
	const char *missing = NULL;

	if (nvml->nvmlInit == NULL)
		missing = "nvmlInit_v2 or nvmlInit";
	else if (nvml->nvmlShutdown == NULL)
		missing = "nvmlShutdown";
	else if (nvml->nvmlErrorString == NULL)
		missing = "nvmlErrorString";
	else if (nvml->nvmlDeviceGetCount == NULL)
		missing = "nvmlDeviceGetCount_v2 or nvmlDeviceGetCount";
	else if (nvml->nvmlDeviceGetHandleByIndex == NULL)
		missing = "nvmlDeviceGetHandleByIndex_v2";
	else if (nvml->nvmlDeviceGetUUID == NULL)
		missing = "nvmlDeviceGetUUID";
	if (missing == NULL)
		return true;
	err[0] = '\0';
	append(err, errlen, "%s has no %s: is it really NVML?", nvml->path,
	    missing);
	return false;
}

struct nvml *
nvml_open(const char *driver_root_ctr, const char *driver_root, char *err,
    size_t errlen)
{
	struct nvml *nvml = gdp_calloc(1, sizeof(*nvml));
	char tried[2048];

	if (nvml == NULL) {
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	atomic_init(&nvml->refs, 1);
	nvml->handle = find_library(driver_root_ctr, driver_root, nvml->path,
	    sizeof(nvml->path), tried, sizeof(tried));
	if (nvml->handle == NULL) {
		err[0] = '\0';
		append(err, errlen, "cannot load %s (%s)", NVML_SONAME,
		    tried[0] == ';' ? tried + 2 : tried);
		gdp_free(nvml);
		errno = ENOENT;
		return NULL;
	}
	bind_symbols(nvml);
	if (!has_required(nvml, err, errlen)) {
		nvml_close(nvml);
		errno = ENOENT;
		return NULL;
	}
	return nvml;
}

struct nvml *
nvml_hold(struct nvml *nvml)
{
	atomic_fetch_add(&nvml->refs, 1);
	return nvml;
}

void
nvml_close(struct nvml *nvml)
{
	if (nvml == NULL || atomic_fetch_sub(&nvml->refs, 1) != 1)
		return;
	while (nvml->inits > 0 && nvml->nvmlShutdown != NULL) {
		nvml->nvmlShutdown();
		nvml->inits--;
	}
	if (nvml->handle != NULL)
		dlclose(nvml->handle);
	gdp_free(nvml);
}

const char *
nvml_path(const struct nvml *nvml)
{
	return nvml->path;
}

const char *
nvml_init_symbol(const struct nvml *nvml)
{
	return nvml->bound_init != NULL ? nvml->bound_init : "none";
}

/* An entry point that has an old-layout twin is missing only without it. */
static bool
has_v1_twin(const struct nvml *nvml, const void *fn)
{
	if (fn == (const void *)&nvml->nvmlDeviceGetPciInfo)
		return nvml->nvmlDeviceGetPciInfoV1 != NULL;
	if (fn == (const void *)&nvml->nvmlDeviceGetNvLinkRemotePciInfo)
		return nvml->nvmlDeviceGetNvLinkRemotePciInfoV1 != NULL;
	if (fn == (const void *)&nvml->nvmlEventSetWait)
		return nvml->nvmlEventSetWaitV1 != NULL;
	return false;
}

const char *
nvml_missing(const struct nvml *nvml, char *buf, size_t len)
{
	buf[0] = '\0';
#define GDP_NVML_MISSING(member, newest, oldest) \
	if (nvml->member == NULL && strstr(#member, "V1") == NULL && \
	    !has_v1_twin(nvml, &nvml->member)) \
		append(buf, len, "%s%s", buf[0] ? ", " : "", newest);
	GDP_NVML_SYMBOLS(GDP_NVML_MISSING)
#undef GDP_NVML_MISSING
	return buf;
}

/* ---- the calls ---- */

/* Records a failure of |call| in |err| (may be NULL); returns -errno. */
static int
failed(nvmlReturn_t rc, const char *call, struct nvml_error *err)
{
	if (rc == NVML_SUCCESS)
		return 0;
	if (err != NULL) {
		err->code = rc;
		err->call = call;
	}
	/* An event wait that ends without an event is no failure. */
	if (rc != NVML_ERROR_TIMEOUT || strncmp(call, "nvmlEventSetWait",
	    16) != 0)
		metrics_nvml_error(call, (unsigned)rc < sizeof(error_names) /
		    sizeof(error_names[0]) ? error_names[rc] :
		    rc == NVML_ERROR_UNKNOWN ? "NVML_ERROR_UNKNOWN" :
		    "NVML_ERROR_OTHER");
	return nvml_errno(rc);
}

/*
 * Calls entry point |fn| of |nvml| if bound, else answers
 * NVML_ERROR_FUNCTION_NOT_FOUND; records a failure under |name| in |err|.
 */
#define CALL(nvml, err, name, fn, ...) \
	failed((nvml)->fn != NULL ? (nvml)->fn(__VA_ARGS__) : \
	    NVML_ERROR_FUNCTION_NOT_FOUND, name, err)

/* NVML's string lengths are unsigned int. */
static unsigned
ulen(size_t len)
{
	return len > 0xFFFFFFFFu ? 0xFFFFFFFFu : (unsigned)len;
}

int
nvml_init(struct nvml *nvml, struct nvml_error *err)
{
	int rc = CALL(nvml, err, nvml_init_symbol(nvml), nvmlInit);

	if (rc == 0)
		nvml->inits++;
	return rc;
}

int
nvml_shutdown(struct nvml *nvml, struct nvml_error *err)
{
	if (nvml->inits == 0)
		return failed(NVML_ERROR_UNINITIALIZED, "nvmlShutdown", err);
	nvml->inits--;
	return CALL(nvml, err, "nvmlShutdown", nvmlShutdown);
}

int
nvml_driver_version(const struct nvml *nvml, char *buf, size_t len,
    struct nvml_error *err)
{
	return CALL(nvml, err, "nvmlSystemGetDriverVersion",
	    nvmlSystemGetDriverVersion, buf, ulen(len));
}

int
nvml_cuda_version(const struct nvml *nvml, int *version,
    struct nvml_error *err)
{
	return CALL(nvml, err, "nvmlSystemGetCudaDriverVersion",
	    nvmlSystemGetCudaDriverVersion, version);
}

int
nvml_device_count(const struct nvml *nvml, unsigned *count,
    struct nvml_error *err)
{
	return CALL(nvml, err, "nvmlDeviceGetCount", nvmlDeviceGetCount,
	    count);
}

int
nvml_device_by_index(const struct nvml *nvml, unsigned index,
    nvmlDevice_t *dev, struct nvml_error *err)
{
	return CALL(nvml, err, "nvmlDeviceGetHandleByIndex",
	    nvmlDeviceGetHandleByIndex, index, dev);
}

int
nvml_device_by_uuid(const struct nvml *nvml, const char *uuid,
    nvmlDevice_t *dev, struct nvml_error *err)
{
	return CALL(nvml, err, "nvmlDeviceGetHandleByUUID",
	    nvmlDeviceGetHandleByUUID, uuid, dev);
}

int
nvml_device_uuid(const struct nvml *nvml, nvmlDevice_t dev, char *buf,
    size_t len, struct nvml_error *err)
{
	return CALL(nvml, err, "nvmlDeviceGetUUID", nvmlDeviceGetUUID, dev,
	    buf, ulen(len));
}

int
nvml_device_name(const struct nvml *nvml, nvmlDevice_t dev, char *buf,
    size_t len, struct nvml_error *err)
{
	return CALL(nvml, err, "nvmlDeviceGetName", nvmlDeviceGetName, dev,
	    buf, ulen(len));
}

int
nvml_device_minor(const struct nvml *nvml, nvmlDevice_t dev,
    unsigned *minor, struct nvml_error *err)
{
	return CALL(nvml, err, "nvmlDeviceGetMinorNumber",
	    nvmlDeviceGetMinorNumber, dev, minor);
}

/*
 * Copies a bus id the driver wrote into a fixed field, in NVML's current
 * form "DDDDDDDD:BB:DD.F": the v1 layouts carry the legacy "DDDD:BB:DD.F",
 * and the two must compare equal (a GPU's own id against an NVLink's far
 * end). An id that does not parse is kept as it is.
 */
static void
copy_bus_id(char *out, const char *in, size_t in_size)
{
	char raw[NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE];
	unsigned domain, bus, dev, fn;
	size_t n = strnlen(in, in_size);

	if (n >= sizeof(raw))
		n = sizeof(raw) - 1;
	memcpy(raw, in, n);
	raw[n] = '\0';
	if (sscanf(raw, "%x:%x:%x.%x", &domain, &bus, &dev, &fn) == 4)
		snprintf(out, NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE,
		    "%08X:%02X:%02X.%X", domain, bus, dev, fn);
	else
		memcpy(out, raw, n + 1);
}

/* The facts kept from either PCI info layout the driver filled. */
static void
pci_from_v2(struct nvml_pci *out, const nvmlPciInfo_t *in)
{
	copy_bus_id(out->bus_id, in->busId, sizeof(in->busId));
	out->device_id = in->pciDeviceId;
}

static void
pci_from_v1(struct nvml_pci *out, const nvmlPciInfoV1_t *in)
{
	copy_bus_id(out->bus_id, in->busId, sizeof(in->busId));
	out->device_id = in->pciDeviceId;
}

int
nvml_device_pci(const struct nvml *nvml, nvmlDevice_t dev,
    struct nvml_pci *pci, struct nvml_error *err)
{
	nvmlPciInfo_t v2 = { 0 };
	nvmlPciInfoV1_t v1 = { 0 };
	int rc;

	if (nvml->nvmlDeviceGetPciInfo != NULL) {
		rc = CALL(nvml, err, "nvmlDeviceGetPciInfo_v3",
		    nvmlDeviceGetPciInfo, dev, &v2);
		if (rc == 0)
			pci_from_v2(pci, &v2);
		return rc;
	}
	rc = CALL(nvml, err, "nvmlDeviceGetPciInfo", nvmlDeviceGetPciInfoV1,
	    dev, &v1);
	if (rc == 0)
		pci_from_v1(pci, &v1);
	return rc;
}

int
nvml_device_memory(const struct nvml *nvml, nvmlDevice_t dev,
    uint64_t *total, struct nvml_error *err)
{
	nvmlMemory_t mem = { 0 };
	int rc = CALL(nvml, err, "nvmlDeviceGetMemoryInfo",
	    nvmlDeviceGetMemoryInfo, dev, &mem);

	if (rc == 0)
		*total = mem.total;
	return rc;
}

int
nvml_device_compute_capability(const struct nvml *nvml, nvmlDevice_t dev,
    int *major, int *minor, struct nvml_error *err)
{
	return CALL(nvml, err, "nvmlDeviceGetCudaComputeCapability",
	    nvmlDeviceGetCudaComputeCapability, dev, major, minor);
}

int
nvml_device_mig_mode(const struct nvml *nvml, nvmlDevice_t dev,
    bool *enabled, struct nvml_error *err)
{
	unsigned cur = 0, pending = 0;
	int rc = CALL(nvml, err, "nvmlDeviceGetMigMode", nvmlDeviceGetMigMode,
	    dev, &cur, &pending);

	if (rc == 0)
		*enabled = cur == NVML_DEVICE_MIG_ENABLE;
	return rc;
}

int
nvml_device_nvlink_active(const struct nvml *nvml, nvmlDevice_t dev,
    unsigned link, bool *active, struct nvml_error *err)
{
	nvmlEnableState_t state = NVML_FEATURE_DISABLED;
	int rc = CALL(nvml, err, "nvmlDeviceGetNvLinkState",
	    nvmlDeviceGetNvLinkState, dev, link, &state);

	if (rc == 0)
		*active = state == NVML_FEATURE_ENABLED;
	return rc;
}

int
nvml_device_nvlink_remote(const struct nvml *nvml, nvmlDevice_t dev,
    unsigned link, struct nvml_pci *remote, struct nvml_error *err)
{
	nvmlPciInfo_t v2 = { 0 };
	nvmlPciInfoV1_t v1 = { 0 };
	int rc;

	if (nvml->nvmlDeviceGetNvLinkRemotePciInfo != NULL) {
		rc = CALL(nvml, err, "nvmlDeviceGetNvLinkRemotePciInfo_v2",
		    nvmlDeviceGetNvLinkRemotePciInfo, dev, link, &v2);
		if (rc == 0)
			pci_from_v2(remote, &v2);
		return rc;
	}
	rc = CALL(nvml, err, "nvmlDeviceGetNvLinkRemotePciInfo",
	    nvmlDeviceGetNvLinkRemotePciInfoV1, dev, link, &v1);
	if (rc == 0)
		pci_from_v1(remote, &v1);
	return rc;
}

int
nvml_device_nvlink_remote_type(const struct nvml *nvml, nvmlDevice_t dev,
    unsigned link, nvmlIntNvLinkDeviceType_t *type, struct nvml_error *err)
{
	return CALL(nvml, err, "nvmlDeviceGetNvLinkRemoteDeviceType",
	    nvmlDeviceGetNvLinkRemoteDeviceType, dev, link, type);
}

int
nvml_device_common_ancestor(const struct nvml *nvml, nvmlDevice_t a,
    nvmlDevice_t b, nvmlGpuTopologyLevel_t *level, struct nvml_error *err)
{
	return CALL(nvml, err, "nvmlDeviceGetTopologyCommonAncestor",
	    nvmlDeviceGetTopologyCommonAncestor, a, b, level);
}

int
nvml_device_max_mig_count(const struct nvml *nvml, nvmlDevice_t dev,
    unsigned *count, struct nvml_error *err)
{
	return CALL(nvml, err, "nvmlDeviceGetMaxMigDeviceCount",
	    nvmlDeviceGetMaxMigDeviceCount, dev, count);
}

int
nvml_device_mig_by_index(const struct nvml *nvml, nvmlDevice_t dev,
    unsigned index, nvmlDevice_t *mig, struct nvml_error *err)
{
	return CALL(nvml, err, "nvmlDeviceGetMigDeviceHandleByIndex",
	    nvmlDeviceGetMigDeviceHandleByIndex, dev, index, mig);
}

int
nvml_device_is_mig(const struct nvml *nvml, nvmlDevice_t dev, bool *is_mig,
    struct nvml_error *err)
{
	unsigned v = 0;
	int rc = CALL(nvml, err, "nvmlDeviceIsMigDeviceHandle",
	    nvmlDeviceIsMigDeviceHandle, dev, &v);

	if (rc == 0)
		*is_mig = v != 0;
	return rc;
}

int
nvml_mig_parent(const struct nvml *nvml, nvmlDevice_t mig,
    nvmlDevice_t *parent, struct nvml_error *err)
{
	return CALL(nvml, err, "nvmlDeviceGetDeviceHandleFromMigDeviceHandle",
	    nvmlDeviceGetDeviceHandleFromMigDeviceHandle, mig, parent);
}

int
nvml_mig_instance_ids(const struct nvml *nvml, nvmlDevice_t mig,
    unsigned *gi, unsigned *ci, struct nvml_error *err)
{
	int rc = CALL(nvml, err, "nvmlDeviceGetGpuInstanceId",
	    nvmlDeviceGetGpuInstanceId, mig, gi);

	if (rc == 0)
		rc = CALL(nvml, err, "nvmlDeviceGetComputeInstanceId",
		    nvmlDeviceGetComputeInstanceId, mig, ci);
	return rc;
}

int
nvml_device_attributes(const struct nvml *nvml, nvmlDevice_t dev,
    nvmlDeviceAttributes_t *attributes, struct nvml_error *err)
{
	memset(attributes, 0, sizeof(*attributes));
	return CALL(nvml, err, "nvmlDeviceGetAttributes_v2",
	    nvmlDeviceGetAttributes, dev, attributes);
}

int
nvml_gi_profile_info(const struct nvml *nvml, nvmlDevice_t dev,
    unsigned profile, nvmlGpuInstanceProfileInfo_t *info,
    struct nvml_error *err)
{
	memset(info, 0, sizeof(*info));
	return CALL(nvml, err, "nvmlDeviceGetGpuInstanceProfileInfo",
	    nvmlDeviceGetGpuInstanceProfileInfo, dev, profile, info);
}

int
nvml_gpu_instance_by_id(const struct nvml *nvml, nvmlDevice_t dev,
    unsigned id, nvmlGpuInstance_t *gi, struct nvml_error *err)
{
	return CALL(nvml, err, "nvmlDeviceGetGpuInstanceById",
	    nvmlDeviceGetGpuInstanceById, dev, id, gi);
}

int
nvml_gpu_instance_info(const struct nvml *nvml, nvmlGpuInstance_t gi,
    nvmlGpuInstanceInfo_t *info, struct nvml_error *err)
{
	memset(info, 0, sizeof(*info));
	return CALL(nvml, err, "nvmlGpuInstanceGetInfo",
	    nvmlGpuInstanceGetInfo, gi, info);
}

int
nvml_compute_instance_by_id(const struct nvml *nvml, nvmlGpuInstance_t gi,
    unsigned id, nvmlComputeInstance_t *ci, struct nvml_error *err)
{
	return CALL(nvml, err, "nvmlGpuInstanceGetComputeInstanceById",
	    nvmlGpuInstanceGetComputeInstanceById, gi, id, ci);
}

int
nvml_compute_instance_info(const struct nvml *nvml,
    nvmlComputeInstance_t ci, nvmlComputeInstanceInfo_t *info,
    struct nvml_error *err)
{
	memset(info, 0, sizeof(*info));
	return CALL(nvml, err, "nvmlComputeInstanceGetInfo_v2",
	    nvmlComputeInstanceGetInfo, ci, info);
}

int
nvml_ci_profile_info(const struct nvml *nvml, nvmlGpuInstance_t gi,
    unsigned profile, unsigned engine,
    nvmlComputeInstanceProfileInfo_t *info, struct nvml_error *err)
{
	memset(info, 0, sizeof(*info));
	return CALL(nvml, err, "nvmlGpuInstanceGetComputeInstanceProfileInfo",
	    nvmlGpuInstanceGetComputeInstanceProfileInfo, gi, profile, engine,
	    info);
}

int
nvml_event_set_create(const struct nvml *nvml, nvmlEventSet_t *set,
    struct nvml_error *err)
{
	return CALL(nvml, err, "nvmlEventSetCreate", nvmlEventSetCreate, set);
}

int
nvml_device_supported_events(const struct nvml *nvml, nvmlDevice_t dev,
    uint64_t *types, struct nvml_error *err)
{
	unsigned long long t = 0;
	int rc = CALL(nvml, err, "nvmlDeviceGetSupportedEventTypes",
	    nvmlDeviceGetSupportedEventTypes, dev, &t);

	if (rc == 0)
		*types = t;
	return rc;
}

int
nvml_device_register_events(const struct nvml *nvml, nvmlDevice_t dev,
    uint64_t types, nvmlEventSet_t set, struct nvml_error *err)
{
	return CALL(nvml, err, "nvmlDeviceRegisterEvents",
	    nvmlDeviceRegisterEvents, dev, types, set);
}

int
nvml_event_wait(const struct nvml *nvml, nvmlEventSet_t set,
    unsigned timeout_ms, struct nvml_event *ev, struct nvml_error *err)
{
	nvmlEventData_t v2;
	nvmlEventDataV1_t v1;
	int rc;

	if (nvml->nvmlEventSetWait != NULL) {
		memset(&v2, 0, sizeof(v2));
		rc = CALL(nvml, err, "nvmlEventSetWait_v2", nvmlEventSetWait,
		    set, &v2, timeout_ms);
		if (rc == 0)
			*ev = (struct nvml_event){ v2.device, v2.eventType,
				v2.eventData, v2.gpuInstanceId,
				v2.computeInstanceId };
		return rc;
	}
	memset(&v1, 0, sizeof(v1));
	rc = CALL(nvml, err, "nvmlEventSetWait", nvmlEventSetWaitV1, set, &v1,
	    timeout_ms);
	if (rc == 0)
		*ev = (struct nvml_event){ v1.device, v1.eventType,
			v1.eventData, NVML_NO_INSTANCE, NVML_NO_INSTANCE };
	return rc;
}

void
nvml_event_set_free(const struct nvml *nvml, nvmlEventSet_t set)
{
	if (set != NULL)
		(void)CALL(nvml, NULL, "nvmlEventSetFree", nvmlEventSetFree,
		    set);
}
