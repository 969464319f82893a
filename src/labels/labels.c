/*
 * labels.c: the label set GPU Feature Discovery publishes, computed from
 * the inventory (see labels.h). Pure: no I/O, no clock.
 *
 * The rules are GFD's (docs/observability.md cites each); where GFD's
 * outcome is not defined we pick one and say so:
 *  - GFD labels one GPU model per node, chosen by Go map order when the
 *    node mixes models; here GPUs with MIG off win over GPUs with MIG on
 *    (as in GFD) and, among those, the model of the lowest-index GPU;
 *  - GFD lets a long product value pass 63 characters (NVIDIA #1876);
 *    here every value is bounded and stays a valid label value.
 * The set is a small sorted array: a node has tens of labels.
 */
#include "labels.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

#define GPU_RESOURCE "nvidia.com/gpu"
#define MIB (1024ull * 1024ull)

static int
find(const struct label_set *s, const char *key)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].key, key) == 0)
			return (int)i;
	return -1;
}

const char *
label_set_get(const struct label_set *s, const char *key)
{
	int i = find(s, key);

	return i < 0 ? NULL : s->v[i].value;
}

int
label_set_put(struct label_set *s, const char *key, const char *value)
{
	int i = find(s, key);
	struct label *l;

	if (i < 0) {
		if (s->n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 32;
			struct label *grown = gdp_realloc(s->v,
			    cap * sizeof(*grown));

			if (grown == NULL)
				return -ENOMEM;
			s->v = grown;
			s->cap = cap;
		}
		i = (int)s->n++;
	}
	l = &s->v[i];
	snprintf(l->key, sizeof(l->key), "%s", key);
	snprintf(l->value, sizeof(l->value), "%s", value);
	return 0;
}

void
label_set_free(struct label_set *s)
{
	gdp_free(s->v);
	memset(s, 0, sizeof(*s));
}

/* ---- values ---- */

static bool
allowed(int c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '.';
}

/*
 * GFD's sanitise: drop what is not [A-Za-z0-9._- ], then the words
 * (runs of blanks) joined with '-'. Into |out| (|len| bytes), truncated.
 */
static void
sanitise(const char *in, char *out, size_t len)
{
	size_t at = 0;
	bool gap = false;

	for (const unsigned char *p = (const unsigned char *)in;
	    *p != '\0' && at + 1 < len; p++) {
		if (isspace(*p)) {
			gap = at > 0;
			continue;
		}
		if (!(isascii(*p) && allowed(*p)))
			continue;
		if (gap && at + 2 < len)
			out[at++] = '-';
		gap = false;
		out[at++] = (char)*p;
	}
	out[at] = '\0';
}

/* A label value begins and ends with [A-Za-z0-9], whatever the locale. */
static bool
ascii_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/* Cuts |s| to at most |max| characters, then trims what a label value
   may not begin or end with. */
static void
bound(char *s, size_t max)
{
	size_t n = strlen(s), lead = 0;

	if (n > max)
		s[n = max] = '\0';
	while (n > 0 && !ascii_alnum(s[n - 1]))
		s[--n] = '\0';
	while (lead < n && !ascii_alnum(s[lead]))
		lead++;
	memmove(s, s + lead, n - lead + 1);
}

void
label_value(const char *raw, char *out)
{
	char tmp[1024] = "";

	sanitise(raw, tmp, sizeof(tmp));
	bound(tmp, LABEL_VALUE_MAX);
	memcpy(out, tmp, strlen(tmp) + 1);
}

