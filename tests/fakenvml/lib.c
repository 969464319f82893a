/*
 * lib.c: the fake library's life cycle and its system-wide queries.
 *
 * Like NVML, init is reference-counted: every successful nvmlInit needs
 * its own nvmlShutdown, and only the first init of a cycle reads the
 * profile (FAKE_NVML_PROFILE), so a test can switch machines by shutting
 * down fully, changing the variable and initialising again. A missing
 * variable looks like a node without the driver (DRIVER_NOT_LOADED); a
 * broken profile is UNKNOWN, with the reason on stderr.
 *
 * The first init of a cycle also starts the control channel's thread
 * (control.c) when FAKE_NVML_CONTROL names a FIFO, and the last shutdown
 * stops and joins it before the machine is let go, so the thread never
 * sees a library that is not initialised.
 *
 * The first init of a cycle reads the fault specs (FAKE_NVML_FAIL,
 * faults.c) too, before it counts itself, so that a spec can fail that
 * very init; the last shutdown writes the call counts (FAKE_NVML_TRACE).
 * Every entry point starts with fake_enter*(), which counts the call and
 * answers an injected fault before anything else, outputs untouched.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakenvml.h"

struct fake_machine fake_machine;

/* Guards init and shutdown; queries only read init_count. */
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_uint init_count;

nvmlReturn_t
fake_check_init(void)
{
	if (atomic_load(&init_count) == 0)
		return NVML_ERROR_UNINITIALIZED;
	return NVML_SUCCESS;
}

nvmlReturn_t
fake_enter(enum fake_sym sym)
{
	nvmlReturn_t rc = fake_fault(sym);

	if (rc != NVML_SUCCESS)
		return rc;
	return fake_check_init();
}

nvmlReturn_t
fake_enter_device(enum fake_sym sym, nvmlDevice_t dev)
{
	nvmlReturn_t rc = fake_fault(sym);

	if (rc != NVML_SUCCESS)
		return rc;
	return fake_check_device(dev);
}

nvmlReturn_t
fake_check_device(nvmlDevice_t dev)
{
	uintptr_t first = (uintptr_t)&fake_machine.gpus[0];
	uintptr_t p = (uintptr_t)dev;

	if (fake_check_init() != NVML_SUCCESS)
		return NVML_ERROR_UNINITIALIZED;
	if (dev == NULL || p < first ||
	    (p - first) % sizeof(fake_machine.gpus[0]) != 0 ||
	    (p - first) / sizeof(fake_machine.gpus[0]) >=
	    fake_machine.gpu_count)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (atomic_load(&dev->lost))
		return NVML_ERROR_GPU_IS_LOST;
	return NVML_SUCCESS;
}

unsigned int
fake_device_index(nvmlDevice_t dev)
{
	return (unsigned int)(dev - fake_machine.gpus);
}

nvmlReturn_t
fake_copy_string(const char *s, char *buf, unsigned int length)
{
	size_t need = strlen(s) + 1;

	if (buf == NULL)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (length < need)
		return NVML_ERROR_INSUFFICIENT_SIZE;
	memcpy(buf, s, need);
	return NVML_SUCCESS;
}

void
fake_pci_format(const struct fake_pci *pci, char *buf, size_t size)
{
	snprintf(buf, size, "%08X:%02X:%02X.%X", pci->domain, pci->bus & 0xff,
	    pci->device & 0x1f, pci->function & 0x7);
}

void
fake_pci_info(const struct fake_pci *pci, unsigned int device_id,
    unsigned int subsystem_id, nvmlPciInfo_t *out)
{
	memset(out, 0, sizeof(*out));
	/* The legacy field keeps four domain digits, as NVML's does. */
	snprintf(out->busIdLegacy, sizeof(out->busIdLegacy),
	    "%04X:%02X:%02X.%X", pci->domain & 0xffff, pci->bus & 0xff,
	    pci->device & 0x1f, pci->function & 0x7);
	fake_pci_format(pci, out->busId, sizeof(out->busId));
	out->domain = pci->domain;
	out->bus = pci->bus;
	out->device = pci->device;
	out->pciDeviceId = device_id;
	out->pciSubSystemId = subsystem_id;
}

