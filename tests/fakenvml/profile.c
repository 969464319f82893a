/*
 * profile.c: loads a machine profile (YAML) into a struct fake_machine.
 *
 * The schema is in README.md. Each mapping is described by a table of
 * {key, parser, offset, required}, and one walker applies a table to a
 * mapping node: unknown keys, repeated keys, missing required keys and
 * bad values are all errors, reported on stderr as
 * "fakenvml: FILE:LINE: KEY: reason", with KEY a path like
 * "gpus[2].memory_mib". A test double should be strict: a typo in a
 * profile must fail loudly, not quietly describe a different machine.
 *
 * libyaml's document loader builds the node tree (anchors and aliases
 * resolved); it tags every scalar as a string, so the parsers below read
 * numbers and booleans from the text themselves.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "fakenvml.h"

#define KEY_PATH_SIZE 96
/* Bytes per MiB; memory_mib is capped so the byte count cannot overflow. */
#define MAX_MEMORY_MIB (1ULL << 40)
#define MAX_NUMA_NODE 1023

struct pctx {
	const char *path;
	yaml_document_t doc;
	char where[KEY_PATH_SIZE];	/* "" or "gpus[2]": prefix of keys */
};

typedef int (*field_parser)(struct pctx *c, yaml_node_t *node,
    const char *key, void *dst);

struct field {
	const char *key;
	field_parser parse;
	size_t offset;
	int required;
};

