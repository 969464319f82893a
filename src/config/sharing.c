/*
 * sharing.c: the "resources" and "sharing" sections of the config file
 * (see file.h), parsed into plain structs and checked as NVIDIA's plugin
 * checks them (reference: nvidia-device-plugin.md §2), with its wording
 * where it has one: resource names, replica counts, the devices a
 * resource shares.
 *
 * Nothing here applies them. NVIDIA's plugin ignores a customised
 * "resources" (with a warning); so does this one. Sharing is applied by
 * the resource core (resources/replicas.c), which keeps each entry's
 * place for the errors only the node's devices can show (a device
 * shared twice, an index the node does not have).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "file_int.h"
#include "util/alloc.h"
#include "util/digits.h"

#define RESOURCE_PREFIX "nvidia.com/"
#define MAX_RESOURCE_NAME 63
#define MAX_ITEMS 4096

static size_t
n_items(const yaml_node_t *seq)
{
	return (size_t)(seq->data.sequence.items.top -
	    seq->data.sequence.items.start);
}

/* A lowercase RFC 1123 subdomain, as Kubernetes checks names. */
static bool
dns_subdomain(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		bool edge = i == 0 || i + 1 == len || s[i - 1] == '.' ||
		    s[i + 1] == '.';

		if (!alnum && !(c == '-' && !edge) && !(c == '.' && i > 0 &&
		    i + 1 < len && s[i - 1] != '.'))
			return false;
	}
	return true;
}

/*
 * A resource name with NVIDIA's prefix added when missing, checked as
 * NVIDIA checks it. 1 (|*out| set), -EINVAL (error given) or -ENOMEM.
 */
static int
resource_name(struct walk *w, struct entry *e, char **out)
{
	const char *t = node_text(e->value);
	char full[MAX_RESOURCE_NAME + 2];
	bool prefixed;

	if (t == NULL || node_is_null(e->value))
		return walk_expected(w, e->value, e->path, "a resource name "
		    "(like nvidia.com/gpu)") < 0 ? -ENOMEM : -EINVAL;
	prefixed = strncmp(t, RESOURCE_PREFIX, strlen(RESOURCE_PREFIX)) == 0;
	if (strlen(t) + (prefixed ? 0 : strlen(RESOURCE_PREFIX)) >
	    MAX_RESOURCE_NAME)
		return walk_error(w, e->value, e->path, "fully-qualified "
		    "resource name must be %d characters or less: %s%.80s%s",
		    MAX_RESOURCE_NAME, prefixed ? "" : RESOURCE_PREFIX, t,
		    strlen(t) > 80 ? "..." : "") < 0 ? -ENOMEM : -EINVAL;
	snprintf(full, sizeof(full), "%s%s", prefixed ? "" : RESOURCE_PREFIX,
	    t);
	if (!dns_subdomain(full + strlen(RESOURCE_PREFIX)))
		return walk_error(w, e->value, e->path, "incorrect format for "
		    "resource name '%s': a lowercase RFC 1123 subdomain must "
		    "consist of lower case alphanumeric characters, '-' or "
		    "'.', and must start and end with an alphanumeric "
		    "character", full) < 0 ? -ENOMEM : -EINVAL;
	gdp_free(*out);
	*out = gdp_strdup(full);
	return *out == NULL ? -ENOMEM : 1;
}

/* The list at |e| (null: none), its length bounded. 1, 0, -EINVAL. */
static int
list_at(struct walk *w, struct entry *e, const char *what)
{
	if (node_is_null(e->value))
		return 0;
	if (e->value->type != YAML_SEQUENCE_NODE)
		return walk_expected(w, e->value, e->path, what) < 0 ?
		    -ENOMEM : -EINVAL;
	if (n_items(e->value) > MAX_ITEMS)
		return walk_error(w, e->value, e->path, "more than %d "
		    "entries", MAX_ITEMS) < 0 ? -ENOMEM : -EINVAL;
	return 1;
}

/* Calls |fn| for each item of the list at |e|, as "<path>[i]". */
static int
each_item(struct walk *w, struct entry *e,
    int (*fn)(struct walk *w, struct entry *item, void *arg), void *arg)
{
	for (size_t i = 0; i < n_items(e->value); i++) {
		struct entry item = { "", NULL, walk_item(w, e->value, i),
		    "" };
		int rc;

		if (item.value == NULL || !walk_spend(w, item.value))
			return 0;
		index_path(item.path, e->path, i);
		if ((rc = fn(w, &item, arg)) < 0)
			return rc;
	}
	return 0;
}

/* resources: gpus and mig, lists of {pattern, name}. */

