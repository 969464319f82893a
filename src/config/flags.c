/*
 * flags.c: flags and environment variables (see flags.h).
 *
 * One table describes every setting: flag names (NVIDIA's, with their
 * aliases), environment variables, config-file key, kind and default.
 * Parsing walks argv against the table, then fills what argv left unset
 * from the environment, then from the caller's layer (the config file),
 * then from the defaults, then checks the values. Each setting's origin
 * is kept, for messages and for the warnings about NVIDIA settings whose
 * effect is not here yet (|pending|).
 *
 * The command line follows Go's flag package, which NVIDIA's urfave/cli
 * uses: one or two dashes, "=value" or the next argument as the value
 * (a boolean takes only "=value"), "--" ends the flags.
 */
#include "flags.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "metrics/address.h"

enum kind {
	KIND_STRING,
	KIND_BOOL,
	KIND_DURATION,
	KIND_COUNT,               /* a whole number, 1 to max */
	KIND_SIZE,                /* bytes, 1 to max; K/M/G suffixes */
	KIND_CHOICE,              /* one of |choices|, stored as its index */
	KIND_LIST,                /* comma-separated, a struct config_list */
};

struct setting {
	const char *flags[3];     /* long names, without dashes */
	const char *envs[3];
	const char *def;
	size_t offset;            /* into struct config */
	const char *file_key;     /* NULL: not in the config file */
	const char *const *choices; /* KIND_CHOICE, in enum order */
	const char *bad;          /* KIND_CHOICE: NVIDIA's words before X */
	const char *pending;      /* set, but not applied yet: what is not */
	const char *help;
	enum kind kind;
	int supported;            /* KIND_CHOICE: the first N are ours
				   * (0: all); the rest are refused later */
};

/* The largest count and size accepted (a size past what memory holds is
 * no limit; --max-header-list-size has its own, in check_values()). */
#define MAX_COUNT 1000000
#define MAX_SIZE ((int64_t)1 << 40)
#define MAX_HEADER_LIST ((int64_t)16 << 20)

#define OFF(field) offsetof(struct config, field)

static const char *const mig_choices[] = { "none", "single", "mixed",
	NULL };
static const char *const id_choices[] = { "uuid", "index", NULL };
static const char *const discovery_choices[] = { "auto", "nvml", "tegra",
	NULL };
static const char *const policy_choices[] = { "distributed", "packed",
	"distributed-strict", NULL };
static const char *const list_strategies[] = { "envvar", "volume-mounts",
	"cdi-annotations", "cdi-cri", NULL };