static int perr(const struct pctx *c, const yaml_node_t *node,
    const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Prints "fakenvml: FILE:LINE: [WHERE.]KEY: reason" and returns -EINVAL. */
static int
perr(const struct pctx *c, const yaml_node_t *node, const char *key,
    const char *fmt, ...)
{
	char reason[256], label[KEY_PATH_SIZE + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	snprintf(label, sizeof(label), "%s%s%s", c->where,
	    c->where[0] != '\0' && key[0] != '\0' ? "." : "", key);
	fprintf(stderr, "fakenvml: %s:%zu: %s%s%s\n", c->path,
	    node->start_mark.line + 1, label, label[0] != '\0' ? ": " : "",
	    reason);
	return -EINVAL;
}

/* The text of a scalar node, or NULL (after an error) for any other. */
static const char *
scalar(struct pctx *c, yaml_node_t *node, const char *key)
{
	if (node->type != YAML_SCALAR_NODE) {
		perr(c, node, key, "expected a single value");
		return NULL;
	}
	return (const char *)node->data.scalar.value;
}

/* Reads an unsigned number (decimal, or hex with 0x) up to |max|. */
static int
read_unsigned(struct pctx *c, yaml_node_t *node, const char *key,
    unsigned long long max, unsigned long long *out)
{
	const char *s = scalar(c, node, key);
	char *end;

	if (s == NULL)
		return -EINVAL;
	if (!isdigit((unsigned char)s[0]))
		return perr(c, node, key, "'%s' is not a number", s);
	errno = 0;
	*out = strtoull(s, &end, strncmp(s, "0x", 2) == 0 ? 16 : 10);
	if (*end != '\0')
		return perr(c, node, key, "'%s' is not a number", s);
	if (errno == ERANGE || *out > max)
		return perr(c, node, key, "%s is larger than %llu", s, max);
	return 0;
}

/* Reads "major.minor", each 0..99. */
static int
read_version(struct pctx *c, yaml_node_t *node, const char *key,
    int *major, int *minor)
{
	const char *s = scalar(c, node, key);
	const char *dot;
	int n = 0;

	if (s == NULL)
		return -EINVAL;
	dot = strchr(s, '.');
	if (!isdigit((unsigned char)s[0]) || dot == NULL ||
	    !isdigit((unsigned char)dot[1]) ||
	    sscanf(s, "%2d.%2d%n", major, minor, &n) != 2 || s[n] != '\0')
		return perr(c, node, key, "'%s' is not MAJOR.MINOR", s);
	return 0;
}

static int
parse_u32(struct pctx *c, yaml_node_t *node, const char *key, void *dst)
{
	unsigned long long v = 0;
	int err;

	err = read_unsigned(c, node, key, UINT_MAX, &v);
	if (err == 0)
		*(unsigned int *)dst = (unsigned int)v;
	return err;
}

static int
parse_memory(struct pctx *c, yaml_node_t *node, const char *key, void *dst)
{
	unsigned long long v = 0;
	int err;

	err = read_unsigned(c, node, key, MAX_MEMORY_MIB, &v);
	if (err == 0 && v == 0)
		err = perr(c, node, key, "must be more than 0");
	if (err == 0)
		*(unsigned long long *)dst = v;
	return err;
}

/* A NUMA node, or -1 for none (what sysfs shows without affinity). */
static int
parse_numa(struct pctx *c, yaml_node_t *node, const char *key, void *dst)
{
	const char *s = scalar(c, node, key);
	unsigned long long v = 0;

	if (s == NULL)
		return -EINVAL;
	if (strcmp(s, "-1") == 0) {
		*(int *)dst = -1;
		return 0;
	}
	if (read_unsigned(c, node, key, MAX_NUMA_NODE, &v) != 0)
		return -EINVAL;
	*(int *)dst = (int)v;
	return 0;
}

/* A string that fits its field: |size| bytes with the NUL. */
static int
parse_text(struct pctx *c, yaml_node_t *node, const char *key, char *dst,
    size_t size)
{
	const char *s = scalar(c, node, key);
	size_t len;

	if (s == NULL)
		return -EINVAL;
	len = strlen(s);
	if (len == 0)
		return perr(c, node, key, "must not be empty");
	if (len >= size)
		return perr(c, node, key, "longer than %zu characters",
		    size - 1);
	memcpy(dst, s, len + 1);
	return 0;
}

static int
parse_name(struct pctx *c, yaml_node_t *node, const char *key, void *dst)
{
	return parse_text(c, node, key, dst, FAKE_NAME_SIZE);
}

static int
parse_driver(struct pctx *c, yaml_node_t *node, const char *key, void *dst)
{
	return parse_text(c, node, key, dst, FAKE_DRIVER_SIZE);
}

/* Whether |s| has the shape |shape|, where 'x' stands for a hex digit. */
static int
matches_shape(const char *s, const char *shape)
{
	for (; *shape != '\0'; s++, shape++) {
		if (*shape == 'x' ? !isxdigit((unsigned char)*s) : *s != *shape)
			return 0;
	}
	return *s == '\0';
}

/* "GPU-" and 8-4-4-4-12 hex digits, as nvidia-smi -L shows them. */
static int
parse_uuid(struct pctx *c, yaml_node_t *node, const char *key, void *dst)
{
	static const char shape[] = "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
	const char *s = scalar(c, node, key);

	if (s == NULL)
		return -EINVAL;
	if (!matches_shape(s, shape))
		return perr(c, node, key, "'%s' is not %s", s, shape);
	memcpy(dst, s, sizeof(shape));
	return 0;
}

int
fake_pci_parse(const char *s, struct fake_pci *pci)
{
	if (!matches_shape(s, "xxxxxxxx:xx:xx.x"))
		return -EINVAL;
	if (sscanf(s, "%8x:%2x:%2x.%1x", &pci->domain, &pci->bus,
	    &pci->device, &pci->function) != 4)
		return -EINVAL;
	if (pci->device > 0x1f || pci->function > 7)
		return -EINVAL;
	return 0;
}

static int
parse_pci(struct pctx *c, yaml_node_t *node, const char *key, void *dst)
{
	const char *s = scalar(c, node, key);

	if (s == NULL)
		return -EINVAL;
	if (fake_pci_parse(s, dst) != 0)
		return perr(c, node, key,
		    "'%s' is not a PCI bus id like 00000000:3B:00.0", s);
	return 0;
}

static int
parse_cc(struct pctx *c, yaml_node_t *node, const char *key, void *dst)
{
	struct fake_cc *cc = dst;

	return read_version(c, node, key, &cc->major, &cc->minor);
}

/* "12.2" becomes 12020, the integer NVML reports. */
static int
parse_cuda(struct pctx *c, yaml_node_t *node, const char *key, void *dst)
{
	int major = 0, minor = 0;

	if (read_version(c, node, key, &major, &minor) != 0)
		return -EINVAL;
	*(int *)dst = major * 1000 + minor * 10;
	return 0;
}

static int
parse_mig(struct pctx *c, yaml_node_t *node, const char *key, void *dst)
{
	const char *s = scalar(c, node, key);

	if (s == NULL)
		return -EINVAL;
	if (strcmp(s, "enabled") == 0)
		*(enum fake_mig *)dst = FAKE_MIG_ENABLED;
	else if (strcmp(s, "disabled") == 0)
		*(enum fake_mig *)dst = FAKE_MIG_DISABLED;
	else if (strcmp(s, "unsupported") == 0)
		*(enum fake_mig *)dst = FAKE_MIG_UNSUPPORTED;
	else
		return perr(c, node, key,
		    "'%s' is not enabled, disabled or unsupported", s);
	return 0;
}

static int
parse_lost(struct pctx *c, yaml_node_t *node, const char *key, void *dst)
{
	const char *s = scalar(c, node, key);

	if (s == NULL)
		return -EINVAL;
	if (strcmp(s, "true") != 0 && strcmp(s, "false") != 0)
		return perr(c, node, key, "'%s' is not true or false", s);
	atomic_store((atomic_bool *)dst, strcmp(s, "true") == 0);
	return 0;
}

static int
parse_init_error(struct pctx *c, yaml_node_t *node, const char *key,
    void *dst)
{
	const char *s = scalar(c, node, key);
	nvmlReturn_t code;

	if (s == NULL)
		return -EINVAL;
	if (fake_error_by_name(s, &code) != 0 || code == NVML_SUCCESS)
		return perr(c, node, key,
		    "'%s' is not an NVML error name like NVML_ERROR_%s", s,
		    "DRIVER_NOT_LOADED");
	*(nvmlReturn_t *)dst = code;
	return 0;
}

static int
parse_event_wait(struct pctx *c, yaml_node_t *node, const char *key,
    void *dst)
{
	const char *s = scalar(c, node, key);

	if (s == NULL)
		return -EINVAL;
	if (strcmp(s, "block") == 0)
		*(enum fake_event_wait *)dst = FAKE_WAIT_BLOCK;
	else if (strcmp(s, "immediate-timeout") == 0)
		*(enum fake_event_wait *)dst = FAKE_WAIT_TIMEOUT;
	else if (strcmp(s, "immediate-empty") == 0)
		*(enum fake_event_wait *)dst = FAKE_WAIT_EMPTY;
	else
		return perr(c, node, key, "'%s' is not block, "
		    "immediate-timeout or immediate-empty", s);
	return 0;
}

/* A mask of event types, within those the fake can deliver. */
static int
parse_event_types(struct pctx *c, yaml_node_t *node, const char *key,
    void *dst)
{
	unsigned long long v = 0;

	if (read_unsigned(c, node, key, ULLONG_MAX, &v) != 0)
		return -EINVAL;
	if (v & ~FAKE_SUPPORTED_EVENTS)
		return perr(c, node, key, "0x%llX is not within 0x%llX (XID, "
		    "single- and double-bit ECC)", v, FAKE_SUPPORTED_EVENTS);
	*(unsigned long long *)dst = v;
	return 0;
}

/* A sequence node with at most |max| items, or an error. */
static int
check_sequence(struct pctx *c, yaml_node_t *node, const char *key,
    size_t max, size_t *count)
{
	if (node->type != YAML_SEQUENCE_NODE)
		return perr(c, node, key, "expected a list");
	*count = (size_t)(node->data.sequence.items.top -
	    node->data.sequence.items.start);
	if (*count > max)
		return perr(c, node, key, "more than %zu entries", max);
	return 0;
}

/* The |i|th item of a sequence node. */
static yaml_node_t *
item(struct pctx *c, yaml_node_t *seq, size_t i)
{
	return yaml_document_get_node(&c->doc,
	    seq->data.sequence.items.start[i]);
}

static int
parse_nvlinks(struct pctx *c, yaml_node_t *node, const char *key, void *dst)
{
	struct fake_links *links = dst;
	char name[32];
	size_t i, n = 0;

	if (check_sequence(c, node, key, NVML_NVLINK_MAX_LINKS, &n) != 0)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s[%zu]", key, i);
		if (parse_pci(c, item(c, node, i), name,
		    &links->remote[i]) != 0)
			return -EINVAL;
	}
	links->count = (unsigned int)n;
	return 0;
}

/* The upstream bridges of a GPU, root first: [hostbridge, switch, ...]. */
static int
parse_pcie_path(struct pctx *c, yaml_node_t *node, const char *key,
    void *dst)
{
	struct fake_pcie_path *path = dst;
	char name[32];
	size_t i, n = 0;

	if (check_sequence(c, node, key, FAKE_MAX_PCIE_HOPS, &n) != 0)
		return -EINVAL;
	if (n == 0)
		return perr(c, node, key, "must name the host bridge");
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s[%zu]", key, i);
		if (parse_text(c, item(c, node, i), name, path->hop[i],
		    FAKE_PCIE_NAME_SIZE) != 0)
			return -EINVAL;
	}
	path->count = (unsigned int)n;
	return 0;
}

