/*
 * nvml.h: NVML loaded at run time with dlopen, as a table of typed calls.
 *
 * No link-time dependency on the driver: the same binary runs on nodes
 * with any driver version, and on nodes with none (where opening fails
 * with a message saying what was looked for). The library is found the way
 * NVIDIA's plugin finds it: libnvidia-ml.so.1 under the container's view of
 * the driver root, then under the host driver root, in the usual library
 * directories, and last by its soname through the dynamic loader (which
 * honours LD_LIBRARY_PATH, how tests load the fake library).
 *
 * Each entry point is bound to the newest versioned symbol the library
 * has (nvmlInit_v2 before nvmlInit, nvmlDeviceGetPciInfo_v3 before _v2
 * before the v1 layout, ...). Entry points the library lacks answer
 * NVML_ERROR_FUNCTION_NOT_FOUND through NVML_CALL; only nvmlInit, nvmlShutdown,
 * nvmlErrorString, nvmlDeviceGetCount, nvmlDeviceGetHandleByIndex and
 * nvmlDeviceGetUUID are required to open it.
 *
 * This is the only module that names NVML symbols.
 */
#ifndef GDP_NVML_H
#define GDP_NVML_H

#include <stdbool.h>
#include <stddef.h>

#include "nvml/nvml_types.h"

struct nvml {
	void *handle;
	char path[4096];          /* the file that was loaded */
	/* One pointer per entry point; NULL when the library lacks it. */
/* NOLINTNEXTLINE(bugprone-macro-parentheses): a declarator, not an expression */
#define GDP_NVML_MEMBER(name, ret, args) ret (*name) args;
	GDP_NVML_FUNCTIONS(GDP_NVML_MEMBER)
#undef GDP_NVML_MEMBER
	/* Which symbol each entry point was bound to (for --version -v). */
	const char *bound_init;
	const char *bound_pci;
	/* Set while another thread may call into the library: it is then
	 * never unloaded (nvml_close frees only the table). */
	bool pinned;
};

/*
 * Calls entry point |fn| if the library has it, else answers
 * NVML_ERROR_FUNCTION_NOT_FOUND. Example:
 *	rc = NVML_CALL(nvml, nvmlDeviceGetMinorNumber, dev, &minor);
 */
#define NVML_CALL(nvml, fn, ...) \
	((nvml)->fn != NULL ? (nvml)->fn(__VA_ARGS__) : \
	    NVML_ERROR_FUNCTION_NOT_FOUND)

/*
 * Loads NVML. |driver_root_ctr| and |driver_root| may be NULL or empty.
 * Returns a new binding (free with nvml_close), or NULL with a message
 * in |err| that names every place looked at.
 */
struct nvml *nvml_open(const char *driver_root_ctr, const char *driver_root,
    char *err, size_t errlen);
/* Unloads the library (call nvmlShutdown first if initialised). */
void nvml_close(struct nvml *nvml);

/* "NVML_ERROR_GPU_IS_LOST" for 15; "NVML_ERROR_<n>" for unknown codes. */
const char *nvml_error_name(nvmlReturn_t rc);
/*
 * Writes "<name>: <nvmlErrorString text>" into |buf| (|nvml| may be NULL,
 * then only the name). Returns |buf|.
 */
const char *nvml_describe(const struct nvml *nvml, nvmlReturn_t rc,
    char *buf, size_t len);
/* What an operator should check for an error from nvmlInit. */
const char *nvml_init_hint(nvmlReturn_t rc);

/*
 * PCI information through the newest entry point available (the v1 layout
 * is converted). Returns an NVML code.
 */
nvmlReturn_t nvml_device_pci_info(const struct nvml *nvml, nvmlDevice_t dev,
    nvmlPciInfo_t *pci);

#endif /* GDP_NVML_H */
