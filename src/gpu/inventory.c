/*
 * inventory.c: discovery of the GPUs and their link graph (see
 * inventory.h).
 *
 * The link graph costs one NVLink walk per GPU (state, remote PCI info
 * and remote type of each active link) and one common-ancestor query per
 * pair, made here and never again until the next discovery. An NVSwitch
 * link is one whose remote NVML calls a switch; on a driver that cannot
 * say, one whose remote is no GPU of the node and does not carry the PCI
 * device id of any of them (a lost GPU of the same model is not taken
 * for a switch).
 */
#include "inventory.h"
#include "inventory_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/alloc.h"

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

int
inventory_note(char ***list, size_t *n, const char *text)
{
	char **grown = gdp_realloc(*list, (*n + 1) * sizeof(**list));

	if (grown == NULL)
		return -ENOMEM;
	*list = grown;
	grown[*n] = gdp_strdup(text);
	if (grown[*n] == NULL)
		return -ENOMEM;
	(*n)++;
	return 0;
}

/*
 * Notes an optional fact that NVML could not give. "Not supported" is
 * an answer, not a failure (a K80 has no MIG, a PCIe card no NVLink).
 */
static int
note_optional(const struct nvml *nvml, struct inventory *inv,
    const struct gpu *g, int rc, const struct nvml_error *e,
    const char *what)
{
	char line[512], d[320];

	if (rc == 0 || rc == -ENOTSUP)
		return 0;
	snprintf(line, sizeof(line), "GPU %u (%s): %s: %s unknown", g->index,
	    g->uuid, nvml_error_text(nvml, e, d, sizeof(d)), what);
	return inventory_note(&inv->warnings, &inv->n_warnings, line);
}

/* Notes, once per discovery, that NVML lacks what |what| needs. */
static int
note_missing(const struct nvml *nvml, struct inventory *inv, unsigned flag,
    const struct nvml_error *e, const char *what)
{
	char line[512], d[320];

	if (inv->noted & flag)
		return 0;
	inv->noted |= flag;
	snprintf(line, sizeof(line), "%s: %s", nvml_error_text(nvml, e, d,
	    sizeof(d)), what);
	return inventory_note(&inv->warnings, &inv->n_warnings, line);
}

/* The remote's type; UNKNOWN when NVML cannot say (noted once). */
static int
read_link_type(const struct nvml *nvml, nvmlDevice_t dev, unsigned link,
    struct gpu *g, struct inventory *inv)
{
	nvmlIntNvLinkDeviceType_t type = NVML_NVLINK_DEVICE_TYPE_UNKNOWN;
	struct nvml_error e;
	int rc = nvml_device_nvlink_remote_type(nvml, dev, link, &type, &e);

	g->link_type[g->n_links] = rc == 0 ? (uint8_t)type :
	    NVML_NVLINK_DEVICE_TYPE_UNKNOWN;
	if (rc < 0 && e.code == NVML_ERROR_FUNCTION_NOT_FOUND)
		return note_missing(nvml, inv, INVENTORY_NOTED_TYPE, &e,
		    "NVSwitch links told by their remote not being a GPU");
	if (rc < 0 && rc != -ENOTSUP)
		return note_missing(nvml, inv, INVENTORY_NOTED_TYPE_FAILED, &e,
		    "some NVLink remote types unknown");
	return 0;
}

static int
read_links(const struct nvml *nvml, nvmlDevice_t dev, struct gpu *g,
    struct inventory *inv)
{
	struct nvml_error e;

	for (unsigned link = 0; link < GPU_MAX_LINKS; link++) {
		struct nvml_pci remote = { "", 0 };
		bool active = false;
		int rc = nvml_device_nvlink_active(nvml, dev, link, &active,
		    &e);

		if (rc == -ENOTSUP && e.code == NVML_ERROR_FUNCTION_NOT_FOUND)
			return note_missing(nvml, inv, INVENTORY_NOTED_STATE, &e,
			    "NVLinks unknown");
		if (rc == -ENOTSUP || rc == -EINVAL)
			return 0; /* no NVLink, or past the last link */
		if (rc == 0 && !active)
			continue;
		if (rc == 0)
			rc = nvml_device_nvlink_remote(nvml, dev, link,
			    &remote, &e);
		if (rc < 0)
			return note_optional(nvml, inv, g, rc, &e,
			    "NVLink peers");
		if (read_link_type(nvml, dev, link, g, inv) < 0)
			return -ENOMEM;
		g->link_remote_id[g->n_links] = remote.device_id;
		memcpy(g->link_remote[g->n_links++], remote.bus_id,
		    sizeof(remote.bus_id));
	}
	return 0;
}

