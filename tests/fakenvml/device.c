/*
 * device.c: device enumeration and the per-GPU queries discovery makes.
 *
 * Each query checks, in NVML's order, that the library is initialised,
 * that the handle is one of ours, that the GPU is not lost, and then its
 * output arguments. Lookups (by index, by UUID) hand out handles even for
 * a lost GPU, as a lost GPU is still listed; the queries on it fail.
 */
#include <string.h>

#include "fakenvml.h"

static nvmlReturn_t
get_count(enum fake_sym sym, unsigned int *count)
{
	nvmlReturn_t rc = fake_enter(sym);

	if (rc != NVML_SUCCESS)
		return rc;
	if (count == NULL)
		return NVML_ERROR_INVALID_ARGUMENT;
	*count = fake_machine.gpu_count;
	return NVML_SUCCESS;
}

nvmlReturn_t
fake_nvmlDeviceGetCount_v2(unsigned int *count)
{
	return get_count(FAKE_SYM_nvmlDeviceGetCount_v2, count);
}

nvmlReturn_t
fake_nvmlDeviceGetCount(unsigned int *count)
{
	return get_count(FAKE_SYM_nvmlDeviceGetCount, count);
}

static nvmlReturn_t
handle_by_index(enum fake_sym sym, unsigned int index, nvmlDevice_t *dev)
{
	nvmlReturn_t rc = fake_enter(sym);

	if (rc != NVML_SUCCESS)
		return rc;
	if (dev == NULL || index >= fake_machine.gpu_count)
		return NVML_ERROR_INVALID_ARGUMENT;
	*dev = &fake_machine.gpus[index];
	return NVML_SUCCESS;
}

nvmlReturn_t
fake_nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *dev)
{
	return handle_by_index(FAKE_SYM_nvmlDeviceGetHandleByIndex_v2, index,
	    dev);
}

nvmlReturn_t
fake_nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t *dev)
{
	return handle_by_index(FAKE_SYM_nvmlDeviceGetHandleByIndex, index,
	    dev);
}

nvmlDevice_t
fake_device_by_uuid(const char *uuid)
{
	unsigned int i;

	for (i = 0; i < fake_machine.gpu_count; i++)
		if (strcmp(fake_machine.gpus[i].uuid, uuid) == 0)
			return &fake_machine.gpus[i];
	return NULL;
}

nvmlReturn_t
fake_nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *dev)
{
	nvmlReturn_t rc = fake_enter(FAKE_SYM_nvmlDeviceGetHandleByUUID);
	nvmlDevice_t found;

	if (rc != NVML_SUCCESS)
		return rc;
	if (uuid == NULL || dev == NULL)
		return NVML_ERROR_INVALID_ARGUMENT;
	found = fake_device_by_uuid(uuid);
	if (found == NULL) {
		nvmlDevice_t gpu;
		unsigned int gi, ci;

		if (fake_mig_by_uuid(uuid, &found, &gpu, &gi, &ci) != 0)
			return NVML_ERROR_NOT_FOUND;
	}
	*dev = found;
	return NVML_SUCCESS;
}

nvmlReturn_t
fake_nvmlDeviceGetIndex(nvmlDevice_t dev, unsigned int *index)
{
	nvmlReturn_t rc = fake_enter_device(FAKE_SYM_nvmlDeviceGetIndex, dev);

	if (rc != NVML_SUCCESS)
		return rc;
	if (index == NULL)
		return NVML_ERROR_INVALID_ARGUMENT;
	*index = fake_device_index(dev);
	return NVML_SUCCESS;
}

nvmlReturn_t
fake_nvmlDeviceGetName(nvmlDevice_t dev, char *name, unsigned int length)
{
	nvmlReturn_t rc = fake_enter_any(FAKE_SYM_nvmlDeviceGetName, dev);

	if (rc != NVML_SUCCESS)
		return rc;
	if (fake_is_mig_handle(dev))
		return fake_mig_name(dev, name, length);
	return fake_copy_string(dev->name, name, length);
}