static int
parse_xids(struct pctx *c, yaml_node_t *node, const char *key, void *dst)
{
	struct fake_xids *xids = dst;
	char name[32];
	size_t i, n = 0;

	if (check_sequence(c, node, key, FAKE_MAX_PENDING_XIDS, &n) != 0)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s[%zu]", key, i);
		if (read_unsigned(c, item(c, node, i), name, UINT_MAX,
		    &xids->xid[i]) != 0)
			return -EINVAL;
	}
	xids->count = (unsigned int)n;
	return 0;
}

/* "MIG-" and 8-4-4-4-12 hex digits, as nvidia-smi -L shows them. */
static int
parse_mig_uuid(struct pctx *c, yaml_node_t *node, const char *key,
    void *dst)
{
	static const char shape[] = "MIG-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
	const char *s = scalar(c, node, key);

	if (s == NULL)
		return -EINVAL;
	if (!matches_shape(s, shape))
		return perr(c, node, key, "'%s' is not %s", s, shape);
	memcpy(dst, s, sizeof(shape));
	return 0;
}

static int
parse_mig_profile(struct pctx *c, yaml_node_t *node, const char *key,
    void *dst)
{
	return parse_text(c, node, key, dst, FAKE_MIG_PROFILE_SIZE);
}

/* A GPU instance's first slice, 0..6; |dst| is the whole spec. */
static int
parse_placement(struct pctx *c, yaml_node_t *node, const char *key,
    void *dst)
{
	struct fake_mig_spec *spec = dst;
	unsigned long long v = 0;

	if (read_unsigned(c, node, key, FAKE_MAX_MIGS - 1, &v) != 0)
		return -EINVAL;
	spec->placement = (unsigned int)v;
	spec->has_placement = true;
	return 0;
}