struct pattern_walk {
	struct cfgfile_pattern *p;
	bool pattern, name;
};

static int
pattern_entry(struct walk *w, struct entry *e, void *arg)
{
	struct pattern_walk *pw = arg;
	int rc;

	if (strcmp(e->key, "pattern") == 0) {
		rc = read_string(w, e, &pw->p->pattern);
		pw->pattern = rc != 0;
	} else if (strcmp(e->key, "name") == 0) {
		rc = resource_name(w, e, &pw->p->name);
		pw->name = rc != 0;
	} else {
		rc = walk_unknown(w, e);
	}
	return rc == -ENOMEM ? rc : 0;
}

/* A list being filled and its count. */
struct pattern_list {
	struct cfgfile_pattern *list;
	size_t n;
};

static int
pattern_item(struct walk *w, struct entry *item, void *arg)
{
	struct pattern_list *pl = arg;
	struct cfgfile_pattern *grown;
	struct pattern_walk pw = { NULL, false, false };
	int rc;

	if (item->value->type != YAML_MAPPING_NODE)
		return walk_expected(w, item->value, item->path, "a mapping "
		    "of pattern and name");
	grown = gdp_realloc(pl->list, (pl->n + 1) * sizeof(*grown));
	if (grown == NULL)
		return -ENOMEM;
	pl->list = grown;
	pw.p = &grown[pl->n++];
	memset(pw.p, 0, sizeof(*pw.p));
	if ((rc = walk_mapping(w, item->value, item->path, pattern_entry,
	    &pw)) < 0)
		return rc;
	if (!pw.pattern)
		return walk_error(w, item->value, item->path, "resources "
		    "must have a 'pattern' field set");
	if (!pw.name)
		return walk_error(w, item->value, item->path, "resources "
		    "must have a 'name' field set");
	return 0;
}

static int
patterns(struct walk *w, struct entry *e, struct cfgfile_pattern **list,
    size_t *n)
{
	struct pattern_list pl = { *list, *n };
	int rc = list_at(w, e, "a list of {pattern, name}");

	if (rc <= 0)
		return rc == -ENOMEM ? rc : 0;
	rc = each_item(w, e, pattern_item, &pl);
	*list = pl.list;
	*n = pl.n;
	return rc;
}

static int
resources_entry(struct walk *w, struct entry *e, void *arg)
{
	struct cfgfile *cf = w->cf;

	if (strcmp(e->key, "gpus") == 0)
		return patterns(w, e, &cf->gpus, &cf->n_gpus);
	if (strcmp(e->key, "mig") == 0)
		return patterns(w, e, &cf->mig, &cf->n_mig);
	return walk_unknown(w, e);
}

int
walk_resources(struct walk *w, struct entry *e)
{
	struct cfgfile *cf = w->cf;
	size_t errors = cf->n_errors;
	int rc = walk_mapping(w, e->value, e->path, resources_entry, NULL);

	if (rc < 0 || cf->n_gpus + cf->n_mig == 0 || cf->n_errors > errors)
		return rc;
	cf->resources_given = true;
	return walk_warning(w, e->value, e->path, "customizing the resources "
	    "is not supported yet (nor by NVIDIA's plugin): ignored, the "
	    "default names are used");
}

/* sharing.<kind>.resources[i].devices */

/* 8-4-4-4-12 hex digits, or 32 in a row. */
static bool
is_uuid(const char *s, size_t n)
{
	size_t digits = 0;

	for (size_t i = 0; i < n; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		char c = s[i];
		bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		    (c >= 'A' && c <= 'F');

		if (n == 36 && dash ? c != '-' : !hex)
			return false;
		digits += hex;
	}
	return (n == 36 || n == 32) && digits == 32;
}

/* A GPU index, a MIG index "i:j", a GPU UUID or a MIG UUID (either form). */
static bool
device_ref(const char *s)
{
	const char *colon = strchr(s, ':'), *slash;
	size_t n = strlen(s);

	if (all_digits(s, n))
		return true;
	if (colon != NULL && all_digits(s, (size_t)(colon - s)) &&
	    all_digits(colon + 1, strlen(colon + 1)))
		return true;
	if (strncmp(s, "GPU-", 4) == 0)
		return is_uuid(s + 4, n - 4);
	if (strncmp(s, "MIG-", 4) != 0)
		return false;
	if (is_uuid(s + 4, n - 4))
		return true;
	/* MIG-GPU-<uuid>/<gi>/<ci> */
	if (strncmp(s + 4, "GPU-", 4) != 0 ||
	    (slash = strchr(s, '/')) == NULL ||
	    !is_uuid(s + 8, (size_t)(slash - s - 8)))
		return false;
	colon = strchr(slash + 1, '/');
	return colon != NULL && all_digits(slash + 1, (size_t)(colon - slash -
	    1)) && all_digits(colon + 1, strlen(colon + 1));
}