static const struct setting settings[] = {
	{ .flags = { "kubelet-socket" }, .envs = { "KUBELET_SOCKET" },
	  .kind = KIND_STRING,
	  .def = "/var/lib/kubelet/device-plugins/kubelet.sock",
	  .offset = OFF(kubelet_socket), .help = "the kubelet's "
	  "registration socket; its directory holds the plugin's socket "
	  "(empty: do not register)" },
	{ .flags = { "fail-on-init-error" }, .envs = { "FAIL_ON_INIT_ERROR" },
	  .kind = KIND_BOOL, .def = "true", .offset = OFF(fail_on_init_error),
	  .file_key = "flags.failOnInitError", .help = "exit 1 if NVML "
	  "cannot be loaded or initialised (false: log it and stay idle)" },
	{ .flags = { "fail-on-no-gpus" }, .envs = { "FAIL_ON_NO_GPUS" },
	  .kind = KIND_BOOL, .def = "false", .offset = OFF(fail_on_no_gpus),
	  .help = "exit 1 when NVML finds no GPU (default: log it and stay "
	  "idle)" },
	{ .flags = { "driver-root", "nvidia-driver-root" },
	  .envs = { "NVIDIA_DRIVER_ROOT" }, .kind = KIND_STRING, .def = "/",
	  .offset = OFF(driver_root), .file_key = "flags.nvidiaDriverRoot",
	  .help = "host path of the driver root (/ or /run/nvidia/driver)" },
	{ .flags = { "driver-root-ctr-path", "container-driver-root" },
	  .envs = { "DRIVER_ROOT_CTR_PATH", "CONTAINER_DRIVER_ROOT" },
	  .kind = KIND_STRING, .def = "/driver-root",
	  .offset = OFF(driver_root_ctr_path),
	  .file_key = "flags.plugin.containerDriverRoot", .help = "where "
	  "the host's driver root is mounted in the plugin's container" },
	{ .flags = { "dev-root", "nvidia-dev-root" },
	  .envs = { "NVIDIA_DEV_ROOT" }, .kind = KIND_STRING, .def = "",
	  .offset = OFF(dev_root), .file_key = "flags.nvidiaDevRoot",
	  .help = "host path prefix of /dev nodes (default: the driver "
	  "root)" },
	{ .flags = { "mig-strategy" }, .envs = { "MIG_STRATEGY" },
	  .kind = KIND_CHOICE, .def = "none", .offset = OFF(mig_strategy),
	  .file_key = "flags.migStrategy", .choices = mig_choices,
	  .bad = "unknown MIG strategy: ", .help = "none | single | mixed "
	  "(none: GPUs whole; single: MIG devices as the GPU resource; "
	  "mixed: a resource per MIG profile)" },
	{ .flags = { "device-list-strategy" },
	  .envs = { "DEVICE_LIST_STRATEGY" }, .kind = KIND_LIST,
	  .def = "envvar", .offset = OFF(device_list_strategy),
	  .file_key = "flags.plugin.deviceListStrategy",
	  .help = "how Allocate passes devices: "
	  "envvar, volume-mounts, cdi-annotations, cdi-cri (a list)" },
	{ .flags = { "device-id-strategy" }, .envs = { "DEVICE_ID_STRATEGY" },
	  .kind = KIND_CHOICE, .def = "uuid",
	  .offset = OFF(device_id_strategy),
	  .file_key = "flags.plugin.deviceIDStrategy", .choices = id_choices,
	  .bad = "invalid --device-id-strategy option: ", .help = "uuid | "
	  "index: the ids NVIDIA_VISIBLE_DEVICES carries" },
	{ .flags = { "pass-device-specs" }, .envs = { "PASS_DEVICE_SPECS" },
	  .kind = KIND_BOOL, .def = "false", .offset = OFF(pass_device_specs),
	  .file_key = "flags.plugin.passDeviceSpecs", .help = "add the /dev "
	  "nodes to Allocate answers" },
	{ .flags = { "gdrcopy-enabled" }, .envs = { "GDRCOPY_ENABLED" },
	  .kind = KIND_BOOL, .def = "false", .offset = OFF(gdrcopy_enabled),
	  .file_key = "flags.gdrcopyEnabled",
	  .help = "containers get GDRCopy (NVIDIA_GDRCOPY=enabled)" },
	{ .flags = { "gds-enabled" }, .envs = { "GDS_ENABLED" },
	  .kind = KIND_BOOL, .def = "false", .offset = OFF(gds_enabled),
	  .file_key = "flags.gdsEnabled",
	  .help = "containers get GPUDirect Storage (NVIDIA_GDS=enabled)" },
	{ .flags = { "mofed-enabled" }, .envs = { "MOFED_ENABLED" },
	  .kind = KIND_BOOL, .def = "false", .offset = OFF(mofed_enabled),
	  .file_key = "flags.mofedEnabled",
	  .help = "containers get MOFED (NVIDIA_MOFED=enabled)" },
	{ .flags = { "cdi-annotation-prefix" },
	  .envs = { "CDI_ANNOTATION_PREFIX" }, .kind = KIND_STRING,
	  .def = "cdi.k8s.io/", .offset = OFF(cdi_annotation_prefix),
	  .file_key = "flags.plugin.cdiAnnotationPrefix", .help = "prefix "
	  "of the CDI annotation keys (cdi-annotations strategy)" },
	{ .flags = { "nvidia-cdi-hook-path", "nvidia-ctk-path" },
	  .envs = { "NVIDIA_CDI_HOOK_PATH", "NVIDIA_CTK_PATH" },
	  .kind = KIND_STRING, .def = "/usr/bin/nvidia-ctk",
	  .offset = OFF(nvidia_cdi_hook_path),
	  .file_key = "flags.plugin.nvidiaCTKPath", .help = "the hook "
	  "binary CDI specs name" },
	{ .flags = { "cdi-spec-dir" }, .envs = { "CDI_SPEC_DIR" },
	  .kind = KIND_STRING, .def = "/var/run/cdi",
	  .offset = OFF(cdi_spec_dir), .help = "where CDI specs are "
	  "written (ours; the directory containerd and CRI-O read)" },
	{ .flags = { "mps-root" }, .envs = { "MPS_ROOT" },
	  .kind = KIND_STRING, .def = "", .offset = OFF(mps_root),
	  .file_key = "flags.mpsRoot",
	  .help = "host path of the MPS "
	  "daemons' pipes and shm (needed for MPS sharing)" },
	{ .flags = { "shared-devices-allocation-policy" },
	  .envs = { "SHARED_DEVICES_ALLOCATION_POLICY" },
	  .kind = KIND_CHOICE, .def = "distributed",
	  .offset = OFF(shared_devices_allocation_policy),
	  .file_key = "flags.plugin.sharedDevicesAllocationPolicy",
	  .choices = policy_choices,
	  .bad = "invalid --shared-devices-allocation-policy option: ",
	  .help = "distributed | packed | distributed-strict: how "
	  "GetPreferredAllocation picks replicas of shared devices (fewest "
	  "in use first; most in use first; one per device while enough "
	  "devices have one free)" },
	{ .flags = { "device-discovery-strategy" },
	  .envs = { "DEVICE_DISCOVERY_STRATEGY" }, .kind = KIND_CHOICE,
	  .def = "auto", .offset = OFF(device_discovery_strategy),
	  .file_key = "flags.deviceDiscoveryStrategy",
	  .choices = discovery_choices,
	  .bad = "invalid --device-discovery-strategy option ",
	  .supported = 2,
	  .help = "auto | nvml (tegra is not supported)" },
	{ .flags = { "imex-channel-ids" }, .envs = { "IMEX_CHANNEL_IDS" },
	  .kind = KIND_LIST, .def = "", .offset = OFF(imex_channel_ids_given),
	  .file_key = "imex.channelIDs",
	  .help = "IMEX channels to give containers: none or 0" },
	{ .flags = { "imex-required" }, .envs = { "IMEX_REQUIRED" },
	  .kind = KIND_BOOL, .def = "false", .offset = OFF(imex_required),
	  .file_key = "imex.required", .help = "the IMEX channels must "
	  "exist" },
	{ .flags = { "cdi-feature-flags" }, .envs = { "CDI_FEATURE_FLAGS" },
	  .kind = KIND_LIST, .def = "", .offset = OFF(cdi_feature_flags),
	  .pending = "CDI specs are generated without feature flags",
	  .help = "feature flags of CDI spec generation" },
	{ .flags = { "cdi-disable-hooks" }, .envs = { "CDI_DISABLE_HOOKS" },
	  .kind = KIND_LIST, .def = "", .offset = OFF(cdi_disable_hooks),
	  .help = "hooks left out of the CDI spec (all: every one)" },
	{ .flags = { "config-file" }, .envs = { "CONFIG_FILE" },
	  .kind = KIND_STRING, .def = "", .offset = OFF(config_file),
	  .help = "configuration file (YAML or JSON)" },
	{ .flags = { "sysfs-root" }, .envs = { "GDP_SYSFS_ROOT" },
	  .kind = KIND_STRING, .def = "/sys", .offset = OFF(sysfs_root),
	  .help = "where sysfs is mounted (NUMA nodes are read from it)" },
	{ .flags = { "proc-root" }, .envs = { "GDP_PROC_ROOT" },
	  .kind = KIND_STRING, .def = "/proc", .offset = OFF(proc_root),
	  .help = "where procfs is mounted (MIG capability minors are read "
	  "from driver/nvidia-caps/mig-minors under it)" },
	{ .flags = { "health-probe-interval" },
	  .envs = { "GDP_HEALTH_PROBE_INTERVAL" }, .kind = KIND_DURATION,
	  .def = "5s", .offset = OFF(health_probe_ms), .help = "how often "
	  "each GPU is probed for being lost (0: never)" },
	{ .flags = { "health-recovery-quiet" },
	  .envs = { "GDP_HEALTH_RECOVERY_QUIET" }, .kind = KIND_DURATION,
	  .def = "5m", .offset = OFF(health_quiet_ms), .help = "a GPU "
	  "unhealthy from a transient XID is healthy again after this long "
	  "without one" },
	{ .flags = { "health-unhealthy-without-events" },
	  .envs = { "GDP_HEALTH_UNHEALTHY_WITHOUT_EVENTS" },
	  .kind = KIND_BOOL, .def = "true",
	  .offset = OFF(health_unhealthy_without_events), .help = "mark "
	  "GPUs unhealthy while NVML health events cannot be had" },
	/* The gRPC server's limits; docs/grpc.md says why these defaults
	 * are far above what the kubelet uses. */
	{ .flags = { "max-connections" }, .envs = { "GDP_MAX_CONNECTIONS" },
	  .kind = KIND_COUNT, .def = "128", .offset = OFF(max_connections),
	  .help = "connections at once; at the cap the one longest without "
	  "progress is closed" },
	{ .flags = { "max-streams-per-connection" },
	  .envs = { "GDP_MAX_STREAMS_PER_CONNECTION" }, .kind = KIND_COUNT,
	  .def = "128", .offset = OFF(max_streams_per_connection),
	  .help = "concurrent streams per connection "
	  "(SETTINGS_MAX_CONCURRENT_STREAMS)" },
	{ .flags = { "max-partial-bytes-per-connection" },
	  .envs = { "GDP_MAX_PARTIAL_BYTES_PER_CONNECTION" },
	  .kind = KIND_SIZE, .def = "16Mi",
	  .offset = OFF(max_partial_per_connection), .help = "bytes of "
	  "unfinished request messages one connection may hold" },
	{ .flags = { "max-partial-bytes-total" },
	  .envs = { "GDP_MAX_PARTIAL_BYTES_TOTAL" }, .kind = KIND_SIZE,
	  .def = "64Mi", .offset = OFF(max_partial_total), .help = "bytes of "
	  "unfinished request messages all connections may hold" },
	{ .flags = { "max-queued-output-per-call" },
	  .envs = { "GDP_MAX_QUEUED_OUTPUT_PER_CALL" }, .kind = KIND_SIZE,
	  .def = "8Mi", .offset = OFF(max_output_per_call), .help = "bytes "
	  "of answers queued on one call (its first included)" },
	{ .flags = { "max-queued-output-per-connection" },
	  .envs = { "GDP_MAX_QUEUED_OUTPUT_PER_CONNECTION" },
	  .kind = KIND_SIZE, .def = "16Mi",
	  .offset = OFF(max_output_per_connection), .help = "bytes of "
	  "answers queued on one connection" },
	{ .flags = { "max-queued-output-total" },
	  .envs = { "GDP_MAX_QUEUED_OUTPUT_TOTAL" }, .kind = KIND_SIZE,
	  .def = "64Mi", .offset = OFF(max_output_total), .help = "bytes of "
	  "answers queued on all connections (past it the one holding the "
	  "most is closed)" },
	{ .flags = { "max-header-list-size" },
	  .envs = { "GDP_MAX_HEADER_LIST_SIZE" }, .kind = KIND_SIZE,
	  .def = "16Ki", .offset = OFF(max_header_list_size), .help = "bytes "
	  "of request headers per stream (SETTINGS_MAX_HEADER_LIST_SIZE)" },
	{ .flags = { "preface-timeout" }, .envs = { "GDP_PREFACE_TIMEOUT" },
	  .kind = KIND_DURATION, .def = "10s",
	  .offset = OFF(preface_timeout_ms), .help = "a new connection must "
	  "send its HTTP/2 preface within this (0: no limit)" },
	{ .flags = { "request-timeout" }, .envs = { "GDP_REQUEST_TIMEOUT" },
	  .kind = KIND_DURATION, .def = "30s",
	  .offset = OFF(request_timeout_ms), .help = "a request must be "
	  "complete this long after its stream opens (0: no limit)" },
	{ .flags = { "idle-timeout" }, .envs = { "GDP_IDLE_TIMEOUT" },
	  .kind = KIND_DURATION, .def = "5m", .offset = OFF(idle_timeout_ms),
	  .help = "a connection without a stream is closed after this (0: "
	  "never)" },
	{ .flags = { "seccomp" }, .envs = { "GDP_SECCOMP" },
	  .kind = KIND_STRING, .def = "enforce", .offset = OFF(seccomp),
	  .help = "enforce | log | off: the system-call allowlist; log lets "
	  "a call off it run and the kernel log it" },
	{ .flags = { "metrics-address" }, .envs = { "METRICS_ADDRESS" },
	  .kind = KIND_STRING, .def = "", .offset = OFF(metrics_address),
	  .help = "serve /metrics, /healthz and /readyz over HTTP at host:port "
	  "or a unix socket path (with a '/'); empty: off" },
	/* GPU Feature Discovery's flags, as GFD names them. */
	{ .flags = { "output-file" }, .envs = { "GFD_OUTPUT_FILE" },
	  .kind = KIND_STRING, .def = "", .offset = OFF(gfd_output_file),
	  .file_key = "flags.gfd.outputFile", .help = "write GPU Feature "
	  "Discovery's node labels to this NFD feature file (e.g. "
	  "/etc/kubernetes/node-feature-discovery/features.d/gfd); empty: "
	  "no labels" },
	{ .flags = { "no-timestamp" }, .envs = { "GFD_NO_TIMESTAMP" },
	  .kind = KIND_BOOL, .def = "false", .offset = OFF(gfd_no_timestamp),
	  .file_key = "flags.gfd.noTimestamp", .help = "leave "
	  "nvidia.com/gfd.timestamp out of the labels" },
	{ .flags = { "machine-type-file" },
	  .envs = { "GFD_MACHINE_TYPE_FILE" }, .kind = KIND_STRING,
	  .def = "", .offset = OFF(gfd_machine_type_file),
	  .file_key = "flags.gfd.machineTypeFile", .help = "the file "
	  "nvidia.com/gpu.machine is read from (empty: "
	  "<sysfs-root>/class/dmi/id/product_name)" },
};

