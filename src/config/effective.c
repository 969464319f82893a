/*
 * effective.c: the merged configuration (see effective.h).
 *
 * The JSON is built with jansson, keys in the order NVIDIA's structs
 * have them (jansson keeps insertion order), so "Running with config:"
 * lines from the two plugins diff cleanly. jansson allocates through
 * util/alloc.c; any jansson failure is an allocation failure, and the
 * whole document is then NULL, never partial.
 */
#include "effective.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util/alloc.h"

/* Checks across sources. */

static bool
mps_active(const struct cfgfile *cf)
{
	for (size_t i = 0; cf != NULL && i < cf->mps.n_resources; i++)
		if (cf->mps.resources[i].replicas > 1)
			return true;
	return false;
}

static bool
time_slicing_active(const struct cfgfile *cf)
{
	for (size_t i = 0; cf != NULL && i < cf->time_slicing.n_resources; i++)
		if (cf->time_slicing.resources[i].replicas > 1)
			return true;
	return false;
}

static int
check_mps(const struct config *cfg, struct cfgfile *cf)
{
	if (!mps_active(cf))
		return 0;
	if (cfg->mps_root[0] == '\0' && cfgfile_error(cf, "%s: using MPS "
	    "requires --mps-root to be specified (or MPS_ROOT, or "
	    "flags.mpsRoot)", cf->mps.where) < 0)
		return -ENOMEM;
	if (cfg->mig_strategy == MIG_STRATEGY_MIXED && cfgfile_error(cf,
	    "%s: using --mig-strategy=mixed is not supported with MPS",
	    cf->mps.where) < 0)
		return -ENOMEM;
	if (time_slicing_active(cf) && cfgfile_warning(cf, "%s: ignored: "
	    "sharing.mps is set too, and MPS takes precedence",
	    cf->time_slicing.where) < 0)
		return -ENOMEM;
	return 0;
}

int
effective_check(const struct config *cfg, struct cfgfile *cf)
{
	if (cf == NULL)
		return 0;
	return check_mps(cfg, cf) < 0 ? -ENOMEM : 0;
}

const struct cfgfile_sharing *
effective_sharing(const struct cfgfile *cf, bool *mps)
{
	*mps = mps_active(cf);
	if (*mps)
		return &cf->mps;
	return time_slicing_active(cf) ? &cf->time_slicing : NULL;
}

/* The JSON. Each helper returns 0 or -1 (out of memory). */

static int
put(json_t *obj, const char *key, json_t *value)
{
	return value == NULL ? -1 : json_object_set_new(obj, key, value);
}

static int
put_str(json_t *obj, const char *key, const char *s)
{
	return put(obj, key, json_string(s != NULL ? s : ""));
}