void
label_product(const char *const *parts, bool shared, char *out)
{
	char model[256] = "", rest[256] = "", one[128] = "", joined[520] = "";
	size_t room;

	for (size_t i = 0; parts[i] != NULL; i++) {
		sanitise(parts[i], one, sizeof(one));
		if (one[0] == '\0')
			continue;
		if (i == 0)
			snprintf(model, sizeof(model), "%s", one);
		else if (strlen(rest) + strlen(one) + 2 < sizeof(rest))
			snprintf(rest + strlen(rest), sizeof(rest) -
			    strlen(rest), "%s%s", rest[0] ? "-" : "", one);
	}
	if (shared && strlen(rest) + 8 < sizeof(rest))
		snprintf(rest + strlen(rest), sizeof(rest) - strlen(rest),
		    "%sSHARED", rest[0] ? "-" : "");
	bound(rest, LABEL_VALUE_MAX);
	/* The model gives way: what follows it tells the labels apart. */
	room = LABEL_VALUE_MAX - strlen(rest) - (rest[0] ? 1 : 0);
	bound(model, strlen(rest) + 1 >= LABEL_VALUE_MAX ? 0 : room);
	snprintf(joined, sizeof(joined), "%s%s%s", model,
	    model[0] && rest[0] ? "-" : "", rest);
	bound(joined, LABEL_VALUE_MAX);
	memcpy(out, joined, strlen(joined) + 1);
}

/* ---- sharing (GFD's resourceLabeler) ---- */

/* The sharing section in use: MPS, else time-slicing, else none. */
static const struct cfgfile_sharing *
sharing_of(const struct cfgfile *f, const char **strategy)
{
	*strategy = "none";
	if (f == NULL)
		return NULL;
	if (f->mps.present && f->mps.n_resources > 0) {
		*strategy = "mps";
		return &f->mps;
	}
	if (f->time_slicing.present && f->time_slicing.n_resources > 0) {
		*strategy = "time-slicing";
		return &f->time_slicing;
	}
	return NULL;
}

static const struct cfgfile_replicated *
replicated(const struct cfgfile_sharing *sh, const char *resource)
{
	if (sh == NULL)
		return NULL;
	for (size_t i = 0; i < sh->n_resources; i++)
		if (strcmp(sh->resources[i].name, resource) == 0)
			return &sh->resources[i];
	return NULL;
}

/* What one resource's base labels need. */
struct base {
	const char *resource;   /* "nvidia.com/gpu", "nvidia.com/mig-1g.5gb" */
	bool with_sharing;      /* false: GFD's labeler without sharing */
	unsigned long count;
};

static int
put_fmt(struct label_set *s, const char *resource, const char *suffix,
    unsigned long long v)
{
	char key[LABEL_KEY_MAX], val[32];

	snprintf(key, sizeof(key), "%s.%s", resource, suffix);
	snprintf(val, sizeof(val), "%llu", v);
	return label_set_put(s, key, val);
}

static int
put_str(struct label_set *s, const char *resource, const char *suffix,
    const char *v)
{
	char key[LABEL_KEY_MAX];

	snprintf(key, sizeof(key), "%s.%s", resource, suffix);
	return label_set_put(s, key, v);
}

/* product, count, replicas, sharing-strategy of |b| for |parts|. */
static int
put_base(struct label_set *s, const struct labels_input *in,
    const struct base *b, const char *const *parts)
{
	const char *strategy = "none";
	const struct cfgfile_sharing *sh = b->with_sharing ?
	    sharing_of(in->file, &strategy) : NULL;
	const struct cfgfile_replicated *r = replicated(sh, b->resource);
	unsigned long replicas = !b->with_sharing ? 0 :
	    r != NULL && r->replicas > 0 ? r->replicas : 1;
	bool shared = r != NULL && r->replicas > 1;
	bool renamed = r != NULL && (r->rename != NULL ||
	    sh->rename_by_default);
	char product[LABEL_VALUE_MAX + 1];

	label_product(parts, shared && !renamed, product);
	if (put_str(s, b->resource, "product", product) < 0 ||
	    put_fmt(s, b->resource, "count", b->count) < 0 ||
	    put_fmt(s, b->resource, "replicas", replicas) < 0)
		return -ENOMEM;
	return put_str(s, b->resource, "sharing-strategy",
	    replicas > 1 ? strategy : "none");
}

/* ---- full GPUs ---- */

static const char *
family(int major, int minor)
{
	static const char *const names[] = { "undefined", "tesla", "fermi",
		"kepler", "undefined", "maxwell", "pascal" };

	if (major >= 0 && major <= 6)
		return names[major];
	if (major == 7)
		return minor < 5 ? "volta" : "turing";
	if (major == 8)
		return minor < 9 ? "ampere" : "ada-lovelace";
	if (major == 9)
		return "hopper";
	if (major == 10 || major == 12)
		return "blackwell";
	return "undefined";
}

