/*
 * mig.c: MIG mode and the MIG enumeration entry points.
 *
 * A profile gives each GPU a MIG mode (enabled, disabled, or unsupported
 * for pre-Ampere parts) but no MIG devices yet, so the enumeration calls
 * that NVIDIA's plugin makes (go-nvlib) answer as a real driver does for
 * a GPU with no GPU instances: a MIG-enabled GPU reports 7 slots, each
 * empty (NOT_FOUND), and every handle is a full GPU, never a MIG device.
 * Attribute queries are NOT_SUPPORTED; NVIDIA's plugin only needs them
 * for MIG devices.
 */
#include "fakenvml.h"

/* MIG slots of the A100 and H100 (7 one-slice instances). */
#define FAKE_MAX_MIG_DEVICES 7

nvmlReturn_t
fake_nvmlDeviceGetMigMode(nvmlDevice_t dev, unsigned int *current,
    unsigned int *pending)
{
	nvmlReturn_t rc = fake_enter_device(FAKE_SYM_nvmlDeviceGetMigMode, dev);

	if (rc != NVML_SUCCESS)
		return rc;
	if (current == NULL || pending == NULL)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (dev->mig == FAKE_MIG_UNSUPPORTED)
		return NVML_ERROR_NOT_SUPPORTED;
	*current = dev->mig == FAKE_MIG_ENABLED ? NVML_DEVICE_MIG_ENABLE :
	    NVML_DEVICE_MIG_DISABLE;
	*pending = *current;
	return NVML_SUCCESS;
}

/* Like NVML: zero unless MIG is enabled. */
static unsigned int
max_mig_devices(nvmlDevice_t dev)
{
	return dev->mig == FAKE_MIG_ENABLED ? FAKE_MAX_MIG_DEVICES : 0;
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
	*count = max_mig_devices(dev);
	return NVML_SUCCESS;
}

nvmlReturn_t
fake_nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t dev,
    unsigned int index, nvmlDevice_t *mig)
{
	nvmlReturn_t rc = fake_enter_device(
	    FAKE_SYM_nvmlDeviceGetMigDeviceHandleByIndex, dev);

	if (rc != NVML_SUCCESS)
		return rc;
	if (mig == NULL || index >= max_mig_devices(dev))
		return NVML_ERROR_INVALID_ARGUMENT;
	return NVML_ERROR_NOT_FOUND;
}

nvmlReturn_t
fake_nvmlDeviceIsMigDeviceHandle(nvmlDevice_t dev,
    unsigned int *is_mig)
{
	nvmlReturn_t rc = fake_enter_device(
	    FAKE_SYM_nvmlDeviceIsMigDeviceHandle, dev);

	if (rc != NVML_SUCCESS)
		return rc;
	if (is_mig == NULL)
		return NVML_ERROR_INVALID_ARGUMENT;
	*is_mig = 0;
	return NVML_SUCCESS;
}

/* Only a MIG device has a parent; no handle of ours is one. */
nvmlReturn_t
fake_nvmlDeviceGetDeviceHandleFromMigDeviceHandle(nvmlDevice_t mig,
    nvmlDevice_t *parent)
{
	nvmlReturn_t rc = fake_enter_device(
	    FAKE_SYM_nvmlDeviceGetDeviceHandleFromMigDeviceHandle, mig);

	if (rc != NVML_SUCCESS)
		return rc;
	return NVML_ERROR_INVALID_ARGUMENT;
}

/* GPU and compute instance ids exist only for MIG devices. */
static nvmlReturn_t
instance_id(enum fake_sym sym, nvmlDevice_t dev, unsigned int *id)
{
	nvmlReturn_t rc = fake_enter_device(sym, dev);

	if (rc != NVML_SUCCESS)
		return rc;
	if (id == NULL)
		return NVML_ERROR_INVALID_ARGUMENT;
	return NVML_ERROR_NOT_SUPPORTED;
}

nvmlReturn_t
fake_nvmlDeviceGetGpuInstanceId(nvmlDevice_t dev, unsigned int *id)
{
	return instance_id(FAKE_SYM_nvmlDeviceGetGpuInstanceId, dev, id);
}

nvmlReturn_t
fake_nvmlDeviceGetComputeInstanceId(nvmlDevice_t dev, unsigned int *id)
{
	return instance_id(FAKE_SYM_nvmlDeviceGetComputeInstanceId, dev, id);
}

nvmlReturn_t
fake_nvmlDeviceGetAttributes_v2(nvmlDevice_t dev,
    nvmlDeviceAttributes_t *attributes)
{
	nvmlReturn_t rc = fake_enter_device(
	    FAKE_SYM_nvmlDeviceGetAttributes_v2, dev);

	if (rc != NVML_SUCCESS)
		return rc;
	if (attributes == NULL)
		return NVML_ERROR_INVALID_ARGUMENT;
	return NVML_ERROR_NOT_SUPPORTED;
}