/* What one discovery reads besides NVML. */
struct discovery {
	const char *sysfs_root;
	struct mig_minors minors;
};

/* Fills the optional facts; failures leave them unknown, and noted. */
static int
describe_optional(const struct nvml *nvml, nvmlDevice_t dev, struct gpu *g,
    const struct discovery *dc, struct inventory *inv)
{
	struct nvml_error e;
	int rc;

	rc = nvml_device_memory(nvml, dev, &g->memory_bytes, &e);
	if (rc < 0 && note_optional(nvml, inv, g, rc, &e, "memory") < 0)
		return -ENOMEM;
	rc = nvml_device_compute_capability(nvml, dev, &g->cc_major,
	    &g->cc_minor, &e);
	if (rc < 0) {
		g->cc_major = g->cc_minor = -1;
		if (note_optional(nvml, inv, g, rc, &e,
		    "compute capability") < 0)
			return -ENOMEM;
	}
	rc = nvml_device_mig_mode(nvml, dev, &g->mig_enabled, &e);
	if (rc < 0 && note_optional(nvml, inv, g, rc, &e, "MIG mode") < 0)
		return -ENOMEM;
	g->mig_capable = rc == 0;
	if (g->mig_enabled &&
	    inventory_read_migs(nvml, dev, g, &dc->minors, inv) < 0)
		return -ENOMEM;
	g->numa_node = read_numa_node(dc->sysfs_root, g->sysfs_bdf);
	return read_links(nvml, dev, g, inv);
}

/* Fills the facts a GPU cannot be advertised without. */
static int
describe_required(const struct nvml *nvml, nvmlDevice_t dev, struct gpu *g,
    char *why, size_t len)
{
	struct nvml_error e = { NVML_SUCCESS, NULL };
	struct nvml_pci pci = { "", 0 };
	char d[320];
	int rc;

	rc = nvml_device_uuid(nvml, dev, g->uuid, sizeof(g->uuid), &e);
	if (rc == 0)
		rc = nvml_device_name(nvml, dev, g->name, sizeof(g->name), &e);
	if (rc == 0)
		rc = nvml_device_minor(nvml, dev, &g->minor, &e);
	if (rc == 0)
		rc = nvml_device_pci(nvml, dev, &pci, &e);
	if (rc < 0) {
		snprintf(why, len, "GPU %u%s%s%s: %s", g->index,
		    g->uuid[0] ? " (" : "", g->uuid, g->uuid[0] ? ")" : "",
		    nvml_error_text(nvml, &e, d, sizeof(d)));
		return rc;
	}
	memcpy(g->bus_id, pci.bus_id, sizeof(g->bus_id));
	g->pci_device_id = pci.device_id;
	if (gpu_sysfs_bdf(g->bus_id, g->sysfs_bdf, sizeof(g->sysfs_bdf))) {
		snprintf(why, len, "GPU %u (%s): unparsable PCI bus id \"%s\"",
		    g->index, g->uuid, g->bus_id);
		return -EINVAL;
	}
	return 0;
}

/* go-nvlib's default: display devices of DGX Stations are no GPUs to
 * advertise. */
static bool
is_display(const char *name)
{
	return strcmp(name, "DGX Display") == 0 ||
	    strcmp(name, "NVIDIA DGX Display") == 0;
}

static int
discover_one(const struct nvml *nvml, const struct discovery *dc,
    struct inventory *inv, unsigned index, nvmlDevice_t *devs)
{
	struct gpu *g = &inv->gpus[inv->n];
	struct nvml_error e;
	nvmlDevice_t dev;
	char why[512], d[320];