/* GFD's full-GPU labeler for the model of |g|, |count| GPUs of it. */
static int
put_gpu(struct label_set *s, const struct labels_input *in,
    const struct gpu *g, unsigned long count)
{
	const char *parts[] = { g->name, NULL };
	struct base b = { GPU_RESOURCE, !g->mig_enabled, count };
	int rc = put_base(s, in, &b, parts);

	if (rc == 0 && g->memory_bytes / MIB != 0)
		rc = put_fmt(s, GPU_RESOURCE, "memory", g->memory_bytes / MIB);
	if (rc < 0 || g->cc_major <= 0)
		return rc;
	if (put_str(s, GPU_RESOURCE, "family",
	    family(g->cc_major, g->cc_minor)) < 0 ||
	    put_fmt(s, GPU_RESOURCE, "compute.major",
	    (unsigned long long)g->cc_major) < 0)
		return -ENOMEM;
	return put_fmt(s, GPU_RESOURCE, "compute.minor",
	    (unsigned long long)(g->cc_minor < 0 ? 0 : g->cc_minor));
}

static unsigned long
same_model(const struct inventory *inv, const char *name)
{
	unsigned long n = 0;

	for (size_t i = 0; i < inv->n; i++)
		n += strcmp(inv->gpus[i].name, name) == 0;
	return n;
}

/* Is |i| the first GPU of its model with this MIG mode? */
static bool
first_of_kind(const struct inventory *inv, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (inv->gpus[j].mig_enabled == inv->gpus[i].mig_enabled &&
		    strcmp(inv->gpus[j].name, inv->gpus[i].name) == 0)
			return false;
	return true;
}

/* MIG on first, then MIG off (which overrides); each from the highest
   index down, so the lowest-index model is written last and wins. */
static int
put_gpus(struct label_set *s, const struct labels_input *in)
{
	const struct inventory *inv = in->inv;

	for (int pass = 1; pass >= 0; pass--)
		for (size_t i = inv->n; i-- > 0;) {
			const struct gpu *g = &inv->gpus[i];

			if (g->mig_enabled != (pass == 1) ||
			    !first_of_kind(inv, i))
				continue;
			if (put_gpu(s, in, g, same_model(inv, g->name)) < 0)
				return -ENOMEM;
		}
	return 0;
}

/* ---- MIG devices ---- */

/* One MIG profile of the node: its first device and how many. */
struct profile {
	const struct gpu *parent;
	const struct mig_device *m;
	unsigned long count;
};

/* The node's MIG profiles, in order of first appearance; |*n| of them. */
static struct profile *
profiles_of(const struct inventory *inv, size_t *n)
{
	size_t total = 0;
	struct profile *p;

	*n = 0;
	for (size_t i = 0; i < inv->n; i++)
		total += inv->gpus[i].mig_enabled ? inv->gpus[i].n_migs : 0;
	if ((p = gdp_calloc(total + 1, sizeof(*p))) == NULL)
		return NULL;
	for (size_t i = 0; i < inv->n; i++) {
		const struct gpu *g = &inv->gpus[i];

		for (size_t j = 0; g->mig_enabled && j < g->n_migs; j++) {
			size_t k = 0;

			while (k < *n && strcmp(p[k].m->profile,
			    g->migs[j].profile) != 0)
				k++;
			if (k == *n)
				p[(*n)++] = (struct profile){ g, &g->migs[j],
					0 };
			p[k].count++;
		}
	}
	return p;
}

/* GFD's name of a MIG profile: NVIDIA's, '+' made '.' ("1g.5gb.me"). */
static void
mig_name(const char *profile, char *out, size_t len)
{
	snprintf(out, len, "%s", profile);
	for (char *c = out; *c != '\0'; c++)
		if (*c == '+')
			*c = '.';
}

