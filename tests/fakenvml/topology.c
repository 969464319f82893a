/*
 * topology.c: NVLinks and the PCIe common ancestor of two GPUs.
 *
 * A profile lists, per GPU, the PCI bus id at the far end of each active
 * link; links 0..n-1 are up and the rest, up to NVML_NVLINK_MAX_LINKS,
 * are down. A GPU with no links at all has no NVLink (NOT_SUPPORTED), as
 * on a PCIe-only card. The far end's type is GPU when the remote bus id
 * is a GPU of the profile and SWITCH when it is one of its nvswitches.
 *
 * The common ancestor comes from each GPU's pcie_path (its upstream
 * bridges, host bridge first): a longer shared prefix is a nearer
 * ancestor. A GPU without a path falls back to NUMA placement alone: the
 * same node means NODE, otherwise SYSTEM.
 */
#include <string.h>

#include "fakenvml.h"

/* Enters |sym| and checks |dev| and |link| for the NVLink queries. */
static nvmlReturn_t
check_link(enum fake_sym sym, nvmlDevice_t dev, unsigned int link)
{
	nvmlReturn_t rc = fake_enter_device(sym, dev);

	if (rc != NVML_SUCCESS)
		return rc;
	if (dev->nvlinks.count == 0)
		return NVML_ERROR_NOT_SUPPORTED;
	if (link >= NVML_NVLINK_MAX_LINKS)
		return NVML_ERROR_INVALID_ARGUMENT;
	return NVML_SUCCESS;
}

nvmlReturn_t
fake_nvmlDeviceGetNvLinkState(nvmlDevice_t dev, unsigned int link,
    nvmlEnableState_t *active)
{
	nvmlReturn_t rc = check_link(FAKE_SYM_nvmlDeviceGetNvLinkState, dev,
	    link);

	if (rc != NVML_SUCCESS)
		return rc;
	if (active == NULL)
		return NVML_ERROR_INVALID_ARGUMENT;
	*active = link < dev->nvlinks.count ? NVML_FEATURE_ENABLED :
	    NVML_FEATURE_DISABLED;
	return NVML_SUCCESS;
}

/* The PCI device id of the GPU or NVSwitch at |pci|; 0 if neither. */
static unsigned int
remote_device_id(const struct fake_pci *pci)
{
	const struct fake_machine *m = &fake_machine;
	unsigned int i;

	for (i = 0; i < m->gpu_count; i++)
		if (memcmp(&m->gpus[i].pci, pci, sizeof(*pci)) == 0)
			return m->gpus[i].pci_device_id;
	for (i = 0; i < m->nvswitch_count; i++)
		if (memcmp(&m->nvswitches[i].pci, pci, sizeof(*pci)) == 0)
			return m->nvswitches[i].pci_device_id;
	return 0;
}

/* The remote end of |link| as |sym| answers it. */
static nvmlReturn_t
remote_pci(enum fake_sym sym, nvmlDevice_t dev, unsigned int link,
    nvmlPciInfo_t *pci)
{
	nvmlReturn_t rc = check_link(sym, dev, link);
	const struct fake_pci *remote;

	if (rc != NVML_SUCCESS)
		return rc;
	if (pci == NULL || link >= dev->nvlinks.count)
		return NVML_ERROR_INVALID_ARGUMENT;
	remote = &dev->nvlinks.remote[link];
	fake_pci_info(remote, remote_device_id(remote), 0, pci);
	return NVML_SUCCESS;
}

nvmlReturn_t
fake_nvmlDeviceGetNvLinkRemotePciInfo_v2(nvmlDevice_t dev,
    unsigned int link, nvmlPciInfo_t *pci)
{
	return remote_pci(FAKE_SYM_nvmlDeviceGetNvLinkRemotePciInfo_v2, dev,
	    link, pci);
}

/*
 * The unversioned symbol is the old ABI: it fills the v1 layout (16-byte
 * busId, then reserved words), which is shorter than nvmlPciInfo_t, so
 * only sizeof(nvmlPciInfoV1_t) bytes of the caller's struct are written.
 */
