/*
 * flags.c: flags and environment variables (see flags.h).
 *
 * One table describes every setting: flag names (NVIDIA's, with their
 * aliases), environment variables, kind and default. Parsing walks argv
 * against the table, then fills what argv left unset from the
 * environment, then from the config file's layer (if any), then from the
 * defaults, then checks the values.
 */
#include "flags.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum kind {
	KIND_STRING,
	KIND_BOOL,
	KIND_DURATION,
	KIND_COUNT,               /* a whole number, 1 to max */
	KIND_SIZE,                /* bytes, 1 to max; K/M/G suffixes */
};

struct setting {
	const char *flags[3];     /* long names, without "--" */
	const char *envs[3];
	enum kind kind;
	const char *def;
	size_t offset;            /* into struct config */
	const char *help;
};

/* The largest count and size accepted (a size past what memory holds is
 * no limit; --max-header-list-size has its own, in check_values()). */
#define MAX_COUNT 1000000
#define MAX_SIZE ((int64_t)1 << 40)
#define MAX_HEADER_LIST ((int64_t)16 << 20)

#define OFF(field) offsetof(struct config, field)

static const struct setting settings[] = {
	{ { "kubelet-socket" }, { "KUBELET_SOCKET" }, KIND_STRING,
	  "/var/lib/kubelet/device-plugins/kubelet.sock",
	  OFF(kubelet_socket), "the kubelet's registration socket; its "
	  "directory holds the plugin's socket (empty: do not register)" },
	{ { "fail-on-init-error" }, { "FAIL_ON_INIT_ERROR" }, KIND_BOOL,
	  "true", OFF(fail_on_init_error), "exit 1 if NVML cannot be "
	  "loaded or initialised (false: log it and stay idle)" },
	{ { "fail-on-no-gpus" }, { "FAIL_ON_NO_GPUS" }, KIND_BOOL, "false",
	  OFF(fail_on_no_gpus), "exit 1 when NVML finds no GPU (default: "
	  "log it and stay idle)" },
	{ { "driver-root", "nvidia-driver-root" }, { "NVIDIA_DRIVER_ROOT" },
	  KIND_STRING, "/", OFF(driver_root), "host path of the driver "
	  "root (/ or /run/nvidia/driver)" },
	{ { "driver-root-ctr-path", "container-driver-root" },
	  { "DRIVER_ROOT_CTR_PATH", "CONTAINER_DRIVER_ROOT" }, KIND_STRING,
	  "/driver-root", OFF(driver_root_ctr_path), "where the host's "
	  "driver root is mounted in the plugin's container" },
	{ { "dev-root", "nvidia-dev-root" }, { "NVIDIA_DEV_ROOT" },
	  KIND_STRING, "", OFF(dev_root), "host path prefix of /dev "
	  "nodes (default: the driver root)" },
	{ { "mig-strategy" }, { "MIG_STRATEGY" }, KIND_STRING, "none",
	  OFF(mig_strategy), "none | single | mixed" },
	{ { "device-list-strategy" }, { "DEVICE_LIST_STRATEGY" },
	  KIND_STRING, "envvar", OFF(device_list_strategy),
	  "how Allocate passes devices: envvar" },
	{ { "pass-device-specs" }, { "PASS_DEVICE_SPECS" }, KIND_BOOL,
	  "false", OFF(pass_device_specs), "add the /dev nodes to Allocate "
	  "answers" },
	{ { "config-file" }, { "CONFIG_FILE" }, KIND_STRING, "",
	  OFF(config_file), "configuration file (YAML or JSON)" },
	{ { "sysfs-root" }, { "GDP_SYSFS_ROOT" }, KIND_STRING, "/sys",
	  OFF(sysfs_root), "where sysfs is mounted (NUMA nodes are read "
	  "from it)" },
	{ { "health-probe-interval" }, { "GDP_HEALTH_PROBE_INTERVAL" },
	  KIND_DURATION, "5s", OFF(health_probe_ms), "how often each GPU "
	  "is probed for being lost (0: never)" },
	{ { "health-recovery-quiet" }, { "GDP_HEALTH_RECOVERY_QUIET" },
	  KIND_DURATION, "5m", OFF(health_quiet_ms), "a GPU unhealthy from "
	  "a transient XID is healthy again after this long without one" },
	{ { "health-unhealthy-without-events" },
	  { "GDP_HEALTH_UNHEALTHY_WITHOUT_EVENTS" }, KIND_BOOL, "true",
	  OFF(health_unhealthy_without_events), "mark GPUs unhealthy while "
	  "NVML health events cannot be had" },
	/* The gRPC server's limits; docs/grpc.md says why these defaults
	 * are far above what the kubelet uses. */
	{ { "max-connections" }, { "GDP_MAX_CONNECTIONS" }, KIND_COUNT,
	  "128", OFF(max_connections), "connections at once; at the cap "
	  "the one longest without progress is closed" },
	{ { "max-streams-per-connection" },
	  { "GDP_MAX_STREAMS_PER_CONNECTION" }, KIND_COUNT, "128",
	  OFF(max_streams_per_connection), "concurrent streams per "
	  "connection (SETTINGS_MAX_CONCURRENT_STREAMS)" },
	{ { "max-partial-bytes-per-connection" },
	  { "GDP_MAX_PARTIAL_BYTES_PER_CONNECTION" }, KIND_SIZE, "16Mi",
	  OFF(max_partial_per_connection), "bytes of unfinished request "
	  "messages one connection may hold" },
	{ { "max-partial-bytes-total" }, { "GDP_MAX_PARTIAL_BYTES_TOTAL" },
	  KIND_SIZE, "64Mi", OFF(max_partial_total), "bytes of unfinished "
	  "request messages all connections may hold" },
	{ { "max-queued-output-per-call" },
	  { "GDP_MAX_QUEUED_OUTPUT_PER_CALL" }, KIND_SIZE, "8Mi",
	  OFF(max_output_per_call), "bytes of answers queued on one call "
	  "(its first included)" },
	{ { "max-queued-output-per-connection" },
	  { "GDP_MAX_QUEUED_OUTPUT_PER_CONNECTION" }, KIND_SIZE, "16Mi",
	  OFF(max_output_per_connection), "bytes of answers queued on one "
	  "connection" },
	{ { "max-queued-output-total" }, { "GDP_MAX_QUEUED_OUTPUT_TOTAL" },
	  KIND_SIZE, "64Mi", OFF(max_output_total), "bytes of answers "
	  "queued on all connections (past it the one holding the most is "
	  "closed)" },
	{ { "max-header-list-size" }, { "GDP_MAX_HEADER_LIST_SIZE" },
	  KIND_SIZE, "16Ki", OFF(max_header_list_size), "bytes of request "
	  "headers per stream (SETTINGS_MAX_HEADER_LIST_SIZE)" },
	{ { "preface-timeout" }, { "GDP_PREFACE_TIMEOUT" }, KIND_DURATION,
	  "10s", OFF(preface_timeout_ms), "a new connection must send its "
	  "HTTP/2 preface within this (0: no limit)" },
	{ { "request-timeout" }, { "GDP_REQUEST_TIMEOUT" }, KIND_DURATION,
	  "30s", OFF(request_timeout_ms), "a request must be complete this "
	  "long after its stream opens (0: no limit)" },
	{ { "idle-timeout" }, { "GDP_IDLE_TIMEOUT" }, KIND_DURATION, "5m",
	  OFF(idle_timeout_ms), "a connection without a stream is closed "
	  "after this (0: never)" },
	{ { "seccomp" }, { "GDP_SECCOMP" }, KIND_STRING, "enforce",
	  OFF(seccomp), "enforce | log | off: the system-call allowlist; "
	  "log lets a call off it run and the kernel log it" },
	/* Config file hook: settings the file maps to, with NVIDIA's
	 * names and defaults, until the rework of the flags lands. */
	{ { "mps-root" }, { "MPS_ROOT" }, KIND_STRING, "", OFF(mps_root),
	  "where the MPS daemons' pipes and shared memory are (sharing)" },
	{ { "gdrcopy-enabled" }, { "GDRCOPY_ENABLED" }, KIND_BOOL, "false",
	  OFF(gdrcopy_enabled), "(not in effect yet)" },
	{ { "gds-enabled" }, { "GDS_ENABLED" }, KIND_BOOL, "false",
	  OFF(gds_enabled), "(not in effect yet)" },
	{ { "mofed-enabled" }, { "MOFED_ENABLED" }, KIND_BOOL, "false",
	  OFF(mofed_enabled), "(not in effect yet)" },
	{ { "device-discovery-strategy" }, { "DEVICE_DISCOVERY_STRATEGY" },
	  KIND_STRING, "auto", OFF(device_discovery_strategy),
	  "(not in effect yet)" },
	{ { "cdi-annotation-prefix" }, { "CDI_ANNOTATION_PREFIX" },
	  KIND_STRING, "cdi.k8s.io/", OFF(cdi_annotation_prefix),
	  "(not in effect yet)" },
	{ { "nvidia-cdi-hook-path", "nvidia-ctk-path" },
	  { "NVIDIA_CDI_HOOK_PATH", "NVIDIA_CTK_PATH" }, KIND_STRING,
	  "/usr/bin/nvidia-ctk", OFF(nvidia_cdi_hook_path),
	  "(not in effect yet)" },
	{ { "shared-devices-allocation-policy" },
	  { "SHARED_DEVICES_ALLOCATION_POLICY" }, KIND_STRING, "distributed",
	  OFF(shared_devices_allocation_policy), "(not in effect yet)" },
	{ { "imex-channel-ids" }, { "IMEX_CHANNEL_IDS" }, KIND_STRING, "",
	  OFF(imex_channel_ids), "(not in effect yet)" },
	{ { "imex-required" }, { "IMEX_REQUIRED" }, KIND_BOOL, "false",
	  OFF(imex_required), "(not in effect yet)" },
};

