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
	return NVML_SUCCESS;
}

nvmlReturn_t
nvmlInit_v2(void)
{
	nvmlReturn_t rc = NVML_SUCCESS;

	pthread_mutex_lock(&init_lock);
	if (atomic_load(&init_count) == 0) {
		rc = load_machine();
		if (rc == NVML_SUCCESS)
			rc = fake_control_start();
		if (rc != NVML_SUCCESS)
			memset(&fake_machine, 0, sizeof(fake_machine));
	}
	if (rc == NVML_SUCCESS)
		atomic_fetch_add(&init_count, 1);
	pthread_mutex_unlock(&init_lock);
	return rc;
}

nvmlReturn_t
nvmlInit(void)
{
	return nvmlInit_v2();
}

nvmlReturn_t
nvmlShutdown(void)
{
	nvmlReturn_t rc = NVML_SUCCESS;

	pthread_mutex_lock(&init_lock);
	if (atomic_load(&init_count) == 0) {
		rc = NVML_ERROR_UNINITIALIZED;
	} else if (atomic_load(&init_count) == 1) {
		fake_control_stop();
		atomic_store(&init_count, 0);
		fake_events_reset();	/* and wakes waiters: UNINITIALIZED */
	} else {
		atomic_fetch_sub(&init_count, 1);
	}
	pthread_mutex_unlock(&init_lock);
	return rc;
}

nvmlReturn_t
nvmlSystemGetDriverVersion(char *version, unsigned int length)
{
	if (fake_check_init() != NVML_SUCCESS)
		return NVML_ERROR_UNINITIALIZED;
	return fake_copy_string(fake_machine.driver_version, version, length);
}

nvmlReturn_t
nvmlSystemGetCudaDriverVersion_v2(int *version)
{
	if (fake_check_init() != NVML_SUCCESS)
		return NVML_ERROR_UNINITIALIZED;
	if (version == NULL)
		return NVML_ERROR_INVALID_ARGUMENT;
	*version = fake_machine.cuda_driver_version;
	return NVML_SUCCESS;
}

nvmlReturn_t
nvmlSystemGetCudaDriverVersion(int *version)
{
	return nvmlSystemGetCudaDriverVersion_v2(version);
}