/* Reads the profile into fake_machine; an NVML code for nvmlInit. */
static nvmlReturn_t
load_machine(void)
{
	const char *path = getenv("FAKE_NVML_PROFILE");
	int err;

	memset(&fake_machine, 0, sizeof(fake_machine));
	if (path == NULL || path[0] == '\0') {
		fprintf(stderr, "fakenvml: FAKE_NVML_PROFILE is not set; "
		    "set it to a machine profile (tests/fakenvml/profiles/)\n");
		return NVML_ERROR_DRIVER_NOT_LOADED;
	}
	err = fake_profile_load(path, &fake_machine);
	if (err != 0) {
		memset(&fake_machine, 0, sizeof(fake_machine));
		return err == -EINVAL ? NVML_ERROR_UNKNOWN :
		    NVML_ERROR_DRIVER_NOT_LOADED;
	}
	if (fake_machine.init_error != NVML_SUCCESS) {
		nvmlReturn_t rc = fake_machine.init_error;

		memset(&fake_machine, 0, sizeof(fake_machine));
		return rc;
	}
	fake_mig_load();
	fake_control_reapply();
	return NVML_SUCCESS;
}

/* Reads FAKE_NVML_FAIL and checks FAKE_NVML_HIDE, for the first init of
 * a cycle. */
static nvmlReturn_t
load_faults(void)
{
	if (fake_faults_load() != 0 || fake_hide_check() != 0)
		return NVML_ERROR_UNKNOWN;
	return NVML_SUCCESS;
}

/* The rest of the first init of a cycle: the machine, the control
 * channel. */
static nvmlReturn_t
start_cycle(void)
{
	nvmlReturn_t rc = load_machine();

	if (rc == NVML_SUCCESS)
		rc = fake_control_start();
	if (rc != NVML_SUCCESS)
		memset(&fake_machine, 0, sizeof(fake_machine));
	return rc;
}

/* nvmlInit under either name. The faults are read before the call is
 * counted, so that FAKE_NVML_FAIL can fail this very call. */
static nvmlReturn_t
init(enum fake_sym sym)
{
	nvmlReturn_t rc, faults = NVML_SUCCESS;
	int first;

	pthread_mutex_lock(&init_lock);
	first = atomic_load(&init_count) == 0;
	if (first)
		faults = load_faults();
	rc = fake_fault(sym);
	if (rc == NVML_SUCCESS)
		rc = faults;
	if (rc == NVML_SUCCESS && first)
		rc = start_cycle();
	if (rc == NVML_SUCCESS)
		atomic_fetch_add(&init_count, 1);
	pthread_mutex_unlock(&init_lock);
	return rc;
}

nvmlReturn_t
fake_nvmlInit_v2(void)
{
	return init(FAKE_SYM_nvmlInit_v2);
}

nvmlReturn_t
fake_nvmlInit(void)
{
	return init(FAKE_SYM_nvmlInit);
}

nvmlReturn_t
fake_nvmlShutdown(void)
{
	nvmlReturn_t rc = fake_fault(FAKE_SYM_nvmlShutdown);

	if (rc != NVML_SUCCESS)
		return rc;
	pthread_mutex_lock(&init_lock);
	if (atomic_load(&init_count) == 0) {
		rc = NVML_ERROR_UNINITIALIZED;
	} else if (atomic_load(&init_count) == 1) {
		fake_control_stop();
		atomic_store(&init_count, 0);
		fake_events_reset();	/* and wakes waiters: UNINITIALIZED */
		fake_trace_write();
	} else {
		atomic_fetch_sub(&init_count, 1);
	}
	pthread_mutex_unlock(&init_lock);
	return rc;
}

nvmlReturn_t
fake_nvmlSystemGetDriverVersion(char *version, unsigned int length)
{
	nvmlReturn_t rc = fake_enter(FAKE_SYM_nvmlSystemGetDriverVersion);

	if (rc != NVML_SUCCESS)
		return rc;
	return fake_copy_string(fake_machine.driver_version, version, length);
}

static nvmlReturn_t
cuda_driver_version(enum fake_sym sym, int *version)
{
	nvmlReturn_t rc = fake_enter(sym);

	if (rc != NVML_SUCCESS)
		return rc;
	if (version == NULL)
		return NVML_ERROR_INVALID_ARGUMENT;
	*version = fake_machine.cuda_driver_version;
	return NVML_SUCCESS;
}

nvmlReturn_t
fake_nvmlSystemGetCudaDriverVersion_v2(int *version)
{
	return cuda_driver_version(FAKE_SYM_nvmlSystemGetCudaDriverVersion_v2,
	    version);
}

nvmlReturn_t
fake_nvmlSystemGetCudaDriverVersion(int *version)
{
	return cuda_driver_version(FAKE_SYM_nvmlSystemGetCudaDriverVersion,
	    version);
}