#define MIG(f) offsetof(struct fake_mig_spec, f)
static const struct field mig_fields[] = {
	{ "profile", parse_mig_profile, MIG(profile), 1 },
	{ "gi", parse_u32, MIG(gi), 1 },
	{ "ci", parse_u32, MIG(ci), 1 },
	{ "uuid", parse_mig_uuid, MIG(uuid), 1 },
	{ "placement", parse_placement, 0, 0 },
	{ NULL, NULL, 0, 0 },
};
#undef MIG

static int parse_list(struct pctx *c, yaml_node_t *node, const char *key,
    size_t max, const struct field *fields, void *objs, size_t size,
    unsigned int *count);

/* A GPU's MIG devices, in handle-index order; mig.c checks the rest. */
static int
parse_mig_devices(struct pctx *c, yaml_node_t *node, const char *key,
    void *dst)
{
	struct fake_mig_layout *lay = dst;
	char where[KEY_PATH_SIZE], name[KEY_PATH_SIZE];
	int err;

	/* parse_list names items by c->where; keep the GPU's prefix. */
	memcpy(where, c->where, sizeof(where));
	if ((size_t)snprintf(name, sizeof(name), "%.40s.%.40s", where, key) >=
	    sizeof(name))
		return -EINVAL;
	c->where[0] = '\0';
	err = parse_list(c, node, name, FAKE_MAX_MIGS, mig_fields, lay->dev,
	    sizeof(lay->dev[0]), &lay->count);
	memcpy(c->where, where, sizeof(where));
	return err;
}

#define GPU(f) offsetof(struct nvmlDevice_st, f)
static const struct field gpu_fields[] = {
	{ "name", parse_name, GPU(name), 1 },
	{ "uuid", parse_uuid, GPU(uuid), 1 },
	{ "memory_mib", parse_memory, GPU(memory_mib), 1 },
	{ "pci_bus_id", parse_pci, GPU(pci), 1 },
	{ "pci_device_id", parse_u32, GPU(pci_device_id), 0 },
	{ "pci_subsystem_id", parse_u32, GPU(pci_subsystem_id), 0 },
	{ "minor_number", parse_u32, GPU(minor), 1 },
	{ "numa_node", parse_numa, GPU(numa_node), 0 },
	{ "compute_capability", parse_cc, GPU(cc), 1 },
	{ "mig_mode", parse_mig, GPU(mig), 0 },
	{ "nvlinks", parse_nvlinks, GPU(nvlinks), 0 },
	{ "pcie_path", parse_pcie_path, GPU(pcie_path), 0 },
	{ "pending_xids", parse_xids, GPU(pending_xids), 0 },
	{ "lost", parse_lost, GPU(lost), 0 },
	{ "mig_devices", parse_mig_devices, GPU(mig_layout), 0 },
	{ NULL, NULL, 0, 0 },
};
#undef GPU