static int
device_item(struct walk *w, struct entry *item, void *arg)
{
	struct cfgfile_replicated *r = arg;
	const char *t = node_text(item->value);
	char **grown, *copy;

	if (t == NULL || node_is_null(item->value) || !device_ref(t)) {
		char got[64];

		snprintf(got, sizeof(got), "%.40s%s", t != NULL ? t : "",
		    t != NULL && strlen(t) > 40 ? "..." : "");
		return walk_error(w, item->value, item->path, "unsupported "
		    "device in devices list: '%s' (expected a GPU index, a MIG "
		    "index like 0:1, or a GPU or MIG UUID)", got);
	}
	if ((copy = gdp_strdup(t)) == NULL)
		return -ENOMEM;
	grown = gdp_realloc(r->list, (r->n_list + 1) * sizeof(*grown));
	if (grown == NULL) {
		gdp_free(copy);
		return -ENOMEM;
	}
	r->list = grown;
	r->list[r->n_list++] = copy;
	return 0;
}

/* Where |node| at |path| is, as a new string into |*out|; -ENOMEM. */
static int
note_where(struct walk *w, const yaml_node_t *node, const char *path,
    char **out)
{
	char where[KEY_PATH_MAX + PATH_MAX + 64];

	walk_where(w, node, path, where, sizeof(where));
	gdp_free(*out);
	*out = gdp_strdup(where);
	return *out == NULL ? -ENOMEM : 0;
}

static int
devices(struct walk *w, struct entry *e, struct cfgfile_replicated *r)
{
	const char *t = node_text(e->value);
	unsigned long count;

	if (node_is_null(e->value))
		return 0;
	if (note_where(w, e->value, e->path, &r->devices_where) < 0)
		return -ENOMEM;
	if (e->value->type == YAML_SEQUENCE_NODE) {
		int rc = list_at(w, e, "a list");

		if (rc <= 0)
			return rc == -ENOMEM ? rc : 0;
		r->devices = CFGFILE_DEVICES_LIST;
		return each_item(w, e, device_item, r);
	}
	if (t == NULL)
		return walk_expected(w, e->value, e->path, "\"all\", a count "
		    "or a list of devices");
	if (e->value->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (t[0] == '-' || node_unsigned(e->value, INT_MAX, &count) == 0)) {
		if (t[0] == '-' || count == 0)
			return walk_error(w, e->value, e->path, "devices set "
			    "as '%.20s' but a count of devices must be > 0", t);
		r->devices = CFGFILE_DEVICES_COUNT;
		r->count = count;
		return 0;
	}
	if (strcmp(t, "all") != 0)
		return walk_error(w, e->value, e->path, "devices set as "
		    "'%.40s' but the only valid string input is 'all'", t);
	r->devices = CFGFILE_DEVICES_ALL;
	return 0;
}

/* sharing.<kind>.resources[i] */

struct replicated_walk {
	struct cfgfile_replicated *r;
	bool name, replicas;
};

static int
replicas(struct walk *w, struct entry *e, struct replicated_walk *rw)
{
	unsigned long n;

	rw->replicas = true;
	if (node_unsigned(e->value, INT_MAX, &n) < 0) {
		const char *t = node_text(e->value);

		if (t != NULL && e->value->data.scalar.style ==
		    YAML_PLAIN_SCALAR_STYLE && t[0] == '-' &&
		    all_digits(t + 1, strlen(t + 1)))
			n = 0;  /* below 2: the message below */
		else
			return walk_expected(w, e->value, e->path, "a number "
			    "of replicas (2 or more)");
	}
	if (n < 2)
		return walk_error(w, e->value, e->path, "number of replicas "
		    "must be >= 2, found %s", node_text(e->value));
	rw->r->replicas = n;
	return 0;
}

static int
replicated_entry(struct walk *w, struct entry *e, void *arg)
{
	struct replicated_walk *rw = arg;
	int rc;

	if (strcmp(e->key, "name") == 0) {
		rc = resource_name(w, e, &rw->r->name);
		rw->name = rc != 0;
	} else if (strcmp(e->key, "rename") == 0) {
		rc = node_is_null(e->value) ? 0 :
		    resource_name(w, e, &rw->r->rename);
	} else if (strcmp(e->key, "devices") == 0) {
		rc = devices(w, e, rw->r);
	} else if (strcmp(e->key, "replicas") == 0) {
		rc = replicas(w, e, rw);
	} else {
		rc = walk_unknown(w, e);
	}
	return rc == -ENOMEM ? rc : 0;
}