#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

_Static_assert(NSETTINGS <= CONFIG_MAX_SETTINGS,
    "struct config's origin[] is too small for the settings table");

/* KIND_CHOICE stores an int into an enum field. */
_Static_assert(sizeof(enum mig_strategy) == sizeof(int) &&
    sizeof(enum id_strategy) == sizeof(int) &&
    sizeof(enum discovery_strategy) == sizeof(int) &&
    sizeof(enum allocation_policy) == sizeof(int),
    "an enum of struct config is not int-sized");

#define FIELD(cfg, s, type) ((type *)((char *)(cfg) + (s)->offset))
#define CFIELD(cfg, s, type) \
    ((const type *)((const char *)(cfg) + (s)->offset))

/* Go's strconv.ParseBool, any case, and yes/no, on/off. */
static int
parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "1", "t", "true", "yes", "on" };
	static const char *const no[] = { "0", "f", "false", "no", "off" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static bool
is_bool_word(const char *v)
{
	bool b;

	return parse_bool(v, &b) == 0;
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

	if (parse_number(value, sized, FIELD(cfg, s, int64_t)) == 0)
		return 0;
	snprintf(err, errlen, "%s: \"%s\" is not %s from 1 to %lld%s",
	    source, value, sized ? "a size in bytes" : "a whole number",
	    (long long)(sized ? MAX_SIZE : MAX_COUNT), sized ? " (suffixes "
	    "K, M, G: 1024, 1024^2, 1024^3)" : "");
	return -EINVAL;
}

static int
store_choice(struct config *cfg, const struct setting *s, const char *value,
    const char *source, char *err, size_t errlen)
{
	size_t used;

	for (int i = 0; s->choices[i] != NULL; i++)
		if (strcmp(value, s->choices[i]) == 0) {
			*FIELD(cfg, s, int) = i;
			return 0;
		}
	used = (size_t)snprintf(err, errlen, "%s%s (from %s; accepted:",
	    s->bad, value, source);
	for (int i = 0; s->choices[i] != NULL && used < errlen &&
	    (s->supported == 0 || i < s->supported); i++)
		used += (size_t)snprintf(err + used, errlen - used, "%s %s",
		    i > 0 ? "," : "", s->choices[i]);
	if (used < errlen)
		snprintf(err + used, errlen - used, ")");
	return -EINVAL;
}

/*
 * Appends the comma-separated items of |value| to the list, each trimmed
 * of spaces as NVIDIA's flag library does; empty items are skipped.
 */
static int
list_append(struct config_list *l, const char *value, const char *source,
    char *err, size_t errlen)
{
	const char *p = value;

	while (*p != '\0') {
		const char *end = strchr(p, ','), *b = p, *e;
		size_t len;

		if (end == NULL)
			end = p + strlen(p);
		e = end;
		while (b < e && isspace((unsigned char)*b))
			b++;
		while (e > b && isspace((unsigned char)e[-1]))
			e--;
		len = (size_t)(e - b);
		p = *end == ',' ? end + 1 : end;
		if (len == 0)
			continue;
		if (len >= CONFIG_ITEM_MAX) {
			snprintf(err, errlen, "%s: \"%.*s\" is longer than the "
			    "%d bytes an item may have", source, (int)len, b,
			    CONFIG_ITEM_MAX - 1);
			return -EINVAL;
		}
		if (l->n == CONFIG_LIST_MAX) {
			snprintf(err, errlen, "%s: \"%s\" has more than %d "
			    "items", source, value, CONFIG_LIST_MAX);
			return -EINVAL;
		}
		memcpy(l->item[l->n], b, len);
		l->item[l->n++][len] = '\0';
	}
	return 0;
}

static int
store(struct config *cfg, const struct setting *s, const char *value,
    const char *source, char *err, size_t errlen)
{
	switch (s->kind) {
	case KIND_COUNT:
	case KIND_SIZE:
		return store_number(cfg, s, value, source, err, errlen);
	case KIND_DURATION:
		if (parse_duration(value, FIELD(cfg, s, int64_t)) == 0)
			return 0;
		snprintf(err, errlen, "%s: \"%s\" is not a duration (like "
		    "500ms, 5s, 2m)", source, value);
		return -EINVAL;
	case KIND_STRING:
		*FIELD(cfg, s, const char *) = value;
		return 0;
	case KIND_CHOICE:
		return store_choice(cfg, s, value, source, err, errlen);
	case KIND_LIST:
		return list_append(FIELD(cfg, s, struct config_list), value,
		    source, err, errlen);
	case KIND_BOOL:
		break;
	}
	if (parse_bool(value, FIELD(cfg, s, bool)) == 0)
		return 0;
	snprintf(err, errlen, "%s: \"%s\" is not a boolean (true or false, "
	    "t or f, 1 or 0)", source, value);
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
	return NULL;
}

static bool
named(const char *name, size_t len, const char *a, const char *b)
{
	return (strlen(a) == len && !strncmp(name, a, len)) ||
	    (strlen(b) == len && !strncmp(name, b, len));
}

/*
 * -h/--help and -v/--version, as urfave/cli has them ("=false" too), and
 * ours, --check-config.
 */
static int
parse_action(struct config *cfg, const char *name, size_t len,
    const char *value, const char *arg, char *err, size_t errlen)
{
	bool on = true;

	if (value != NULL && parse_bool(value, &on) < 0) {
		snprintf(err, errlen, "%s: \"%s\" is not a boolean", arg,
		    value);
		return -EINVAL;
	}
	if (named(name, len, "h", "help"))
		cfg->help = on;
	else if (named(name, len, "", "check-config"))
		cfg->check_config = on;
	else
		cfg->version = on;
	return 0;
}

/*
 * One flag, argv[*i]: "-name", "--name", "=value" or (not for a boolean)
 * the next argument as the value. |last_bool| is set to the flag when it
 * was a boolean without "=value", for the message about a stray value.
 */
static int
parse_flag(struct config *cfg, int argc, char **argv, int *i, bool *seen,
    const char **last_bool, char *err, size_t errlen)
{
	const char *arg = argv[*i], *name = arg + 1 + (arg[1] == '-');
	const char *eq = strchr(name, '='), *value = eq ? eq + 1 : NULL;
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	size_t written = (size_t)(name - arg) + len;
	const struct setting *s;
	char source[128];

	if (len == 0 || name[0] == '-' || name[0] == '=') {
		snprintf(err, errlen, "bad flag syntax: %s", arg);
		return -EINVAL;
	}
	if (named(name, len, "h", "help") || named(name, len, "v", "version") ||
	    named(name, len, "", "check-config"))
		return parse_action(cfg, name, len, value, arg, err, errlen);
	s = find_flag(name, len);
	if (s == NULL) {
		snprintf(err, errlen, "unknown flag %.*s (see --help)",
		    (int)written, arg);
		return -EINVAL;
	}
	if (value == NULL && s->kind == KIND_BOOL) {
		value = "true";
		*last_bool = arg;
	}
	if (value == NULL && *i + 1 < argc)
		value = argv[++*i];
	if (value == NULL) {
		snprintf(err, errlen, "flag %s needs a value", arg);
		return -EINVAL;
	}
	snprintf(source, sizeof(source), "%.*s", (int)written, arg);
	/* A list flag given again adds to the list; the first replaces the
	 * environment's or the default. */
	if (s->kind == KIND_LIST && !seen[s - settings])
		FIELD(cfg, s, struct config_list)->n = 0;
	seen[s - settings] = true;
	cfg->origin[s - settings] = arg;
	return store(cfg, s, value, source, err, errlen);
}

/*
 * The layer's value for |s|, asked under each long name in turn
 * (config/file.c maps the file's keys to NVIDIA's flag names), with what
 * messages should name in |*where|; NULL when it has none.
 */
static const char *
layer_value(const struct config_layer *file, const struct setting *s,
    const char **where)
{
	const char *value = NULL;

	for (size_t k = 0; file != NULL && k < 3 && s->flags[k] &&
	    value == NULL; k++) {
		*where = NULL;
		value = file->lookup(file->arg, s->flags[k], where);
		if (value != NULL && *where == NULL)
			*where = s->file_key != NULL ? s->file_key :
			    s->flags[k];
	}
	return value;
}

/* The value of |s| from the environment, else |file|, else the default;
 * |source| names it for messages. */
static const char *
unset_value(const struct setting *s, const struct config_layer *file,
    const char **origin, char *source, size_t len)
{
	const char *value;

	for (size_t k = 0; k < 3 && s->envs[k]; k++) {
		value = getenv(s->envs[k]);
		if (value == NULL)
			continue;
		*origin = s->envs[k];
		snprintf(source, len, "%s (for --%s)", s->envs[k],
		    s->flags[0]);
		/* urfave/cli: a boolean's variable set but empty is false. */
		return s->kind == KIND_BOOL && value[0] == '\0' ? "false" :
		    value;
	}
	value = layer_value(file, s, origin);
	if (value != NULL) {
		snprintf(source, len, "%s", *origin);
		return value;
	}
	*origin = NULL;
	snprintf(source, len, "the default of --%s", s->flags[0]);
	return s->def;
}

/* Environment, then the layer, then the default, for every setting argv
 * did not set. */
static int
fill_unset(struct config *cfg, const bool *seen,
    const struct config_layer *file, char *err, size_t errlen)
{
	for (size_t i = 0; i < NSETTINGS; i++) {
		const struct setting *s = &settings[i];
		const char *value;
		char source[256];

		if (seen[i])
			continue;
		value = unset_value(s, file, &cfg->origin[i], source,
		    sizeof(source));
		if (s->kind == KIND_LIST)
			FIELD(cfg, s, struct config_list)->n = 0;
		if (store(cfg, s, value, source, err, errlen) < 0)
			return -EINVAL;
	}
	return 0;
}

static size_t
setting_index(size_t offset)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		if (settings[i].offset == offset)
			return i;
	return 0;
}