#define NVSWITCH(f) offsetof(struct fake_nvswitch, f)
static const struct field nvswitch_fields[] = {
	{ "pci_bus_id", parse_pci, NVSWITCH(pci), 1 },
	{ "pci_device_id", parse_u32, NVSWITCH(pci_device_id), 0 },
	{ NULL, NULL, 0, 0 },
};
#undef NVSWITCH

static int parse_gpus(struct pctx *c, yaml_node_t *node, const char *key,
    void *dst);
static int parse_nvswitches(struct pctx *c, yaml_node_t *node,
    const char *key, void *dst);

#define MACHINE(f) offsetof(struct fake_machine, f)
static const struct field machine_fields[] = {
	{ "driver_version", parse_driver, MACHINE(driver_version), 1 },
	{ "cuda_driver_version", parse_cuda, MACHINE(cuda_driver_version), 1 },
	{ "init_error", parse_init_error, MACHINE(init_error), 0 },
	{ "event_wait", parse_event_wait, MACHINE(event_wait), 0 },
	{ "supported_event_types", parse_event_types,
	    MACHINE(supported_events), 0 },
	{ "gpus", parse_gpus, 0, 0 },
	{ "nvswitches", parse_nvswitches, 0, 0 },
	{ NULL, NULL, 0, 0 },
};
#undef MACHINE

/* The table entry for |key|, or NULL. */
static const struct field *
find_field(const struct field *fields, const char *key, size_t *index)
{
	for (*index = 0; fields[*index].key != NULL; (*index)++)
		if (strcmp(fields[*index].key, key) == 0)
			return &fields[*index];
	return NULL;
}

