/*
 * inventory.c: discovery of the GPUs (see inventory.h).
 */
#include "inventory.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int
gpu_sysfs_bdf(const char *bus_id, char *out, size_t len)
{
	unsigned domain, bus, dev, fn;
	char tail;

	if (sscanf(bus_id, "%x:%x:%x.%x%c", &domain, &bus, &dev, &fn,
	    &tail) != 4 || bus > 0xff || dev > 0x1f || fn > 7)
		return -EINVAL;
	snprintf(out, len, "%04x:%02x:%02x.%x", domain, bus, dev, fn);
	return 0;
}

/* The NUMA node from sysfs; -1 when absent, negative or unreadable. */
static int
read_numa_node(const char *sysfs_root, const char *bdf)
{
	char path[4096];
	FILE *f;
	int node;

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/numa_node",
	    sysfs_root, bdf);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	if (fscanf(f, "%d", &node) != 1 || node < 0)
		node = -1;
	fclose(f);
	return node;
}

static void
read_links(const struct nvml *nvml, nvmlDevice_t dev, struct gpu *g)
{
	for (unsigned link = 0; link < GPU_MAX_LINKS; link++) {
		nvmlEnableState_t active;
		nvmlPciInfo_t remote;

		if (NVML_CALL(nvml, nvmlDeviceGetNvLinkState, dev, link,
		    &active) != NVML_SUCCESS)
			break; /* NOT_SUPPORTED, or past the last link */
		if (active != NVML_FEATURE_ENABLED ||
		    NVML_CALL(nvml, nvmlDeviceGetNvLinkRemotePciInfo, dev,
		    link, &remote) != NVML_SUCCESS)
			continue;
		memcpy(g->link_remote[g->n_links++], remote.busId,
		    sizeof(remote.busId));
	}
}

/* Fills the optional facts; failures leave them unknown. */
static void
describe_optional(const struct nvml *nvml, nvmlDevice_t dev, struct gpu *g,
    const char *sysfs_root)
{
	nvmlMemory_t mem;
	unsigned cur, pending;

	if (NVML_CALL(nvml, nvmlDeviceGetMemoryInfo, dev, &mem) ==
	    NVML_SUCCESS)
		g->memory_bytes = mem.total;
	if (NVML_CALL(nvml, nvmlDeviceGetCudaComputeCapability, dev,
	    &g->cc_major, &g->cc_minor) != NVML_SUCCESS)
		g->cc_major = g->cc_minor = -1;
	if (NVML_CALL(nvml, nvmlDeviceGetMigMode, dev, &cur, &pending) ==
	    NVML_SUCCESS)
		g->mig_enabled = cur == NVML_DEVICE_MIG_ENABLE;
	g->numa_node = read_numa_node(sysfs_root, g->sysfs_bdf);
	read_links(nvml, dev, g);
}

/* Fills the facts a GPU cannot be advertised without. */
static int
describe_required(const struct nvml *nvml, nvmlDevice_t dev, struct gpu *g,
    char *why, size_t len)
{
	char d[256];
	nvmlPciInfo_t pci;
	nvmlReturn_t rc;
	const char *what;

	if ((rc = nvml->nvmlDeviceGetUUID(dev, g->uuid, sizeof(g->uuid))))
		what = "nvmlDeviceGetUUID";
	else if ((rc = NVML_CALL(nvml, nvmlDeviceGetName, dev, g->name,
	    sizeof(g->name))))
		what = "nvmlDeviceGetName";
	else if ((rc = NVML_CALL(nvml, nvmlDeviceGetMinorNumber, dev,
	    &g->minor)))
		what = "nvmlDeviceGetMinorNumber";
	else if ((rc = nvml_device_pci_info(nvml, dev, &pci)))
		what = "nvmlDeviceGetPciInfo";
	else
		what = NULL;
	if (what != NULL) {
		snprintf(why, len, "GPU %u: %s: %s", g->index, what,
		    nvml_describe(nvml, rc, d, sizeof(d)));
		return -EIO;
	}
	memcpy(g->bus_id, pci.busId, sizeof(g->bus_id));
	g->bus_id[sizeof(g->bus_id) - 1] = '\0';
	if (gpu_sysfs_bdf(g->bus_id, g->sysfs_bdf, sizeof(g->sysfs_bdf))) {
		snprintf(why, len, "GPU %u (%s): unparsable PCI bus id \"%s\"",
		    g->index, g->uuid, g->bus_id);
		return -EINVAL;
	}
	return 0;
}