/* Where a setting's value came from, for messages about its value. */
static const char *
origin_of(const struct config *cfg, size_t offset, char *buf, size_t len)
{
	size_t i = setting_index(offset);

	if (cfg->origin[i] == NULL)
		snprintf(buf, len, "the default");
	else
		snprintf(buf, len, "from %s", cfg->origin[i]);
	return buf;
}

static int
check_list_strategies(struct config *cfg, char *err, size_t errlen)
{
	const struct config_list *l = &cfg->device_list_strategy;
	char from[160];

	cfg->device_list_strategies = 0;
	if (l->n == 0) {
		snprintf(err, errlen, "invalid --device-list-strategy option: "
		    "no device list strategy specified; at least one of "
		    "[envvar volume-mounts cdi-annotations cdi-cri] is "
		    "required (%s)", origin_of(cfg,
		    OFF(device_list_strategy), from, sizeof(from)));
		return -EINVAL;
	}
	for (size_t i = 0; i < l->n; i++) {
		size_t k = 0;

		while (list_strategies[k] != NULL &&
		    strcmp(list_strategies[k], l->item[i]) != 0)
			k++;
		if (list_strategies[k] == NULL) {
			snprintf(err, errlen, "invalid --device-list-strategy "
			    "option: invalid strategy: %s (%s; envvar, "
			    "volume-mounts, cdi-annotations or cdi-cri)",
			    l->item[i], origin_of(cfg,
			    OFF(device_list_strategy), from, sizeof(from)));
			return -EINVAL;
		}
		cfg->device_list_strategies |= 1u << k;
	}
	return 0;
}

