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
nvmlDeviceGetMigMode(nvmlDevice_t dev, unsigned int *current,
    unsigned int *pending)
{
	nvmlReturn_t rc = fake_check_device(dev);

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
nvmlReturn_t
nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t dev, unsigned int *count)
{
	nvmlReturn_t rc = fake_check_device(dev);

	if (rc != NVML_SUCCESS)
		return rc;
	if (count == NULL)
		return NVML_ERROR_INVALID_ARGUMENT;
	*count = dev->mig == FAKE_MIG_ENABLED ? FAKE_MAX_MIG_DEVICES : 0;
	return NVML_SUCCESS;
}

nvmlReturn_t
nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t dev, unsigned int index,
    nvmlDevice_t *mig)
{
	unsigned int max;
	nvmlReturn_t rc = nvmlDeviceGetMaxMigDeviceCount(dev, &max);

	if (rc != NVML_SUCCESS)
		return rc;
	if (mig == NULL || index >= max)
		return NVML_ERROR_INVALID_ARGUMENT;
	return NVML_ERROR_NOT_FOUND;
}

nvmlReturn_t
nvmlDeviceIsMigDeviceHandle(nvmlDevice_t dev, unsigned int *is_mig)
{
	nvmlReturn_t rc = fake_check_device(dev);

	if (rc != NVML_SUCCESS)
		return rc;
	if (is_mig == NULL)
		return NVML_ERROR_INVALID_ARGUMENT;
	*is_mig = 0;
	return NVML_SUCCESS;
}

/* Only a MIG device has a parent; no handle of ours is one. */
nvmlReturn_t
nvmlDeviceGetDeviceHandleFromMigDeviceHandle(nvmlDevice_t mig,
    nvmlDevice_t *parent)
{
	nvmlReturn_t rc = fake_check_device(mig);

	if (rc != NVML_SUCCESS)
		return rc;
	return NVML_ERROR_INVALID_ARGUMENT;
}

nvmlReturn_t
nvmlDeviceGetGpuInstanceId(nvmlDevice_t dev, unsigned int *id)
{
	nvmlReturn_t rc = fake_check_device(dev);

	if (rc != NVML_SUCCESS)
		return rc;
	if (id == NULL)
		return NVML_ERROR_INVALID_ARGUMENT;
	return NVML_ERROR_NOT_SUPPORTED;
}

nvmlReturn_t
nvmlDeviceGetComputeInstanceId(nvmlDevice_t dev, unsigned int *id)
{
	return nvmlDeviceGetGpuInstanceId(dev, id);
}

nvmlReturn_t
nvmlDeviceGetAttributes_v2(nvmlDevice_t dev,
    nvmlDeviceAttributes_t *attributes)
{
	nvmlReturn_t rc = fake_check_device(dev);

	if (rc != NVML_SUCCESS)
		return rc;
	if (attributes == NULL)
		return NVML_ERROR_INVALID_ARGUMENT;
	return NVML_ERROR_NOT_SUPPORTED;
}