nvmlReturn_t
fake_nvmlDeviceGetUUID(nvmlDevice_t dev, char *uuid, unsigned int length)
{
	nvmlReturn_t rc = fake_enter_any(FAKE_SYM_nvmlDeviceGetUUID, dev);

	if (rc != NVML_SUCCESS)
		return rc;
	if (fake_is_mig_handle(dev))
		return fake_mig_uuid(dev, uuid, length);
	return fake_copy_string(dev->uuid, uuid, length);
}

nvmlReturn_t
fake_nvmlDeviceGetMinorNumber(nvmlDevice_t dev, unsigned int *minor)
{
	nvmlReturn_t rc = fake_enter_device(FAKE_SYM_nvmlDeviceGetMinorNumber,
	    dev);

	if (rc != NVML_SUCCESS)
		return rc;
	if (minor == NULL)
		return NVML_ERROR_INVALID_ARGUMENT;
	*minor = dev->minor;
	return NVML_SUCCESS;
}

static nvmlReturn_t
pci_info(enum fake_sym sym, nvmlDevice_t dev, nvmlPciInfo_t *pci)
{
	nvmlReturn_t rc = fake_enter_device(sym, dev);

	if (rc != NVML_SUCCESS)
		return rc;
	if (pci == NULL)
		return NVML_ERROR_INVALID_ARGUMENT;
	fake_pci_info(&dev->pci, dev->pci_device_id, dev->pci_subsystem_id,
	    pci);
	return NVML_SUCCESS;
}

nvmlReturn_t
fake_nvmlDeviceGetPciInfo_v3(nvmlDevice_t dev, nvmlPciInfo_t *pci)
{
	return pci_info(FAKE_SYM_nvmlDeviceGetPciInfo_v3, dev, pci);
}

nvmlReturn_t
fake_nvmlDeviceGetPciInfo_v2(nvmlDevice_t dev, nvmlPciInfo_t *pci)
{
	return pci_info(FAKE_SYM_nvmlDeviceGetPciInfo_v2, dev, pci);
}

/* The oldest ABI: a 16-byte busId holding the four-digit-domain form. */
nvmlReturn_t
fake_nvmlDeviceGetPciInfo(nvmlDevice_t dev, nvmlPciInfoV1_t *pci)
{
	nvmlReturn_t rc = fake_enter_device(FAKE_SYM_nvmlDeviceGetPciInfo, dev);
	nvmlPciInfo_t info;

	if (rc != NVML_SUCCESS)
		return rc;
	if (pci == NULL)
		return NVML_ERROR_INVALID_ARGUMENT;
	fake_pci_info(&dev->pci, dev->pci_device_id, dev->pci_subsystem_id,
	    &info);
	memset(pci, 0, sizeof(*pci));
	memcpy(pci->busId, info.busIdLegacy, sizeof(pci->busId));
	pci->domain = info.domain;
	pci->bus = info.bus;
	pci->device = info.device;
	pci->pciDeviceId = info.pciDeviceId;
	pci->pciSubSystemId = info.pciSubSystemId;
	return NVML_SUCCESS;
}

nvmlReturn_t
fake_nvmlDeviceGetMemoryInfo(nvmlDevice_t dev, nvmlMemory_t *memory)
{
	nvmlReturn_t rc = fake_enter_any(FAKE_SYM_nvmlDeviceGetMemoryInfo,
	    dev);

	if (rc != NVML_SUCCESS)
		return rc;
	if (memory == NULL)
		return NVML_ERROR_INVALID_ARGUMENT;
	memory->total = (fake_is_mig_handle(dev) ? fake_mig_memory_mib(dev) :
	    dev->memory_mib) * 1024 * 1024;
	memory->used = 0;
	memory->free = memory->total;
	return NVML_SUCCESS;
}

nvmlReturn_t
fake_nvmlDeviceGetCudaComputeCapability(nvmlDevice_t dev, int *major,
    int *minor)
{
	nvmlReturn_t rc = fake_enter_device(
	    FAKE_SYM_nvmlDeviceGetCudaComputeCapability, dev);

	if (rc != NVML_SUCCESS)
		return rc;
	if (major == NULL || minor == NULL)
		return NVML_ERROR_INVALID_ARGUMENT;
	*major = dev->cc.major;
	*minor = dev->cc.minor;
	return NVML_SUCCESS;
}