/* Go's %v of an int slice: "[0 1]". */
static void
format_ids(const struct config *cfg, char *buf, size_t len)
{
	size_t used = (size_t)snprintf(buf, len, "[");

	for (size_t i = 0; i < cfg->n_imex_channel_ids && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%d",
		    i > 0 ? " " : "", cfg->imex_channel_ids[i]);
	if (used < len)
		snprintf(buf + used, len - used, "]");
}

static int
check_imex(struct config *cfg, char *err, size_t errlen)
{
	const struct config_list *l = &cfg->imex_channel_ids_given;
	char from[160], ids[128];

	cfg->n_imex_channel_ids = 0;
	for (size_t i = 0; i < l->n; i++) {
		char *end;
		long v;

		errno = 0;
		v = strtol(l->item[i], &end, 0);
		if (errno != 0 || *end != '\0' || v < -2147483647L ||
		    v > 2147483647L) {
			snprintf(err, errlen, "invalid --imex-channel-ids "
			    "option: \"%s\" is not an integer (%s)",
			    l->item[i], origin_of(cfg,
			    OFF(imex_channel_ids_given), from, sizeof(from)));
			return -EINVAL;
		}
		cfg->imex_channel_ids[cfg->n_imex_channel_ids++] = (int)v;
	}
	if (cfg->n_imex_channel_ids == 0 || (cfg->n_imex_channel_ids == 1 &&
	    cfg->imex_channel_ids[0] == 0))
		return 0;
	format_ids(cfg, ids, sizeof(ids));
	snprintf(err, errlen, "invalid IMEX channel IDs: invalid IMEX config: "
	    "channelIDs must be [] or [0]; found %s (%s)", ids, origin_of(cfg,
	    OFF(imex_channel_ids_given), from, sizeof(from)));
	return -EINVAL;
}