nvmlReturn_t
fake_nvmlDeviceGetNvLinkRemotePciInfo(nvmlDevice_t dev,
    unsigned int link, nvmlPciInfo_t *pci)
{
	nvmlPciInfoV1_t v1;
	nvmlPciInfo_t info;
	nvmlReturn_t rc;

	rc = remote_pci(FAKE_SYM_nvmlDeviceGetNvLinkRemotePciInfo, dev, link,
	    pci ? &info : NULL);
	if (rc != NVML_SUCCESS)
		return rc;
	memset(&v1, 0, sizeof(v1));
	memcpy(v1.busId, info.busIdLegacy, sizeof(v1.busId));
	v1.domain = info.domain;
	v1.bus = info.bus;
	v1.device = info.device;
	v1.pciDeviceId = info.pciDeviceId;
	memcpy(pci, &v1, sizeof(v1));
	return NVML_SUCCESS;
}

nvmlReturn_t
fake_nvmlDeviceGetNvLinkRemoteDeviceType(nvmlDevice_t dev,
    unsigned int link, nvmlIntNvLinkDeviceType_t *type)
{
	const struct fake_machine *m = &fake_machine;
	nvmlReturn_t rc = check_link(
	    FAKE_SYM_nvmlDeviceGetNvLinkRemoteDeviceType, dev, link);
	const struct fake_pci *remote;
	unsigned int i;

	if (rc != NVML_SUCCESS)
		return rc;
	if (type == NULL || link >= dev->nvlinks.count)
		return NVML_ERROR_INVALID_ARGUMENT;
	remote = &dev->nvlinks.remote[link];
	*type = NVML_NVLINK_DEVICE_TYPE_UNKNOWN;
	for (i = 0; i < m->gpu_count; i++)
		if (memcmp(&m->gpus[i].pci, remote, sizeof(*remote)) == 0)
			*type = NVML_NVLINK_DEVICE_TYPE_GPU;
	for (i = 0; i < m->nvswitch_count; i++)
		if (memcmp(&m->nvswitches[i].pci, remote, sizeof(*remote)) == 0)
			*type = NVML_NVLINK_DEVICE_TYPE_SWITCH;
	return NVML_SUCCESS;
}

/* How many leading bridges the two paths share. */
static unsigned int
shared_hops(const struct fake_pcie_path *a, const struct fake_pcie_path *b)
{
	unsigned int k = 0;

	while (k < a->count && k < b->count &&
	    strcmp(a->hop[k], b->hop[k]) == 0)
		k++;
	return k;
}

/*
 * Two different GPUs: no shared bridge is NODE or SYSTEM by NUMA node; a
 * shared host bridge only, HOSTBRIDGE; a shared switch that is the parent
 * of both, SINGLE; a shared switch above their own ones, MULTIPLE.
 */
static nvmlGpuTopologyLevel_t
common_level(const struct nvmlDevice_st *a, const struct nvmlDevice_st *b)
{
	const struct fake_pcie_path *pa = &a->pcie_path, *pb = &b->pcie_path;
	unsigned int k = shared_hops(pa, pb);

	if (pa->count > 0 && pb->count > 0 && k >= 2)
		return k == pa->count && k == pb->count ?
		    NVML_TOPOLOGY_SINGLE : NVML_TOPOLOGY_MULTIPLE;
	if (pa->count > 0 && pb->count > 0 && k == 1)
		return NVML_TOPOLOGY_HOSTBRIDGE;
	if (a->numa_node >= 0 && a->numa_node == b->numa_node)
		return NVML_TOPOLOGY_NODE;
	return NVML_TOPOLOGY_SYSTEM;
}

nvmlReturn_t
fake_nvmlDeviceGetTopologyCommonAncestor(nvmlDevice_t dev1,
    nvmlDevice_t dev2, nvmlGpuTopologyLevel_t *level)
{
	nvmlReturn_t rc = fake_enter_device(
	    FAKE_SYM_nvmlDeviceGetTopologyCommonAncestor, dev1);

	if (rc == NVML_SUCCESS)
		rc = fake_check_device(dev2);
	if (rc != NVML_SUCCESS)
		return rc;
	if (level == NULL)
		return NVML_ERROR_INVALID_ARGUMENT;
	*level = dev1 == dev2 ? NVML_TOPOLOGY_INTERNAL :
	    common_level(dev1, dev2);
	return NVML_SUCCESS;
}