static int
replicated_item(struct walk *w, struct entry *item, void *arg)
{
	struct cfgfile_sharing *s = arg;
	struct cfgfile_replicated *grown;
	struct replicated_walk rw = { NULL, false, false };
	int rc;

	if (item->value->type != YAML_MAPPING_NODE)
		return walk_expected(w, item->value, item->path, "a mapping "
		    "of name, replicas, rename and devices");
	grown = gdp_realloc(s->resources, (s->n_resources + 1) *
	    sizeof(*grown));
	if (grown == NULL)
		return -ENOMEM;
	s->resources = grown;
	rw.r = &grown[s->n_resources++];
	memset(rw.r, 0, sizeof(*rw.r));
	rw.r->devices = CFGFILE_DEVICES_ALL;
	if (note_where(w, item->value, item->path, &rw.r->where) < 0)
		return -ENOMEM;
	if ((rc = walk_mapping(w, item->value, item->path, replicated_entry,
	    &rw)) < 0)
		return rc;
	if (!rw.name)
		return walk_error(w, item->value, item->path, "no resource "
		    "name specified");
	if (!rw.replicas)
		return walk_error(w, item->value, item->path, "no replicas "
		    "specified");
	return 0;
}

/* sharing.timeSlicing and sharing.mps */

struct sharing_walk {
	struct cfgfile_sharing *s;
	bool resources;
};

static int
sharing_kind_entry(struct walk *w, struct entry *e, void *arg)
{
	struct sharing_walk *sw = arg;
	bool b = false;
	int rc;

	if (strcmp(e->key, "renameByDefault") == 0) {
		rc = read_bool(w, e, &b);
		if (rc == 1)
			sw->s->rename_by_default = b;
	} else if (strcmp(e->key, "failRequestsGreaterThanOne") == 0) {
		rc = read_bool(w, e, &b);
		if (rc == 1)
			sw->s->fail_requests_greater_than_one = b;
	} else if (strcmp(e->key, "resources") == 0) {
		rc = list_at(w, e, "a list of resources to share");
		if (rc == 1) {
			sw->resources = n_items(e->value) > 0;
			rc = each_item(w, e, replicated_item, sw->s);
		}
	} else {
		rc = walk_unknown(w, e);
	}
	return rc == -ENOMEM ? rc : 0;
}

/* renameByDefault: <name>.shared for each resource without a rename. */
static int
default_renames(struct cfgfile_sharing *s)
{
	for (size_t i = 0; s->rename_by_default && i < s->n_resources; i++) {
		struct cfgfile_replicated *r = &s->resources[i];
		size_t len;

		if (r->rename != NULL || r->name == NULL)
			continue;
		len = strlen(r->name) + sizeof(".shared");
		if ((r->rename = gdp_malloc(len)) == NULL)
			return -ENOMEM;
		snprintf(r->rename, len, "%s.shared", r->name);
	}
	return 0;
}

static int
sharing_kind(struct walk *w, struct entry *e, struct cfgfile_sharing *s,
    bool mps)
{
	struct sharing_walk sw = { s, false };
	char where[KEY_PATH_MAX + PATH_MAX + 64];
	int rc;

	if (node_is_null(e->value))
		return 0;
	if (e->value->type != YAML_MAPPING_NODE)
		return walk_expected(w, e->value, e->path, "a mapping of "
		    "renameByDefault, failRequestsGreaterThanOne and "
		    "resources");
	s->present = true;
	walk_where(w, e->key_node, e->path, where, sizeof(where));
	if ((s->where = gdp_strdup(where)) == NULL)
		return -ENOMEM;
	if ((rc = walk_mapping(w, e->value, e->path, sharing_kind_entry,
	    &sw)) < 0)
		return rc;
	if (!sw.resources)
		return walk_error(w, e->key_node, e->path, "no resources "
		    "specified");
	/* NVIDIA's MPS fails requests for more than one replica unless
	 * the file says otherwise; time-slicing does not. */
	if (mps && s->fail_requests_greater_than_one < 0)
		s->fail_requests_greater_than_one = 1;
	return default_renames(s);
}

static int
sharing_entry(struct walk *w, struct entry *e, void *arg)
{
	if (strcmp(e->key, "timeSlicing") == 0)
		return sharing_kind(w, e, &w->cf->time_slicing, false);
	if (strcmp(e->key, "mps") == 0)
		return sharing_kind(w, e, &w->cf->mps, true);
	return walk_unknown(w, e);
}

int
walk_sharing(struct walk *w, struct entry *e)
{
	return walk_mapping(w, e->value, e->path, sharing_entry, NULL);
}