static const struct setting id_strategy_setting = {
	{ "device-id-strategy" }, { "DEVICE_ID_STRATEGY" }, KIND_STRING,
	"uuid", 0, "uuid | index: the ids NVIDIA_VISIBLE_DEVICES carries",
};

#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

static int
parse_bool(const char *v, bool *out)
{
	if (!strcasecmp(v, "true") || !strcmp(v, "1") ||
	    !strcasecmp(v, "yes") || !strcasecmp(v, "on"))
		*out = true;
	else if (!strcasecmp(v, "false") || !strcmp(v, "0") ||
	    !strcasecmp(v, "no") || !strcasecmp(v, "off"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

/* "500ms", "5s", "2m", "1h", or plain seconds; into ms. */
static int
parse_duration(const char *v, int64_t *ms)
{
	static const struct { const char *unit; int64_t ms; } units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
		{ "", 1000 },
	};
	char *end;
	long long n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || end == v || n < 0 || n > 1000000000LL)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(end, units[i].unit) == 0) {
			*ms = n * units[i].ms;
			return 0;
		}
	return -EINVAL;
}

/* "64", "16Ki", "16KiB", "4M", "1G" (binary multiples), from 1 to the
 * kind's maximum. */
static int
parse_number(const char *v, bool sized, int64_t *out)
{
	static const struct { const char *unit; int64_t mult; } units[] = {
		{ "", 1 }, { "B", 1 },
		{ "K", 1 << 10 }, { "Ki", 1 << 10 }, { "KiB", 1 << 10 },
		{ "M", 1 << 20 }, { "Mi", 1 << 20 }, { "MiB", 1 << 20 },
		{ "G", 1 << 30 }, { "Gi", 1 << 30 }, { "GiB", 1 << 30 },
	};
	size_t nunits = sized ? sizeof(units) / sizeof(units[0]) : 1;
	int64_t max = sized ? MAX_SIZE : MAX_COUNT;
	char *end;
	long long n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || end == v || v[0] == '-' || v[0] == '+' || n < 1)
		return -EINVAL;
	for (size_t i = 0; i < nunits; i++)
		if (strcmp(end, units[i].unit) == 0) {
			if (n > max / units[i].mult)
				return -ERANGE;
			*out = n * units[i].mult;
			return 0;
		}
	return -EINVAL;
}

