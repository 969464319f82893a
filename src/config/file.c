/*
 * file.c: the config file (see file.h): reading it, libyaml, and the
 * walk of the top level and of the "flags", "version" and "imex"
 * sections. The "resources" and "sharing" sections are in sharing.c,
 * the generic walk and the messages in walk.c.
 *
 * Two passes over the text. The first runs libyaml's event parser only
 * to find syntax errors (with line and column), a second document, and
 * nesting or size that no config needs; the second loads the document
 * tree and walks it (walk.c) against small tables of the keys NVIDIA's
 * format has. A flag's value is handed on as the text the flag would
 * carry, so the flags' rules judge it.
 */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file_int.h"
#include "util/alloc.h"

#define MAX_DEPTH 64
#define MAX_EVENTS 200000

/* The keys of the flags section, each with the flag it stands for. */
enum flag_kind { FK_STRING, FK_BOOL, FK_LIST, FK_SECTION, FK_KNOWN };

struct flag_key {
	const char *key;
	enum flag_kind kind;
	const char *flag;               /* FK_STRING, FK_BOOL, FK_LIST */
	const struct flag_key *sub;     /* FK_SECTION */
};

/* GPU feature discovery's keys: the labels' (src/labels) are ours;
   oneshot and sleepInterval (we label on discovery) pass in silence. */
static const struct flag_key gfd_keys[] = {
	{ "oneshot", FK_KNOWN, NULL, NULL },
	{ "noTimestamp", FK_BOOL, "no-timestamp", NULL },
	{ "sleepInterval", FK_KNOWN, NULL, NULL },
	{ "outputFile", FK_STRING, "output-file", NULL },
	{ "machineTypeFile", FK_STRING, "machine-type-file", NULL },
	{ NULL, FK_KNOWN, NULL, NULL },
};

static const struct flag_key plugin_keys[] = {
	{ "passDeviceSpecs", FK_BOOL, "pass-device-specs", NULL },
	{ "deviceListStrategy", FK_LIST, "device-list-strategy", NULL },
	{ "deviceIDStrategy", FK_STRING, "device-id-strategy", NULL },
	{ "cdiAnnotationPrefix", FK_STRING, "cdi-annotation-prefix", NULL },
	{ "nvidiaCTKPath", FK_STRING, "nvidia-cdi-hook-path", NULL },
	{ "containerDriverRoot", FK_STRING, "driver-root-ctr-path", NULL },
	{ "sharedDevicesAllocationPolicy", FK_STRING,
	  "shared-devices-allocation-policy", NULL },
	{ NULL, FK_KNOWN, NULL, NULL },
};

static const struct flag_key flags_keys[] = {
	{ "migStrategy", FK_STRING, "mig-strategy", NULL },
	{ "failOnInitError", FK_BOOL, "fail-on-init-error", NULL },
	{ "mpsRoot", FK_STRING, "mps-root", NULL },
	{ "nvidiaDriverRoot", FK_STRING, "driver-root", NULL },
	{ "nvidiaDevRoot", FK_STRING, "dev-root", NULL },
	{ "gdrcopyEnabled", FK_BOOL, "gdrcopy-enabled", NULL },
	{ "gdsEnabled", FK_BOOL, "gds-enabled", NULL },
	{ "mofedEnabled", FK_BOOL, "mofed-enabled", NULL },
	{ "useNodeFeatureAPI", FK_KNOWN, NULL, NULL },
	{ "deviceDiscoveryStrategy", FK_STRING, "device-discovery-strategy",
	  NULL },
	{ "plugin", FK_SECTION, NULL, plugin_keys },
	{ "gfd", FK_SECTION, NULL, gfd_keys },
	{ NULL, FK_KNOWN, NULL, NULL },
};

/* The flags section. */

static int
add_setting(struct walk *w, struct entry *e, const char *flag, char *value)
{
	struct cfgfile *cf = w->cf;
	struct cfgfile_setting *grown, *s;
	char where[KEY_PATH_MAX + PATH_MAX + 64];

	if (value == NULL)
		return -ENOMEM;
	grown = gdp_realloc(cf->settings, (cf->n_settings + 1) *
	    sizeof(*grown));
	if (grown == NULL) {
		gdp_free(value);
		return -ENOMEM;
	}
	cf->settings = grown;
	walk_where(w, e->value, e->path, where, sizeof(where));
	s = &cf->settings[cf->n_settings];
	s->flag = flag;
	s->value = value;
	s->where = gdp_strdup(where);
	if (s->where == NULL) {
		gdp_free(value);
		return -ENOMEM;
	}
	cf->n_settings++;
	return 0;
}