static int
check_metrics_address(const struct config *cfg, char *err, size_t errlen)
{
	struct metrics_address a;
	char why[160];

	if (cfg->metrics_address[0] == '\0' ||
	    metrics_address_parse(cfg->metrics_address, &a, why,
	    sizeof(why)) == 0)
		return 0;
	snprintf(err, errlen, "invalid --metrics-address option "
	    "(METRICS_ADDRESS): \"%s\": %s", cfg->metrics_address, why);
	return -EINVAL;
}

static int
check_values(struct config *cfg, char *err, size_t errlen)
{
	char from[160];

	if (check_list_strategies(cfg, err, errlen) < 0 ||
	    check_imex(cfg, err, errlen) < 0)
		return -EINVAL;
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
	if (check_metrics_address(cfg, err, errlen) < 0)
		return -EINVAL;
	if (cfg->device_discovery_strategy == DISCOVERY_TEGRA) {
		snprintf(err, errlen, "--device-discovery-strategy=tegra (%s) "
		    "is not supported: this plugin serves GPUs that NVML "
		    "manages; on a Tegra (integrated GPU) node use NVIDIA's "
		    "plugin, on any other node auto or nvml", origin_of(cfg,
		    OFF(device_discovery_strategy), from, sizeof(from)));
		return -ENOTSUP;
	}
	if (cfg->dev_root[0] == '\0')
		cfg->dev_root = cfg->driver_root;
	/* NVIDIA reads these two only from the environment. */
	cfg->disable_healthchecks = getenv("DP_DISABLE_HEALTHCHECKS");
	cfg->enable_healthchecks = getenv("DP_ENABLE_HEALTHCHECKS");
	return 0;
}