static int
store_number(struct config *cfg, const struct setting *s, const char *value,
    const char *source, char *err, size_t errlen)
{
	bool sized = s->kind == KIND_SIZE;

	if (parse_number(value, sized, (int64_t *)((char *)cfg +
	    s->offset)) == 0)
		return 0;
	snprintf(err, errlen, "%s: \"%s\" is not %s from 1 to %lld%s",
	    source, value, sized ? "a size in bytes" : "a whole number",
	    (long long)(sized ? MAX_SIZE : MAX_COUNT), sized ? " (suffixes "
	    "K, M, G: 1024, 1024^2, 1024^3)" : "");
	return -EINVAL;
}

static int
store(struct config *cfg, const struct setting *s, const char *value,
    const char *source, char *err, size_t errlen)
{
	if (s->kind == KIND_COUNT || s->kind == KIND_SIZE)
		return store_number(cfg, s, value, source, err, errlen);
	if (s->kind == KIND_DURATION) {
		if (parse_duration(value, (int64_t *)((char *)cfg +
		    s->offset)) == 0)
			return 0;
		snprintf(err, errlen, "%s: \"%s\" is not a duration (like "
		    "500ms, 5s, 2m)", source, value);
		return -EINVAL;
	}
	if (s->kind == KIND_STRING) {
		*(const char **)((char *)cfg + s->offset) = value;
		return 0;
	}
	if (parse_bool(value, (bool *)((char *)cfg + s->offset)) == 0)
		return 0;
	snprintf(err, errlen, "%s: \"%s\" is not a boolean (true or false)",
	    source, value);
	return -EINVAL;
}