	memset(g, 0, sizeof(*g));
	g->index = index;
	if (nvml_device_by_index(nvml, index, &dev, &e) < 0) {
		snprintf(why, sizeof(why), "GPU %u: %s", index,
		    nvml_error_text(nvml, &e, d, sizeof(d)));
		return inventory_note(&inv->skipped, &inv->n_skipped, why);
	}
	if (describe_required(nvml, dev, g, why, sizeof(why)) < 0)
		return inventory_note(&inv->skipped, &inv->n_skipped, why);
	if (is_display(g->name)) {
		snprintf(why, sizeof(why), "GPU %u (%s): %s, a display device",
		    index, g->uuid, g->name);
		return inventory_note(&inv->skipped, &inv->n_skipped, why);
	}
	if (describe_optional(nvml, dev, g, dc, inv) < 0)
		return -ENOMEM;
	devs[inv->n++] = dev;
	return 0;
}

/* Whether link |l| of |g| ends at an NVSwitch (see the top comment). */
static bool
is_switch_link(const struct inventory *inv, const struct gpu *g, unsigned l)
{
	if (g->link_type[l] == NVML_NVLINK_DEVICE_TYPE_SWITCH)
		return true;
	if (g->link_type[l] != NVML_NVLINK_DEVICE_TYPE_UNKNOWN)
		return false;
	for (size_t i = 0; i < inv->n; i++)
		if (strcasecmp(inv->gpus[i].bus_id, g->link_remote[l]) == 0 ||
		    (g->link_remote_id[l] != 0 &&
		    g->link_remote_id[l] == inv->gpus[i].pci_device_id))
			return false;
	return true;
}

/* The PCIe level of |a| and |b|; GPU_PCIE_UNKNOWN when NVML cannot say. */
static int
read_ancestor(const struct nvml *nvml, struct inventory *inv,
    nvmlDevice_t a, nvmlDevice_t b, int *level)
{
	nvmlGpuTopologyLevel_t l = NVML_TOPOLOGY_SYSTEM;
	struct nvml_error e;
	int rc;

	*level = GPU_PCIE_UNKNOWN;
	if (inv->noted & INVENTORY_NOTED_ANCESTOR)
		return 0;
	rc = nvml_device_common_ancestor(nvml, a, b, &l, &e);
	if (rc == 0) {
		*level = (int)l;
		return 0;
	}
	if (e.code == NVML_ERROR_FUNCTION_NOT_FOUND)
		return note_missing(nvml, inv, INVENTORY_NOTED_ANCESTOR, &e,
		    "PCIe levels unknown, pairs scored by NVLink and NUMA node");
	return note_missing(nvml, inv, INVENTORY_NOTED_PAIR, &e,
	    "PCIe level of some GPU pairs unknown");
}

/* Fills |inv->pairs| from what each GPU's links say, and NVML's tree. */
static int
build_link_graph(const struct nvml *nvml, struct inventory *inv,
    const nvmlDevice_t *devs)
{
	if (inv->n == 0 || devs == NULL)
		return 0;
	inv->pairs = gdp_calloc(inv->n * inv->n, sizeof(*inv->pairs));
	if (inv->pairs == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < inv->n; i++) {
		struct gpu *g = &inv->gpus[i];

		for (unsigned l = 0; l < g->n_links; l++)
			g->n_switch_links += is_switch_link(inv, g, l);
	}
	for (size_t i = 0; i < inv->n; i++)
		for (size_t j = 0; j < inv->n; j++) {
			const struct gpu *a = &inv->gpus[i], *b = &inv->gpus[j];
			struct gpu_pair *p = &inv->pairs[i * inv->n + j];
			unsigned ab = inventory_links_between(a, b);
			unsigned ba = inventory_links_between(b, a);

			if (j < i) {
				*p = inv->pairs[j * inv->n + i];
				continue;
			}
			p->nvlinks = i == j ? 0 : ab < ba ? ab : ba;
			p->fabric = i == j ? 0 : a->n_switch_links <
			    b->n_switch_links ? a->n_switch_links :
			    b->n_switch_links;
			p->pcie = NVML_TOPOLOGY_INTERNAL;
			if (i != j && read_ancestor(nvml, inv, devs[i],
			    devs[j], &p->pcie) < 0)
				return -ENOMEM;
		}
	return 0;
}

