/*
 * nvml.c: finding, loading and binding libnvidia-ml (see nvml.h).
 */
#include "nvml.h"

#include <dlfcn.h>
#include <link.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NVML_SONAME "libnvidia-ml.so.1"

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
			free(real);
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
	nvml->bound_pci = bind_one(nvml->handle,
	    (void **)&nvml->nvmlDeviceGetPciInfo, "nvmlDeviceGetPciInfo_v3",
	    "nvmlDeviceGetPciInfo_v2");
	if (nvml->bound_pci == NULL && nvml->nvmlDeviceGetPciInfoV1 != NULL)
		nvml->bound_pci = "nvmlDeviceGetPciInfo";
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
	struct nvml *nvml = calloc(1, sizeof(*nvml));
	char tried[2048];

	if (nvml == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	nvml->handle = find_library(driver_root_ctr, driver_root, nvml->path,
	    sizeof(nvml->path), tried, sizeof(tried));
	if (nvml->handle == NULL) {
		err[0] = '\0';
		append(err, errlen, "cannot load %s (%s)", NVML_SONAME,
		    tried[0] == ';' ? tried + 2 : tried);
		free(nvml);
		return NULL;
	}
	bind_symbols(nvml);
	if (!has_required(nvml, err, errlen)) {
		nvml_close(nvml);
		return NULL;
	}
	return nvml;
}

void
nvml_close(struct nvml *nvml)
{
	if (nvml == NULL)
		return;
	if (nvml->handle != NULL && !nvml->pinned)
		dlclose(nvml->handle);
	free(nvml);
}

nvmlReturn_t
nvml_device_pci_info(const struct nvml *nvml, nvmlDevice_t dev,
    nvmlPciInfo_t *pci)
{
	nvmlPciInfoV1_t v1;
	nvmlReturn_t rc;

	if (nvml->nvmlDeviceGetPciInfo != NULL)
		return nvml->nvmlDeviceGetPciInfo(dev, pci);
	rc = NVML_CALL(nvml, nvmlDeviceGetPciInfoV1, dev, &v1);
	if (rc != NVML_SUCCESS)
		return rc;
	memset(pci, 0, sizeof(*pci));
	memcpy(pci->busIdLegacy, v1.busId, sizeof(pci->busIdLegacy));
	memcpy(pci->busId, v1.busId, sizeof(v1.busId));
	pci->busId[sizeof(v1.busId) - 1] = '\0';
	pci->domain = v1.domain;
	pci->bus = v1.bus;
	pci->device = v1.device;
	pci->pciDeviceId = v1.pciDeviceId;
	pci->pciSubSystemId = v1.pciSubSystemId;
	return NVML_SUCCESS;
}