/* A string slice: one string, or a list of them, comma-joined. */
static int
list_value(struct walk *w, struct entry *e, char **out)
{
	yaml_node_t *seq = e->value;
	size_t n = (size_t)(seq->data.sequence.items.top -
	    seq->data.sequence.items.start), len = 1;
	char *s;

	for (size_t i = 0; i < n; i++) {
		yaml_node_t *it = walk_item(w, seq, i);
		char path[KEY_PATH_MAX];

		if (it == NULL || !walk_spend(w, it))
			return -EINVAL;
		index_path(path, e->path, i);
		if (it->type != YAML_SCALAR_NODE || node_is_null(it))
			return walk_expected(w, it, path, "a string") < 0 ?
			    -ENOMEM : -EINVAL;
		len += strlen(node_text(it)) + 1;
	}
	if ((s = gdp_malloc(len)) == NULL)
		return -ENOMEM;
	s[0] = '\0';
	for (size_t i = 0, at = 0; i < n; i++) {
		const char *t = node_text(walk_item(w, seq, i));
		size_t tl = strlen(t);

		if (i > 0)
			s[at++] = ',';
		memcpy(s + at, t, tl + 1);
		at += tl;
	}
	*out = s;
	return 0;
}

static int
flag_value(struct walk *w, struct entry *e, const struct flag_key *k)
{
	const char *text = node_text(e->value);
	char *value = NULL;
	int b, rc;

	if (node_is_null(e->value))
		return 0;
	if (k->kind == FK_LIST && e->value->type == YAML_SEQUENCE_NODE) {
		rc = list_value(w, e, &value);
		if (rc < 0)
			return rc == -ENOMEM ? rc : 0;
		return add_setting(w, e, k->flag, value);
	}
	if (text == NULL)
		return walk_expected(w, e->value, e->path,
		    k->kind == FK_BOOL ? "a boolean (true or false)" :
		    k->kind == FK_LIST ? "a string or a list of strings" :
		    "a string");
	/* YAML's own booleans, as the flag would spell them; anything else
	 * goes on as written, for the flags' rules to judge. */
	b = k->kind == FK_BOOL ? node_bool(e->value) : -1;
	return add_setting(w, e, k->flag, gdp_strdup(b == 1 ? "true" :
	    b == 0 ? "false" : text));
}

static int
flags_entry(struct walk *w, struct entry *e, void *arg)
{
	const struct flag_key *k;

	for (k = arg; k->key != NULL; k++)
		if (strcmp(k->key, e->key) == 0)
			break;
	if (k->key == NULL)
		return walk_unknown(w, e);
	if (k->kind == FK_KNOWN)
		return 0;
	if (k->kind == FK_SECTION)
		return walk_mapping(w, e->value, e->path, flags_entry,
		    (void *)k->sub);
	return flag_value(w, e, k);
}

/* imex: channelIDs ([] or [0]) and required, NVIDIA's two IMEX flags. */
static int
imex_channels(struct walk *w, struct entry *e)
{
	yaml_node_t *seq = e->value;
	size_t n;
	unsigned long id;

	if (node_is_null(seq))
		return 0;
	if (seq->type != YAML_SEQUENCE_NODE)
		return walk_expected(w, seq, e->path, "a list of channel ids "
		    "([] or [0])");
	n = (size_t)(seq->data.sequence.items.top -
	    seq->data.sequence.items.start);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *it = walk_item(w, seq, i);
		char path[KEY_PATH_MAX];

		if (it == NULL || !walk_spend(w, it))
			return 0;
		index_path(path, e->path, i);
		if (node_unsigned(it, INT_MAX, &id) < 0)
			return walk_expected(w, it, path, "a channel id (a "
			    "whole number)");
		if (n > 1 || id != 0)
			return walk_error(w, seq, e->path, "invalid IMEX "
			    "config: channelIDs must be [] or [0]");
	}
	return add_setting(w, e, "imex-channel-ids", gdp_strdup(n ? "0" :
	    ""));
}

static int
imex_entry(struct walk *w, struct entry *e, void *arg)
{
	static const struct flag_key required = { "required", FK_BOOL,
		"imex-required", NULL };

	if (strcmp(e->key, "channelIDs") == 0)
		return imex_channels(w, e);
	if (strcmp(e->key, "required") == 0)
		return flag_value(w, e, &required);
	return walk_unknown(w, e);
}

/* The top level. */

static int
walk_version(struct walk *w, struct entry *e)
{
	const char *t = node_text(e->value);

	if (node_is_null(e->value))
		return 0;
	if (t == NULL)
		return walk_expected(w, e->value, e->path, "a version (v1)");
	if (strcmp(t, "v1") != 0)
		return walk_error(w, e->value, e->path, "unknown version: "
		    "%.64s (v1 is the only one)", t);
	return 0;
}