/* An argument that is not a flag: the "list" or "mps-control-daemon"
 * command, or a mistake. */
static int
parse_word(struct config *cfg, const char *a, const char *last_bool,
    char *err, size_t errlen)
{
	if (cfg->command == NULL && (!strcmp(a, "list") ||
	    !strcmp(a, "mps-control-daemon"))) {
		cfg->command = a;
		return 0;
	}
	if (last_bool != NULL && is_bool_word(a))
		snprintf(err, errlen, "unexpected argument \"%s\" after %s: a "
		    "boolean flag takes its value after '=' (%s=%s)", a,
		    last_bool, last_bool, a);
	else
		snprintf(err, errlen, "unexpected argument \"%s\" (see "
		    "--help)", a);
	return -EINVAL;
}

int
config_parse_layered(struct config *cfg, int argc, char **argv,
    const struct config_layer *file, char *err, size_t errlen)
{
	bool seen[NSETTINGS] = { false }, flags_done = false;
	const char *last_bool = NULL;

	memset(cfg, 0, sizeof(*cfg));
	cfg->resource_name = "nvidia.com/gpu";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *prev_bool = last_bool;

		last_bool = NULL;
		if (!flags_done && !strcmp(a, "--")) {
			flags_done = true;
		} else if (!flags_done && a[0] == '-' && a[1] != '\0') {
			if (parse_flag(cfg, argc, argv, &i, seen, &last_bool,
			    err, errlen) < 0)
				return -EINVAL;
		} else if (parse_word(cfg, a, prev_bool, err, errlen) < 0) {
			return -EINVAL;
		}
	}
	if (fill_unset(cfg, seen, file, err, errlen) < 0)
		return -EINVAL;
	return check_values(cfg, err, errlen);
}

int
config_parse(struct config *cfg, int argc, char **argv, char *err,
    size_t errlen)
{
	return config_parse_layered(cfg, argc, argv, NULL, err, errlen);
}

/* Whether |s| has its default value in |cfg|. */
static bool
is_default(const struct config *cfg, const struct setting *s)
{
	struct config defaults, *def = &defaults;
	char err[256];
	bool same = true;

	memset(def, 0, sizeof(*def));
	if (store(def, s, s->def, "default", err, sizeof(err)) < 0)
		return false;
	switch (s->kind) {
	case KIND_STRING:
		same = !strcmp(*CFIELD(cfg, s, char *),
		    *CFIELD(def, s, char *));
		break;
	case KIND_BOOL:
		same = *CFIELD(cfg, s, bool) == *CFIELD(def, s, bool);
		break;
	case KIND_CHOICE:
		same = *CFIELD(cfg, s, int) == *CFIELD(def, s, int);
		break;
	case KIND_LIST:
		same = !memcmp(CFIELD(cfg, s, struct config_list),
		    CFIELD(def, s, struct config_list),
		    sizeof(struct config_list));
		break;
	default:
		same = *CFIELD(cfg, s, int64_t) == *CFIELD(def, s, int64_t);
		break;
	}
	return same;
}

/* Whether |s| is set to something this plugin does not do yet. */
static bool
is_pending(const struct config *cfg, const struct setting *s)
{
	if (s->pending == NULL || cfg->origin[s - settings] == NULL)
		return false;
	if (s->offset == OFF(device_list_strategy))
		return (cfg->device_list_strategies & ~DEVICE_LIST_ENVVAR) != 0;
	return !is_default(cfg, s);
}

/* The value of |s| in |cfg| as a flag would take it, for messages. */
static void
format_value(const struct config *cfg, const struct setting *s, char *buf,
    size_t len)
{
	const struct config_list *l;
	size_t used = 0;

	buf[0] = '\0';
	switch (s->kind) {
	case KIND_STRING:
		snprintf(buf, len, "%s", *CFIELD(cfg, s, char *));
		break;
	case KIND_BOOL:
		snprintf(buf, len, "%s", *CFIELD(cfg, s, bool) ? "true" :
		    "false");
		break;
	case KIND_CHOICE:
		snprintf(buf, len, "%s", s->choices[*CFIELD(cfg, s, int)]);
		break;
	case KIND_LIST:
		l = CFIELD(cfg, s, struct config_list);
		for (size_t i = 0; i < l->n && used < len; i++)
			used += (size_t)snprintf(buf + used, len - used, "%s%s",
			    i > 0 ? "," : "", l->item[i]);
		break;
	case KIND_DURATION:
		snprintf(buf, len, "%lldms", (long long)*CFIELD(cfg, s,
		    int64_t));
		break;
	case KIND_COUNT:
	case KIND_SIZE:
		snprintf(buf, len, "%lld", (long long)*CFIELD(cfg, s,
		    int64_t));
		break;
	}
}

size_t
config_warnings(const struct config *cfg,
    void (*fn)(const char *msg, void *arg), void *arg)
{
	size_t n = 0;

	for (size_t i = 0; i < NSETTINGS; i++) {
		const struct setting *s = &settings[i];
		char msg[512], value[256];

		if (!is_pending(cfg, s))
			continue;
		format_value(cfg, s, value, sizeof(value));
		snprintf(msg, sizeof(msg), "--%s=%s (%s): accepted, but not "
		    "applied yet: %s", s->flags[0], value, cfg->origin[i],
		    s->pending);
		fn(msg, arg);
		n++;
	}
	return n;
}