static const struct setting *
find_flag(const char *name, size_t len)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		for (size_t k = 0; k < 3 && settings[i].flags[k]; k++)
			if (strlen(settings[i].flags[k]) == len &&
			    !strncmp(settings[i].flags[k], name, len))
				return &settings[i];
	if (len == 18 && !strncmp(name, "device-id-strategy", len))
		return &id_strategy_setting;
	return NULL;
}

/* One "--name[=value]" (value may be the next argument). */
static int
parse_flag(struct config *cfg, int argc, char **argv, int *i, bool *seen,
    const char **id_strategy, char *err, size_t errlen)
{
	const char *arg = argv[*i] + 2, *eq = strchr(arg, '=');
	size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
	const struct setting *s = find_flag(arg, len);
	const char *value = eq ? eq + 1 : NULL;
	char source[128];

	if (s == NULL) {
		snprintf(err, errlen, "unknown flag --%.*s (see --help)",
		    (int)len, arg);
		return -EINVAL;
	}
	if (value == NULL && s->kind == KIND_BOOL)
		value = "true";
	if (value == NULL && *i + 1 < argc)
		value = argv[++*i];
	if (value == NULL) {
		snprintf(err, errlen, "flag --%s needs a value", s->flags[0]);
		return -EINVAL;
	}
	if (s == &id_strategy_setting) {
		*id_strategy = value;
		return 0;
	}
	seen[s - settings] = true;
	snprintf(source, sizeof(source), "--%s", s->flags[0]);
	return store(cfg, s, value, source, err, errlen);
}

/* Config file hook: the layer's value for |s|, and its place. */
static const char *
from_layer(const struct config_layer *layer, const struct setting *s,
    const char **where)
{
	const char *v = NULL;

	for (size_t k = 0; layer != NULL && k < 3 && s->flags[k] && !v; k++)
		v = layer->lookup(layer->arg, s->flags[k], where);
	return v;
}

/* "WHERE: " when |value| is the layer's text for |flag|, else "". */
static const char *
blame(const struct config_layer *layer, const char *flag, const char *value,
    char *buf, size_t len)
{
	const char *where = NULL, *v = NULL;

	if (layer != NULL)
		v = layer->lookup(layer->arg, flag, &where);
	if (v == NULL || v != value)
		return "";
	snprintf(buf, len, "%s: ", where);
	return buf;
}

/* Environment, then the layer, then default, for what argv did not set. */
static int
fill_unset(struct config *cfg, const bool *seen,
    const struct config_layer *layer, char *err, size_t errlen)
{
	for (size_t i = 0; i < NSETTINGS; i++) {
		const struct setting *s = &settings[i];
		const char *value = NULL, *source = "default";
		char src[128];

		if (seen[i])
			continue;
		for (size_t k = 0; k < 3 && s->envs[k] && !value; k++) {
			value = getenv(s->envs[k]);
			source = s->envs[k];
		}
		if (value == NULL)
			value = from_layer(layer, s, &source);
		if (value == NULL) {
			value = s->def;
			source = "default";
		}
		snprintf(src, sizeof(src), "%s (for --%s)", source,
		    s->flags[0]);
		if (store(cfg, s, value, src, err, errlen) < 0)
			return -EINVAL;
	}
	return 0;
}