static int
top_entry(struct walk *w, struct entry *e, void *arg)
{
	if (strcmp(e->key, "version") == 0)
		return walk_version(w, e);
	if (strcmp(e->key, "flags") == 0)
		return walk_mapping(w, e->value, e->path, flags_entry,
		    (void *)flags_keys);
	if (strcmp(e->key, "resources") == 0)
		return walk_resources(w, e);
	if (strcmp(e->key, "sharing") == 0)
		return walk_sharing(w, e);
	if (strcmp(e->key, "imex") == 0)
		return walk_mapping(w, e->value, e->path, imex_entry, NULL);
	return walk_unknown(w, e);
}

/* Parsing. */

static int
syntax_error(struct cfgfile *cf, const yaml_parser_t *p)
{
	const char *problem = p->problem != NULL ? p->problem : "error";

	if (p->error == YAML_MEMORY_ERROR)
		return -ENOMEM;
	if (p->error == YAML_READER_ERROR)
		return cfgfile_error(cf, "%s: not valid YAML or JSON: %s (at "
		    "byte %zu)", cf->path, problem, p->problem_offset);
	if (p->context != NULL)
		return cfgfile_error(cf, "%s:%zu:%zu: not valid YAML or JSON: "
		    "%s (%s at line %zu)", cf->path, p->problem_mark.line + 1,
		    p->problem_mark.column + 1, problem, p->context,
		    p->context_mark.line + 1);
	return cfgfile_error(cf, "%s:%zu:%zu: not valid YAML or JSON: %s",
	    cf->path, p->problem_mark.line + 1, p->problem_mark.column + 1,
	    problem);
}

/* One event's bounds: depth, count, documents. 0, 1 (stop), -ENOMEM. */
static int
bound(struct cfgfile *cf, const yaml_event_t *ev, int *depth, long *n,
    int *docs)
{
	const yaml_mark_t *m = &ev->start_mark;

	if (ev->type == YAML_SEQUENCE_START_EVENT ||
	    ev->type == YAML_MAPPING_START_EVENT) {
		if (++*depth > MAX_DEPTH)
			return cfgfile_error(cf, "%s:%zu:%zu: nested deeper "
			    "than %d levels", cf->path, m->line + 1,
			    m->column + 1, MAX_DEPTH) < 0 ? -ENOMEM : 1;
	} else if (ev->type == YAML_SEQUENCE_END_EVENT ||
	    ev->type == YAML_MAPPING_END_EVENT) {
		--*depth;
	} else if (ev->type == YAML_DOCUMENT_START_EVENT && ++*docs > 1) {
		return cfgfile_error(cf, "%s:%zu:%zu: a second YAML document "
		    "(one config per file)", cf->path, m->line + 1,
		    m->column + 1) < 0 ? -ENOMEM : 1;
	}
	if (++*n > MAX_EVENTS)
		return cfgfile_error(cf, "%s:%zu:%zu: more than %d YAML "
		    "events", cf->path, m->line + 1, m->column + 1,
		    MAX_EVENTS) < 0 ? -ENOMEM : 1;
	return ev->type == YAML_STREAM_END_EVENT;
}

/* The first pass: syntax and bounds only. 0, -EINVAL or -ENOMEM. */
static int
scan(struct cfgfile *cf, const char *buf, size_t len)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int depth = 0, docs = 0, rc = 0;
	long n = 0;

	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	while (rc == 0) {
		if (!yaml_parser_parse(&p, &ev)) {
			rc = syntax_error(cf, &p) < 0 ? -ENOMEM : 1;
			break;
		}
		rc = bound(cf, &ev, &depth, &n, &docs);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	if (rc < 0)
		return rc;
	return cf->n_errors > 0 ? -EINVAL : 0;
}

static int
walk_root(struct cfgfile *cf, yaml_document_t *doc)
{
	yaml_node_t *root = yaml_document_get_root_node(doc);
	struct walk w = { cf, doc, WALK_BUDGET };

	if (root == NULL || node_is_null(root)) {
		cf->empty = true;
		return 0;
	}
	if (root->type != YAML_MAPPING_NODE)
		return walk_expected(&w, root, "", "a mapping of version, "
		    "flags, resources, sharing and imex");
	return walk_mapping(&w, root, "", top_entry, NULL);
}

static struct cfgfile *
cfgfile_new(const char *path)
{
	struct cfgfile *cf = gdp_calloc(1, sizeof(*cf));

	if (cf == NULL)
		return NULL;
	cf->path = gdp_strdup(path);
	if (cf->path == NULL) {
		gdp_free(cf);
		return NULL;
	}
	cf->time_slicing.fail_requests_greater_than_one = -1;
	cf->mps.fail_requests_greater_than_one = -1;
	return cf;
}