/* Fills |obj| from the mapping |node| as |fields| describe. */
static int
parse_mapping(struct pctx *c, yaml_node_t *node, const struct field *fields,
    void *obj)
{
	unsigned long long seen = 0;
	yaml_node_pair_t *pair;
	size_t i;

	if (node->type != YAML_MAPPING_NODE)
		return perr(c, node, "", "expected KEY: VALUE lines");
	for (pair = node->data.mapping.pairs.start;
	    pair < node->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(&c->doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(&c->doc, pair->value);
		const struct field *f;
		const char *key = scalar(c, k, "(key)");

		if (key == NULL)
			return -EINVAL;
		f = find_field(fields, key, &i);
		if (f == NULL)
			return perr(c, k, key, "unknown key");
		if (seen & (1ULL << i))
			return perr(c, k, key, "given twice");
		seen |= 1ULL << i;
		if (f->parse(c, v, key, (char *)obj + f->offset) != 0)
			return -EINVAL;
	}
	for (i = 0; fields[i].key != NULL; i++)
		if (fields[i].required && !(seen & (1ULL << i)))
			return perr(c, node, fields[i].key, "missing");
	return 0;
}

/* Parses each mapping of the list |node| into |objs|, |size| apart. */
static int
parse_list(struct pctx *c, yaml_node_t *node, const char *key, size_t max,
    const struct field *fields, void *objs, size_t size, unsigned int *count)
{
	size_t i, n = 0;
	int err = 0;

	if (check_sequence(c, node, key, max, &n) != 0)
		return -EINVAL;
	for (i = 0; i < n && err == 0; i++) {
		snprintf(c->where, sizeof(c->where), "%s[%zu]", key, i);
		err = parse_mapping(c, item(c, node, i), fields,
		    (char *)objs + i * size);
	}
	c->where[0] = '\0';
	if (err == 0)
		*count = (unsigned int)n;
	return err;
}

static int
parse_gpus(struct pctx *c, yaml_node_t *node, const char *key, void *dst)
{
	struct fake_machine *m = dst;
	unsigned int i;

	for (i = 0; i < FAKE_MAX_GPUS; i++) {
		m->gpus[i].numa_node = -1;
		m->gpus[i].mig = FAKE_MIG_DISABLED;
	}
	return parse_list(c, node, key, FAKE_MAX_GPUS, gpu_fields, m->gpus,
	    sizeof(m->gpus[0]), &m->gpu_count);
}

static int
parse_nvswitches(struct pctx *c, yaml_node_t *node, const char *key,
    void *dst)
{
	struct fake_machine *m = dst;

	return parse_list(c, node, key, FAKE_MAX_NVSWITCHES, nvswitch_fields,
	    m->nvswitches, sizeof(m->nvswitches[0]), &m->nvswitch_count);
}

static int
same_pci(const struct fake_pci *a, const struct fake_pci *b)
{
	return a->domain == b->domain && a->bus == b->bus &&
	    a->device == b->device && a->function == b->function;
}

/* Whether |pci| is a GPU or NVSwitch of |m|. */
static int
known_pci(const struct fake_machine *m, const struct fake_pci *pci)
{
	unsigned int i;

	for (i = 0; i < m->gpu_count; i++)
		if (same_pci(&m->gpus[i].pci, pci))
			return 1;
	for (i = 0; i < m->nvswitch_count; i++)
		if (same_pci(&m->nvswitches[i].pci, pci))
			return 1;
	return 0;
}

/* Reports GPU |i| clashing with an earlier GPU, or returns 0. */
static int
check_unique(struct pctx *c, const struct fake_machine *m, unsigned int i)
{
	const struct nvmlDevice_st *g = &m->gpus[i];
	unsigned int j;

	for (j = 0; j < i; j++) {
		const struct nvmlDevice_st *o = &m->gpus[j];
		const char *what = strcmp(o->uuid, g->uuid) == 0 ? "uuid" :
		    same_pci(&o->pci, &g->pci) ? "pci_bus_id" :
		    o->minor == g->minor ? "minor_number" : NULL;

		if (what != NULL) {
			fprintf(stderr, "fakenvml: %s: gpus[%u].%s: "
			    "the same as gpus[%u]'s\n", c->path, i, what, j);
			return -EINVAL;
		}
	}
	return 0;
}

/* Checks what no single value shows: clashes and dangling NVLinks. */
static int
check_machine(struct pctx *c, const struct fake_machine *m)
{
	unsigned int i, l;
	char bus[NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE];

	for (i = 0; i < m->gpu_count; i++) {
		const struct nvmlDevice_st *g = &m->gpus[i];

		if (check_unique(c, m, i) != 0)
			return -EINVAL;
		for (l = 0; l < g->nvlinks.count; l++) {
			const struct fake_pci *r = &g->nvlinks.remote[l];

			if (known_pci(m, r) && !same_pci(r, &g->pci))
				continue;
			fake_pci_format(r, bus, sizeof(bus));
			fprintf(stderr, "fakenvml: %s: gpus[%u].nvlinks[%u]: "
			    "%s is not a GPU or nvswitch of the profile\n",
			    c->path, i, l, bus);
			return -EINVAL;
		}
	}
	return 0;
}

/* Parses an open file into |m|. */
static int
load_document(struct pctx *c, FILE *f, struct fake_machine *m)
{
	yaml_parser_t parser;
	yaml_node_t *root;
	int err;

	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &c->doc)) {
		fprintf(stderr, "fakenvml: %s:%zu: YAML error: %s\n", c->path,
		    parser.problem_mark.line + 1,
		    parser.problem ? parser.problem : "unreadable");
		yaml_parser_delete(&parser);
		return -EINVAL;
	}
	root = yaml_document_get_root_node(&c->doc);
	if (root == NULL) {
		fprintf(stderr, "fakenvml: %s: the profile is empty\n",
		    c->path);
		err = -EINVAL;
	} else {
		err = parse_mapping(c, root, machine_fields, m);
	}
	if (err == 0)
		err = check_machine(c, m);
	if (err == 0)
		err = fake_mig_check(c->path, m);
	yaml_document_delete(&c->doc);
	yaml_parser_delete(&parser);
	return err;
}

int
fake_profile_load(const char *path, struct fake_machine *m)
{
	struct pctx c = { .path = path };
	FILE *f;
	int err;

	m->event_wait = FAKE_WAIT_BLOCK;
	m->supported_events = FAKE_SUPPORTED_EVENTS;
	f = fopen(path, "r");
	if (f == NULL) {
		err = -errno;
		fprintf(stderr,
		    "fakenvml: cannot open FAKE_NVML_PROFILE %s: %s\n", path,
		    strerror(-err));
		return err;
	}
	err = load_document(&c, f, m);
	fclose(f);
	return err;
}