static int
check_values(struct config *cfg, const char *id_strategy,
    const struct config_layer *layer, char *err, size_t errlen)
{
	char at[1024];
	const char *where = NULL;

	if (id_strategy == NULL)
		id_strategy = getenv("DEVICE_ID_STRATEGY");
	if (id_strategy == NULL && layer != NULL)
		id_strategy = layer->lookup(layer->arg, "device-id-strategy",
		    &where);
	if (id_strategy == NULL || !strcmp(id_strategy, "uuid"))
		cfg->device_id_strategy = ID_STRATEGY_UUID;
	else if (!strcmp(id_strategy, "index"))
		cfg->device_id_strategy = ID_STRATEGY_INDEX;
	else {
		snprintf(err, errlen, "%s%sinvalid --device-id-strategy "
		    "option: %s (uuid or index)", where ? where : "",
		    where ? ": " : "", id_strategy);
		return -EINVAL;
	}
	/* MIG devices are not advertised yet: single and mixed serve the
	 * full GPUs, as none does (main.c says so at start). */
	if (strcmp(cfg->mig_strategy, "none") != 0 &&
	    strcmp(cfg->mig_strategy, "single") != 0 &&
	    strcmp(cfg->mig_strategy, "mixed") != 0) {
		snprintf(err, errlen, "%sunknown MIG strategy: %s (none, "
		    "single or mixed)", blame(layer, "mig-strategy",
		    cfg->mig_strategy, at, sizeof(at)), cfg->mig_strategy);
		return -EINVAL;
	}
	if (strcmp(cfg->device_list_strategy, "envvar") != 0) {
		snprintf(err, errlen, "%sinvalid --device-list-strategy "
		    "option: %s (envvar is supported so far)", blame(layer,
		    "device-list-strategy", cfg->device_list_strategy, at,
		    sizeof(at)), cfg->device_list_strategy);
		return -EINVAL;
	}
	if (cfg->max_header_list_size > MAX_HEADER_LIST) {
		snprintf(err, errlen, "--max-header-list-size: %lld is over "
		    "the %lld bytes allowed",
		    (long long)cfg->max_header_list_size,
		    (long long)MAX_HEADER_LIST);
		return -EINVAL;
	}
	if (strcmp(cfg->seccomp, "enforce") != 0 &&
	    strcmp(cfg->seccomp, "log") != 0 &&
	    strcmp(cfg->seccomp, "off") != 0) {
		snprintf(err, errlen, "invalid --seccomp option (GDP_SECCOMP): "
		    "\"%s\" (enforce, log or off)", cfg->seccomp);
		return -EINVAL;
	}
	if (cfg->dev_root[0] == '\0')
		cfg->dev_root = cfg->driver_root;
	/* NVIDIA reads these two only from the environment. */
	cfg->disable_healthchecks = getenv("DP_DISABLE_HEALTHCHECKS");
	cfg->enable_healthchecks = getenv("DP_ENABLE_HEALTHCHECKS");
	return 0;
}

int
config_parse(struct config *cfg, int argc, char **argv, char *err,
    size_t errlen)
{
	return config_parse_layered(cfg, argc, argv, NULL, err, errlen);
}

int
config_parse_layered(struct config *cfg, int argc, char **argv,
    const struct config_layer *layer, char *err, size_t errlen)
{
	bool seen[NSETTINGS] = { false };
	const char *id_strategy = NULL;

	memset(cfg, 0, sizeof(*cfg));
	cfg->resource_name = "nvidia.com/gpu";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			cfg->help = true;
		} else if (!strcmp(a, "--version")) {
			cfg->version = true;
		} else if (!strcmp(a, "--check-config")) {
			cfg->check_config = true;
		} else if (!strncmp(a, "--", 2)) {
			if (parse_flag(cfg, argc, argv, &i, seen, &id_strategy,
			    err, errlen) < 0)
				return -EINVAL;
		} else if (cfg->command == NULL && !strcmp(a, "list")) {
			cfg->command = a;
		} else {
			snprintf(err, errlen, "unexpected argument \"%s\" "
			    "(see --help)", a);
			return -EINVAL;
		}
	}
	if (fill_unset(cfg, seen, layer, err, errlen) < 0)
		return -EINVAL;
	return check_values(cfg, id_strategy, layer, err, errlen);
}

void
config_usage(void *out)
{
	FILE *f = out;

	fprintf(f, "usage: gpu-device-plugin [list] [--flag=value ...]\n\n"
	    "Advertises this node's NVIDIA GPUs to the kubelet as "
	    "nvidia.com/gpu.\n  list      print the GPUs found and the "
	    "resources that would be advertised\n\nFlags (environment "
	    "variable; default):\n");
	for (size_t i = 0; i <= NSETTINGS; i++) {
		const struct setting *s = i < NSETTINGS ? &settings[i] :
		    &id_strategy_setting;

		fprintf(f, "  --%-22s %s\n      (%s; default \"%s\")\n",
		    s->flags[0], s->help, s->envs[0], s->def);
	}
	fprintf(f, "  --%-22s %s\n      (%s)\n  --help, --version\n",
	    "check-config", "check the flags, environment and config file, "
	    "print the", "configuration in effect; exit 0 if good, else 1");
}