static int
put_mig(struct label_set *s, const struct labels_input *in,
    const char *resource, const struct profile *p)
{
	char name[sizeof(p->m->profile)];
	const char *parts[] = { p->parent->name, "MIG", name, NULL };
	struct base b = { resource, true, p->count };
	const struct mig_device *m = p->m;
	const struct { const char *k; unsigned long long v; } attr[] = {
		{ "memory", m->memory_mib },
		{ "multiprocessors", m->multiprocessors },
		{ "slices.gi", m->gi_slices }, { "slices.ci", m->ci_slices },
		{ "engines.copy", m->copy_engines },
		{ "engines.decoder", m->decoders },
		{ "engines.encoder", m->encoders },
		{ "engines.jpeg", m->jpegs }, { "engines.ofa", m->ofas },
	};

	mig_name(m->profile, name, sizeof(name));
	if (put_base(s, in, &b, parts) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(attr) / sizeof(attr[0]); i++)
		if (put_fmt(s, resource, attr[i].k, attr[i].v) < 0)
			return -ENOMEM;
	return 0;
}

/* single, invalid: GFD's "<model>-MIG-INVALID" with zero counts. */
static int
put_invalid(struct label_set *s, const struct inventory *inv)
{
	const char *model = NULL;
	const char *parts[4];
	char product[LABEL_VALUE_MAX + 1];

	for (size_t i = 0; i < inv->n && model == NULL; i++)
		if (inv->gpus[i].mig_enabled)
			model = inv->gpus[i].name;
	parts[0] = model;
	parts[1] = "MIG";
	parts[2] = "INVALID";
	parts[3] = NULL;
	label_product(parts, false, product);
	if (put_str(s, GPU_RESOURCE, "product", product) < 0 ||
	    put_fmt(s, GPU_RESOURCE, "count", 0) < 0 ||
	    put_fmt(s, GPU_RESOURCE, "replicas", 0) < 0)
		return -ENOMEM;
	return put_fmt(s, GPU_RESOURCE, "memory", 0);
}

/* Does a GPU with MIG on have no MIG device, or one with MIG off? */
static bool
single_invalid(const struct inventory *inv, size_t n_profiles)
{
	for (size_t i = 0; i < inv->n; i++)
		if (!inv->gpus[i].mig_enabled ||
		    inv->gpus[i].n_migs == 0)
			return true;
	return n_profiles != 1;
}

static int
put_migs(struct label_set *s, const struct labels_input *in)
{
	const struct inventory *inv = in->inv;
	bool any_on = false;
	size_t n;
	struct profile *p;
	int rc = 0;

	for (size_t i = 0; i < inv->n; i++)
		any_on |= inv->gpus[i].mig_enabled;
	if ((p = profiles_of(inv, &n)) == NULL)
		return -ENOMEM;
	if (in->mig_strategy == MIG_STRATEGY_SINGLE && any_on) {
		rc = single_invalid(inv, n) ? put_invalid(s, inv) :
		    put_mig(s, in, GPU_RESOURCE, &p[0]);
	} else if (in->mig_strategy == MIG_STRATEGY_MIXED) {
		for (size_t k = 0; k < n && rc == 0; k++) {
			char res[LABEL_KEY_MAX], name[sizeof(p->m->profile)];

			mig_name(p[k].m->profile, name, sizeof(name));
			snprintf(res, sizeof(res), "nvidia.com/mig-%s", name);
			rc = put_mig(s, in, res, &p[k]);
		}
	}
	gdp_free(p);
	return rc;
}

/* ---- node-wide labels ---- */

const char *
labels_gpu_mode(const long *classes, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (classes[i] != classes[0])
			return "unknown";
	if (n == 0)
		return "unknown";
	if (classes[0] == 0x030000)
		return "graphics";
	return classes[0] == 0x030200 ? "compute" : "unknown";
}