void
config_each(const struct config *cfg, config_each_fn *fn, void *arg)
{
	for (size_t i = 0; i < NSETTINGS; i++) {
		char value[CONFIG_LIST_MAX * CONFIG_ITEM_MAX];

		format_value(cfg, &settings[i], value, sizeof(value));
		fn(settings[i].flags[0], settings[i].file_key, value,
		    cfg->origin[i], arg);
	}
}

/* The flags that act instead of setting something; --help and the man
 * page list them after the settings. */
static const struct {
	const char *names;        /* as --help shows them */
	const char *mdoc;         /* the .It line's arguments */
	const char *help;
} actions[] = {
	{ "-h, --help", "Fl h , Fl -help", "this text, then exit 0" },
	{ "-v, --version", "Fl v , Fl -version", "the version, then exit 0" },
	{ "--check-config", "Fl -check-config", "check flags, environment "
	  "and config file, print the configuration in effect as JSON, exit "
	  "0 if good, 1 if not (no NVML, no kubelet)" },
};

/* "--a, --b" and "A, B" of |s|. */
static void
print_setting(FILE *f, const struct setting *s)
{
	fprintf(f, "  --%s", s->flags[0]);
	for (size_t k = 1; k < 3 && s->flags[k]; k++)
		fprintf(f, ", --%s", s->flags[k]);
	fprintf(f, "\n      %s\n      (", s->help);
	for (size_t k = 0; k < 3 && s->envs[k]; k++)
		fprintf(f, "%s%s", k > 0 ? ", " : "", s->envs[k]);
	fprintf(f, "; default \"%s\")\n", s->def);
}

void
config_usage(void *out)
{
	FILE *f = out;

	fprintf(f, "usage: gpu-device-plugin [list | mps-control-daemon] "
	    "[--flag=value ...]\n\n"
	    "Advertises this node's NVIDIA GPUs to the kubelet as "
	    "nvidia.com/gpu.\n  list      print the GPUs found and the "
	    "resources that would be advertised\n  mps-control-daemon  run "
	    "the MPS daemons of sharing.mps (docs/mps.md)\n\nFlags take one "
	    "dash or "
	    "two, and \"=value\" or the value as the next argument\n(a "
	    "boolean only \"=value\"); lists are comma-separated.\n\n"
	    "Flags (environment variables; default):\n");
	for (size_t i = 0; i < NSETTINGS; i++)
		print_setting(f, &settings[i]);
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		fprintf(f, "  %-15s %s\n", actions[i].names, actions[i].help);
}

/* The placeholder of a setting's value in the man page. */
static const char *
value_name(const struct setting *s)
{
	static const char *const names[] = {
		[KIND_STRING] = "string", [KIND_BOOL] = "bool",
		[KIND_DURATION] = "duration", [KIND_COUNT] = "n",
		[KIND_SIZE] = "bytes", [KIND_CHOICE] = "word",
		[KIND_LIST] = "list",
	};

	return names[s->kind];
}

/*
 * Text for an mdoc line: a backslash doubled, a leading dot or quote
 * guarded by \&, so that no help text can become a request. |text| is
 * the table's; the result is written straight to |f|.
 */
static void
mdoc_text(FILE *f, const char *text)
{
	if (text[0] == '.' || text[0] == '\'')
		fputs("\\&", f);
	for (const char *p = text; *p != '\0'; p++) {
		if (*p == '\\')
			fputs("\\e", f);
		else
			fputc(*p, f);
	}
}

/* One .It of the OPTIONS list: every name, the text, its variables and
 * its default. A boolean's value is optional ("--flag" is "=true"). */
static void
mdoc_setting(FILE *f, const struct setting *s)
{
	bool b = s->kind == KIND_BOOL;

	fputs(".It", f);
	for (size_t k = 0; k < 3 && s->flags[k]; k++)
		fprintf(f, "%s Fl -%s %s= Ns Ar %s%s", k > 0 ? " ," : "",
		    s->flags[k], b ? "Ns Oo " : "Ns ", value_name(s),
		    b ? " Oc" : "");
	fputc('\n', f);
	mdoc_text(f, s->help);
	fputs(".\nEnvironment:", f);
	for (size_t k = 0; k < 3 && s->envs[k]; k++)
		fprintf(f, "\n.Ev %s%s", s->envs[k],
		    k + 1 < 3 && s->envs[k + 1] ? " ," : " .");
	if (s->file_key != NULL)
		fprintf(f, "\nConfig file:\n.Cm %s .", s->file_key);
	if (s->def[0] == '\0')
		fputs("\nDefault: empty.\n", f);
	else
		fprintf(f, "\nDefault:\n.Ql %s .\n", s->def);
}

void
config_usage_mdoc(void *out)
{
	FILE *f = out;

	fputs(".\\\" Generated from the settings table of src/config/flags.c"
	    "\n.\\\" by gdp-man-options; edit the table, not this.\n"
	    ".Bl -tag -width Ds\n", f);
	for (size_t i = 0; i < NSETTINGS; i++)
		mdoc_setting(f, &settings[i]);
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		fprintf(f, ".It %s\n", actions[i].mdoc);
		mdoc_text(f, actions[i].help);
		fputs(".\n", f);
	}
	fputs(".El\n", f);
}