/* Driver and CUDA versions; unknown when NVML cannot say (noted). */
static int
describe_system(const struct nvml *nvml, struct inventory *inv)
{
	struct nvml_error e;
	char line[512], d[320];

	if (nvml_driver_version(nvml, inv->driver_version,
	    sizeof(inv->driver_version), &e) < 0) {
		snprintf(inv->driver_version, sizeof(inv->driver_version),
		    "unknown");
		snprintf(line, sizeof(line), "%s: driver version unknown",
		    nvml_error_text(nvml, &e, d, sizeof(d)));
		if (inventory_note(&inv->warnings, &inv->n_warnings, line) < 0)
			return -ENOMEM;
	}
	if (nvml_cuda_version(nvml, &inv->cuda_version, &e) < 0) {
		inv->cuda_version = 0;
		snprintf(line, sizeof(line), "%s: CUDA version unknown",
		    nvml_error_text(nvml, &e, d, sizeof(d)));
		if (inventory_note(&inv->warnings, &inv->n_warnings, line) < 0)
			return -ENOMEM;
	}
	return 0;
}

int
inventory_discover(const struct nvml *nvml, const char *sysfs_root,
    struct inventory **out, char *err, size_t errlen)
{
	return inventory_discover_roots(nvml, sysfs_root, "/proc", out, err,
	    errlen);
}

int
inventory_discover_roots(const struct nvml *nvml, const char *sysfs_root,
    const char *proc_root, struct inventory **out, char *err, size_t errlen)
{
	struct discovery dc = { .sysfs_root = sysfs_root };
	struct inventory *inv = NULL;
	struct nvml_error e;
	nvmlDevice_t *devs = NULL;
	unsigned count = 0;
	char d[320];
	int rc;

	rc = nvml_device_count(nvml, &count, &e);
	if (rc < 0) {
		snprintf(err, errlen, "%s",
		    nvml_error_text(nvml, &e, d, sizeof(d)));
		return rc;
	}
	if (mig_minors_read(proc_root, &dc.minors) < 0)
		goto out_nomem;
	inv = gdp_calloc(1, sizeof(*inv));
	if (inv == NULL || (count > 0 &&
	    ((inv->gpus = gdp_calloc(count, sizeof(*inv->gpus))) == NULL ||
	    (devs = gdp_calloc(count, sizeof(*devs))) == NULL)) ||
	    describe_system(nvml, inv) < 0)
		goto out_nomem;
	for (unsigned i = 0; i < count; i++)
		if (discover_one(nvml, &dc, inv, i, devs) < 0)
			goto out_nomem;
	if (build_link_graph(nvml, inv, devs) < 0)
		goto out_nomem;
	gdp_free(devs);
	mig_minors_free(&dc.minors);
	*out = inv;
	return 0;
out_nomem:
	snprintf(err, errlen, "out of memory while discovering GPUs");
	gdp_free(devs);
	mig_minors_free(&dc.minors);
	inventory_free(inv);
	return -ENOMEM;
}

static void
free_list(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		gdp_free(list[i]);
	gdp_free(list);
}

void
inventory_free(struct inventory *inv)
{
	if (inv == NULL)
		return;
	free_list(inv->skipped, inv->n_skipped);
	free_list(inv->warnings, inv->n_warnings);
	gdp_free(inv->pairs);
	for (size_t i = 0; inv->gpus != NULL && i < inv->n; i++)
		gdp_free(inv->gpus[i].migs);
	gdp_free(inv->gpus);
	gdp_free(inv);
}

const struct gpu *
inventory_find(const struct inventory *inv, const char *uuid)
{
	for (size_t i = 0; i < inv->n; i++)
		if (strcmp(inv->gpus[i].uuid, uuid) == 0)
			return &inv->gpus[i];
	return NULL;
}

const char *
inventory_link_label(const struct inventory *inv, size_t i, size_t j,
    char *buf, size_t len)
{
	static const char *const by_level[] = { "BRD", "PIX", "PXB", "PHB",
		"NODE", "SYS" };
	const struct gpu_pair *p = inventory_pair(inv, i, j);
	unsigned links = p != NULL ? p->nvlinks + p->fabric : 0;
	int level = inventory_pcie_level(inv, i, j);

	if (i == j)
		snprintf(buf, len, "X");
	else if (links > 0)
		snprintf(buf, len, "NV%u", links);
	else if (level >= 0 && level <= NVML_TOPOLOGY_SYSTEM &&
	    level % 10 == 0)
		snprintf(buf, len, "%s", by_level[level / 10]);
	else
		snprintf(buf, len, "?");
	return buf;
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