static int
put_versions(struct label_set *s, const struct inventory *inv)
{
	char drv[sizeof(inv->driver_version)], *f[3] = { "", "", "" };
	char *save = NULL, *tok, full[16];
	int n = 0, cuda = inv->cuda_version;
	int rc = 0;

	snprintf(drv, sizeof(drv), "%s", inv->driver_version);
	for (tok = strtok_r(drv, ".", &save); tok != NULL && n < 3;
	    tok = strtok_r(NULL, ".", &save))
		f[n++] = tok;
	if (n >= 2) {
		rc |= label_set_put(s, "nvidia.com/cuda.driver.major", f[0]);
		rc |= label_set_put(s, "nvidia.com/cuda.driver.minor", f[1]);
		rc |= label_set_put(s, "nvidia.com/cuda.driver.rev", f[2]);
		rc |= label_set_put(s, "nvidia.com/cuda.driver-version.major",
		    f[0]);
		rc |= label_set_put(s, "nvidia.com/cuda.driver-version.minor",
		    f[1]);
		rc |= label_set_put(s,
		    "nvidia.com/cuda.driver-version.revision", f[2]);
		rc |= label_set_put(s, "nvidia.com/cuda.driver-version.full",
		    inv->driver_version);
	}
	if (cuda > 0) {
		rc |= put_fmt(s, "nvidia.com/cuda", "runtime.major",
		    (unsigned)cuda / 1000);
		rc |= put_fmt(s, "nvidia.com/cuda", "runtime.minor",
		    (unsigned)cuda % 1000 / 10);
		rc |= put_fmt(s, "nvidia.com/cuda", "runtime-version.major",
		    (unsigned)cuda / 1000);
		rc |= put_fmt(s, "nvidia.com/cuda", "runtime-version.minor",
		    (unsigned)cuda % 1000 / 10);
		snprintf(full, sizeof(full), "%d.%d", cuda / 1000,
		    cuda % 1000 / 10);
		rc |= label_set_put(s, "nvidia.com/cuda.runtime-version.full",
		    full);
	}
	return rc < 0 ? -ENOMEM : 0;
}

static int
put_node(struct label_set *s, const struct labels_input *in)
{
	static const char *const strategies[] = { "none", "single", "mixed" };
	const struct inventory *inv = in->inv;
	bool capable = false, any_on = false;
	const char *strategy;
	char machine[LABEL_VALUE_MAX + 1];
	int rc = 0;

	for (size_t i = 0; i < inv->n; i++) {
		capable |= inv->gpus[i].mig_capable;
		any_on |= inv->gpus[i].mig_enabled;
	}
	label_value(in->machine != NULL && in->machine[0] != '\0' ?
	    in->machine : "unknown", machine);
	(void)sharing_of(in->file, &strategy);
	rc |= label_set_put(s, "nvidia.com/gpu.present", "true");
	rc |= label_set_put(s, "nvidia.com/gpu.machine", machine);
	rc |= label_set_put(s, "nvidia.com/gpu.mode",
	    in->mode != NULL ? in->mode : "unknown");
	rc |= label_set_put(s, "nvidia.com/mig.capable",
	    capable ? "true" : "false");
	rc |= label_set_put(s, "nvidia.com/mps.capable",
	    strcmp(strategy, "mps") == 0 && !any_on ? "true" : "false");
	if (in->mig_strategy != MIG_STRATEGY_NONE)
		rc |= label_set_put(s, "nvidia.com/mig.strategy",
		    strategies[in->mig_strategy]);
	return rc < 0 ? -ENOMEM : put_versions(s, inv);
}

static int
by_key(const void *a, const void *b)
{
	return strcmp(((const struct label *)a)->key,
	    ((const struct label *)b)->key);
}

int
labels_build(const struct labels_input *in, struct label_set *out)
{
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (in->inv != NULL && in->inv->n > 0) {
		rc = put_node(out, in);
		if (rc == 0)
			rc = put_gpus(out, in);
		if (rc == 0)
			rc = put_migs(out, in);
	}
	if (rc < 0) {
		label_set_free(out);
		return rc;
	}
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(out->v[0]), by_key);
	return 0;
}

char *
labels_text(const struct label_set *s, int64_t timestamp)
{
	size_t len = 64, at = 0;
	char *t;

	for (size_t i = 0; i < s->n; i++)
		len += strlen(s->v[i].key) + strlen(s->v[i].value) + 2;
	if ((t = gdp_malloc(len)) == NULL)
		return NULL;
	t[0] = '\0';
	for (size_t i = 0; i < s->n; i++)
		at += (size_t)snprintf(t + at, len - at, "%s=%s\n",
		    s->v[i].key, s->v[i].value);
	if (timestamp >= 0)
		snprintf(t + at, len - at, "%s=%lld\n", LABELS_TIMESTAMP_KEY,
		    (long long)timestamp);
	return t;
}