static int
note_skipped(struct inventory *inv, const char *why)
{
	char **list = realloc(inv->skipped,
	    (inv->n_skipped + 1) * sizeof(*list));

	if (list == NULL)
		return -ENOMEM;
	inv->skipped = list;
	list[inv->n_skipped] = strdup(why);
	if (list[inv->n_skipped] == NULL)
		return -ENOMEM;
	inv->n_skipped++;
	return 0;
}

static int
discover_one(const struct nvml *nvml, const char *sysfs_root,
    struct inventory *inv, unsigned index)
{
	struct gpu *g = &inv->gpus[inv->n];
	nvmlDevice_t dev;
	nvmlReturn_t rc;
	char why[512], d[256];

	memset(g, 0, sizeof(*g));
	g->index = index;
	rc = nvml->nvmlDeviceGetHandleByIndex(index, &dev);
	if (rc != NVML_SUCCESS) {
		snprintf(why, sizeof(why), "GPU %u: "
		    "nvmlDeviceGetHandleByIndex: %s", index,
		    nvml_describe(nvml, rc, d, sizeof(d)));
		return note_skipped(inv, why);
	}
	if (describe_required(nvml, dev, g, why, sizeof(why)) < 0)
		return note_skipped(inv, why);
	describe_optional(nvml, dev, g, sysfs_root);
	inv->n++;
	return 0;
}

int
inventory_discover(const struct nvml *nvml, const char *sysfs_root,
    struct inventory **out, char *err, size_t errlen)
{
	struct inventory *inv;
	unsigned count = 0;
	nvmlReturn_t rc;
	char d[256];
	int ret = -ENOMEM;

	rc = nvml->nvmlDeviceGetCount(&count);
	if (rc != NVML_SUCCESS) {
		snprintf(err, errlen, "nvmlDeviceGetCount: %s",
		    nvml_describe(nvml, rc, d, sizeof(d)));
		return -EIO;
	}
	inv = calloc(1, sizeof(*inv));
	if (inv == NULL || (count > 0 &&
	    (inv->gpus = calloc(count, sizeof(*inv->gpus))) == NULL))
		goto fail;
	if (NVML_CALL(nvml, nvmlSystemGetDriverVersion, inv->driver_version,
	    sizeof(inv->driver_version)) != NVML_SUCCESS)
		snprintf(inv->driver_version, sizeof(inv->driver_version),
		    "unknown");
	if (NVML_CALL(nvml, nvmlSystemGetCudaDriverVersion,
	    &inv->cuda_version) != NVML_SUCCESS)
		inv->cuda_version = 0;
	for (unsigned i = 0; i < count; i++)
		if ((ret = discover_one(nvml, sysfs_root, inv, i)) < 0)
			goto fail;
	*out = inv;
	return 0;
fail:
	snprintf(err, errlen, "out of memory while discovering GPUs");
	inventory_free(inv);
	return ret;
}

void
inventory_free(struct inventory *inv)
{
	if (inv == NULL)
		return;
	for (size_t i = 0; i < inv->n_skipped; i++)
		free(inv->skipped[i]);
	free(inv->skipped);
	free(inv->gpus);
	free(inv);
}

const struct gpu *
inventory_find(const struct inventory *inv, const char *uuid)
{
	for (size_t i = 0; i < inv->n; i++)
		if (strcmp(inv->gpus[i].uuid, uuid) == 0)
			return &inv->gpus[i];
	return NULL;
}

unsigned
inventory_links_between(const struct gpu *a, const struct gpu *b)
{
	unsigned n = 0;

	for (unsigned i = 0; i < a->n_links; i++)
		if (strcasecmp(a->link_remote[i], b->bus_id) == 0)
			n++;
	return n;
}