static int
parse_into(struct cfgfile *cf, const char *buf, size_t len)
{
	yaml_parser_t p;
	yaml_document_t doc;
	int rc;

	rc = scan(cf, buf, len);
	if (rc < 0)
		return rc;
	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&p, &doc)) {
		rc = syntax_error(cf, &p);
		yaml_parser_delete(&p);
		return rc < 0 ? rc : -EINVAL;
	}
	rc = walk_root(cf, &doc);
	yaml_document_delete(&doc);
	yaml_parser_delete(&p);
	if (rc < 0)
		return rc;
	return cf->n_errors > 0 ? -EINVAL : 0;
}

static int
finish(struct cfgfile *cf, int rc, struct cfgfile **out)
{
	if (rc == -ENOMEM) {
		cfgfile_free(cf);
		*out = NULL;
		return -ENOMEM;
	}
	*out = cf;
	return rc;
}

int
cfgfile_parse(const char *path, const char *buf, size_t len,
    struct cfgfile **out)
{
	struct cfgfile *cf = cfgfile_new(path);

	*out = NULL;
	if (cf == NULL)
		return -ENOMEM;
	return finish(cf, parse_into(cf, buf, len), out);
}

/* Reads at most CFGFILE_MAX_BYTES from |fd| into |*buf|. */
static int
read_all(struct cfgfile *cf, int fd, char **buf, size_t *len)
{
	size_t cap = 4096;
	char *b = gdp_malloc(cap), *grown;
	ssize_t n = 0;

	*len = 0;
	for (;;) {
		if (b == NULL)
			return -ENOMEM;
		if (*len == cap) {
			cap *= 2;
			grown = gdp_realloc(b, cap);
			if (grown == NULL)
				break;
			b = grown;
		}
		n = read(fd, b + *len, cap - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		*len += (size_t)n;
		if (*len > CFGFILE_MAX_BYTES) {
			gdp_free(b);
			return cfgfile_error(cf, "%s: the config file is "
			    "larger than %zu bytes (a ConfigMap holds at most "
			    "1 MiB)", cf->path, CFGFILE_MAX_BYTES) < 0 ?
			    -ENOMEM : -EINVAL;
		}
	}
	if (n != 0) {
		gdp_free(b);
		if (n > 0)  /* the buffer could not grow */
			return -ENOMEM;
		return cfgfile_error(cf, "%s: cannot read the config file: "
		    "%s", cf->path, strerror(errno)) < 0 ? -ENOMEM : -EINVAL;
	}
	*buf = b;
	return 0;
}

int
cfgfile_load(const char *path, struct cfgfile **out)
{
	struct cfgfile *cf = cfgfile_new(path);
	char *buf = NULL;
	size_t len;
	int fd, rc;

	*out = NULL;
	if (cf == NULL)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = cfgfile_error(cf, "%s: cannot open the config file: %s",
		    path, strerror(errno)) < 0 ? -ENOMEM : -EINVAL;
		return finish(cf, rc, out);
	}
	rc = read_all(cf, fd, &buf, &len);
	close(fd);
	if (rc == 0)
		rc = parse_into(cf, buf, len);
	gdp_free(buf);
	return finish(cf, rc, out);
}

const char *
cfgfile_lookup(void *arg, const char *flag, const char **where)
{
	struct cfgfile *cf = arg;

	for (size_t i = 0; cf != NULL && i < cf->n_settings; i++)
		if (strcmp(cf->settings[i].flag, flag) == 0) {
			*where = cf->settings[i].where;
			return cf->settings[i].value;
		}
	return NULL;
}

static void
free_sharing(struct cfgfile_sharing *s)
{
	for (size_t i = 0; i < s->n_resources; i++) {
		struct cfgfile_replicated *r = &s->resources[i];

		gdp_free(r->name);
		gdp_free(r->rename);
		for (size_t k = 0; k < r->n_list; k++)
			gdp_free(r->list[k]);
		gdp_free(r->list);
		gdp_free(r->where);
		gdp_free(r->devices_where);
	}
	gdp_free(s->resources);
	gdp_free(s->where);
}

static void
free_patterns(struct cfgfile_pattern *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		gdp_free(p[i].pattern);
		gdp_free(p[i].name);
	}
	gdp_free(p);
}

static void
free_lines(char **lines, size_t n)
{
	for (size_t i = 0; i < n; i++)
		gdp_free(lines[i]);
	gdp_free(lines);
}

void
cfgfile_free(struct cfgfile *cf)
{
	if (cf == NULL)
		return;
	for (size_t i = 0; i < cf->n_settings; i++) {
		gdp_free(cf->settings[i].value);
		gdp_free(cf->settings[i].where);
	}
	gdp_free(cf->settings);
	free_patterns(cf->gpus, cf->n_gpus);
	free_patterns(cf->mig, cf->n_mig);
	free_sharing(&cf->time_slicing);
	free_sharing(&cf->mps);
	free_lines(cf->errors, cf->n_errors);
	free_lines(cf->warnings, cf->n_warnings);
	gdp_free(cf->path);
	gdp_free(cf);
}
