/*
 * errors.c: NVML return codes by name and by text.
 *
 * One table serves nvmlErrorString (which, like NVML's, works with the
 * library uninitialised) and the profile's init_error key, which names a
 * code the way NVML's header does ("NVML_ERROR_DRIVER_NOT_LOADED"). The
 * texts are our own short descriptions, in the spirit of NVML's.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "fakenvml.h"

struct fake_error {
	nvmlReturn_t code;
	const char *name;
	const char *text;
};

static const struct fake_error errors[] = {
	{ NVML_SUCCESS, "NVML_SUCCESS", "Success" },
	{ NVML_ERROR_UNINITIALIZED, "NVML_ERROR_UNINITIALIZED",
	    "Uninitialized" },
	{ NVML_ERROR_INVALID_ARGUMENT, "NVML_ERROR_INVALID_ARGUMENT",
	    "Invalid Argument" },
	{ NVML_ERROR_NOT_SUPPORTED, "NVML_ERROR_NOT_SUPPORTED",
	    "Not Supported" },
	{ NVML_ERROR_NO_PERMISSION, "NVML_ERROR_NO_PERMISSION",
	    "Insufficient Permissions" },
	{ NVML_ERROR_ALREADY_INITIALIZED, "NVML_ERROR_ALREADY_INITIALIZED",
	    "Already Initialized" },
	{ NVML_ERROR_NOT_FOUND, "NVML_ERROR_NOT_FOUND", "Not Found" },
	{ NVML_ERROR_INSUFFICIENT_SIZE, "NVML_ERROR_INSUFFICIENT_SIZE",
	    "Insufficient Size" },
	{ NVML_ERROR_INSUFFICIENT_POWER, "NVML_ERROR_INSUFFICIENT_POWER",
	    "Insufficient External Power" },
	{ NVML_ERROR_DRIVER_NOT_LOADED, "NVML_ERROR_DRIVER_NOT_LOADED",
	    "Driver Not Loaded" },
	{ NVML_ERROR_TIMEOUT, "NVML_ERROR_TIMEOUT", "Timeout" },
	{ NVML_ERROR_IRQ_ISSUE, "NVML_ERROR_IRQ_ISSUE",
	    "Interrupt request issue" },
	{ NVML_ERROR_LIBRARY_NOT_FOUND, "NVML_ERROR_LIBRARY_NOT_FOUND",
	    "NVML Shared Library Not Found" },
	{ NVML_ERROR_FUNCTION_NOT_FOUND, "NVML_ERROR_FUNCTION_NOT_FOUND",
	    "Function Not Found" },
	{ NVML_ERROR_CORRUPTED_INFOROM, "NVML_ERROR_CORRUPTED_INFOROM",
	    "Corrupted infoROM" },
	{ NVML_ERROR_GPU_IS_LOST, "NVML_ERROR_GPU_IS_LOST", "GPU is lost" },
	{ NVML_ERROR_RESET_REQUIRED, "NVML_ERROR_RESET_REQUIRED",
	    "GPU requires reset" },
	{ NVML_ERROR_OPERATING_SYSTEM, "NVML_ERROR_OPERATING_SYSTEM",
	    "GPU access blocked by the operating system" },
	{ NVML_ERROR_LIB_RM_VERSION_MISMATCH,
	    "NVML_ERROR_LIB_RM_VERSION_MISMATCH",
	    "Driver/library version mismatch" },
	{ NVML_ERROR_IN_USE, "NVML_ERROR_IN_USE", "In use by another client" },
	{ NVML_ERROR_MEMORY, "NVML_ERROR_MEMORY", "Insufficient Memory" },
	{ NVML_ERROR_NO_DATA, "NVML_ERROR_NO_DATA", "No data" },
	{ NVML_ERROR_VGPU_ECC_NOT_SUPPORTED,
	    "NVML_ERROR_VGPU_ECC_NOT_SUPPORTED",
	    "ECC is not supported with vGPU" },
	{ NVML_ERROR_INSUFFICIENT_RESOURCES,
	    "NVML_ERROR_INSUFFICIENT_RESOURCES", "Insufficient resources" },
	{ NVML_ERROR_FREQ_NOT_SUPPORTED, "NVML_ERROR_FREQ_NOT_SUPPORTED",
	    "Frequency not supported" },
	{ NVML_ERROR_ARGUMENT_VERSION_MISMATCH,
	    "NVML_ERROR_ARGUMENT_VERSION_MISMATCH",
	    "Argument version mismatch" },
	{ NVML_ERROR_DEPRECATED, "NVML_ERROR_DEPRECATED",
	    "Deprecated functionality" },
	{ NVML_ERROR_NOT_READY, "NVML_ERROR_NOT_READY",
	    "System not ready" },
	{ NVML_ERROR_GPU_NOT_FOUND, "NVML_ERROR_GPU_NOT_FOUND",
	    "GPU not found" },
	{ NVML_ERROR_INVALID_STATE, "NVML_ERROR_INVALID_STATE",
	    "Invalid state" },
	{ NVML_ERROR_UNKNOWN, "NVML_ERROR_UNKNOWN", "Unknown Error" },
};

#define ERROR_COUNT (sizeof(errors) / sizeof(errors[0]))

/* Counted, never failed: FAKE_NVML_FAIL refuses to name it, as the
 * string it returns has no room for an error. */
const char *
fake_nvmlErrorString(nvmlReturn_t result)
{
	size_t i;

	(void)fake_fault(FAKE_SYM_nvmlErrorString);

	for (i = 0; i < ERROR_COUNT; i++)
		if (errors[i].code == result)
			return errors[i].text;
	return "Unknown Error";
}

int
fake_error_by_name(const char *name, nvmlReturn_t *code)
{
	size_t i;

	for (i = 0; i < ERROR_COUNT; i++) {
		if (strcmp(errors[i].name, name) == 0) {
			*code = errors[i].code;
			return 0;
		}
	}
	return -ENOENT;
}