/* A list setting's items as an array. */
static json_t *
list_json(const struct config_list *l)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < l->n; i++)
		if (json_array_append_new(a, json_string(l->item[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static const char *const mig_names[] = { "none", "single", "mixed" };
static const char *const discovery_names[] = { "auto", "nvml", "tegra" };
static const char *const policy_names[] = { "distributed", "packed",
	"distributed-strict" };

static json_t *
plugin_flags(const struct config *cfg)
{
	json_t *o = json_object();

	if (o == NULL || put(o, "passDeviceSpecs",
	    json_boolean(cfg->pass_device_specs)) ||
	    put(o, "deviceListStrategy",
	    list_json(&cfg->device_list_strategy)) ||
	    put_str(o, "deviceIDStrategy", cfg->device_id_strategy ==
	    ID_STRATEGY_INDEX ? "index" : "uuid") ||
	    put_str(o, "cdiAnnotationPrefix", cfg->cdi_annotation_prefix) ||
	    put_str(o, "nvidiaCTKPath", cfg->nvidia_cdi_hook_path) ||
	    put_str(o, "containerDriverRoot", cfg->driver_root_ctr_path) ||
	    put_str(o, "sharedDevicesAllocationPolicy",
	    policy_names[cfg->shared_devices_allocation_policy])) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *
flags_json(const struct config *cfg)
{
	json_t *o = json_object();

	if (o == NULL ||
	    put_str(o, "migStrategy", mig_names[cfg->mig_strategy]) ||
	    put(o, "failOnInitError", json_boolean(cfg->fail_on_init_error)) ||
	    put_str(o, "mpsRoot", cfg->mps_root) ||
	    put_str(o, "nvidiaDriverRoot", cfg->driver_root) ||
	    put_str(o, "nvidiaDevRoot", cfg->dev_root) ||
	    put(o, "gdrcopyEnabled", json_boolean(cfg->gdrcopy_enabled)) ||
	    put(o, "gdsEnabled", json_boolean(cfg->gds_enabled)) ||
	    put(o, "mofedEnabled", json_boolean(cfg->mofed_enabled)) ||
	    put_str(o, "deviceDiscoveryStrategy",
	    discovery_names[cfg->device_discovery_strategy]) ||
	    put(o, "plugin", plugin_flags(cfg))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *
pattern(const char *glob, const char *name)
{
	json_t *o = json_object();

	if (o == NULL || put_str(o, "pattern", glob) ||
	    put_str(o, "name", name)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/*
 * NVIDIA's default patterns, which replace any the file has: every full
 * GPU as nvidia.com/gpu, and with --mig-strategy=single every MIG device
 * too. (With mixed, NVIDIA adds one pattern per MIG profile the node's
 * GPUs have, which only NVML can tell; they are not listed here.)
 */
static json_t *
resources_json(const struct config *cfg)
{
	json_t *o = json_object(), *gpus = json_array(), *mig = NULL;

	if (cfg->mig_strategy == MIG_STRATEGY_SINGLE)
		mig = json_array();
	if (o == NULL || gpus == NULL ||
	    json_array_append_new(gpus, pattern("*", cfg->resource_name)) ||
	    json_object_set(o, "gpus", gpus) ||
	    (mig != NULL && (json_array_append_new(mig, pattern("*",
	    cfg->resource_name)) || json_object_set(o, "mig", mig)))) {
		json_decref(o);
		o = NULL;
	}
	json_decref(gpus);
	json_decref(mig);
	return o;
}

static json_t *
devices_json(const struct cfgfile_replicated *r)
{
	json_t *a;

	if (r->devices == CFGFILE_DEVICES_ALL)
		return json_string("all");
	if (r->devices == CFGFILE_DEVICES_COUNT)
		return json_integer((json_int_t)r->count);
	if ((a = json_array()) == NULL)
		return NULL;
	for (size_t i = 0; i < r->n_list; i++)
		if (json_array_append_new(a, json_string(r->list[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *
replicated_json(const struct cfgfile_replicated *r)
{
	json_t *o = json_object();

	if (o == NULL || put_str(o, "name", r->name) ||
	    (r->rename != NULL && put_str(o, "rename", r->rename)) ||
	    put(o, "devices", devices_json(r)) ||
	    put(o, "replicas", json_integer((json_int_t)r->replicas))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* As NVIDIA writes it: fields left at their zero value are left out. */
static json_t *
sharing_kind_json(const struct cfgfile_sharing *s)
{
	json_t *o = json_object(), *list = NULL;

	if (o == NULL || !s->present)
		return o;
	if ((s->rename_by_default && put(o, "renameByDefault",
	    json_true())) || (s->fail_requests_greater_than_one >= 0 &&
	    put(o, "failRequestsGreaterThanOne",
	    json_boolean(s->fail_requests_greater_than_one))) ||
	    put(o, "resources", list = json_array()))
		goto fail;
	for (size_t i = 0; i < s->n_resources; i++)
		if (json_array_append_new(list,
		    replicated_json(&s->resources[i])) < 0)
			goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

static json_t *
sharing_json(const struct cfgfile *cf)
{
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
	if (put(o, "timeSlicing", cf != NULL ?
	    sharing_kind_json(&cf->time_slicing) : json_object()) ||
	    (cf != NULL && cf->mps.present && put(o, "mps",
	    sharing_kind_json(&cf->mps)))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *
imex_ids_json(const struct config *cfg)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < cfg->n_imex_channel_ids; i++)
		if (json_array_append_new(a,
		    json_integer(cfg->imex_channel_ids[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *
imex_json(const struct config *cfg)
{
	json_t *o = json_object();

	if (o == NULL || (cfg->n_imex_channel_ids > 0 &&
	    put(o, "channelIDs", imex_ids_json(cfg))) ||
	    (cfg->imex_required && put(o, "required", json_true()))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

char *
effective_json(const struct config *cfg, const struct cfgfile *cf,
    bool pretty)
{
	json_t *root;
	char *text, *copy = NULL;

	/* jansson's heap through ours too (the same functions each time). */
	json_set_alloc_funcs(gdp_malloc, gdp_free);
	root = json_object();
	if (root == NULL || put_str(root, "version", "v1") ||
	    put(root, "flags", flags_json(cfg)) ||
	    put(root, "resources", resources_json(cfg)) ||
	    put(root, "sharing", sharing_json(cf)) ||
	    put(root, "imex", imex_json(cfg))) {
		json_decref(root);
		errno = ENOMEM;
		return NULL;
	}
	text = json_dumps(root, pretty ? JSON_INDENT(2) : JSON_COMPACT);
	json_decref(root);
	if (text != NULL)
		copy = gdp_strdup(text);
	gdp_free(text);
	if (copy == NULL)
		errno = ENOMEM;
	return copy;
}
