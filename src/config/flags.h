/*
 * flags.h: the plugin's settings from command-line flags and environment
 * variables, named as NVIDIA's plugin names them so that a DaemonSet
 * written for it works unchanged (reference: nvidia-device-plugin.md §1).
 *
 * Precedence: a flag, then its environment variable, then a caller's
 * layer (the config file: config_parse_layered), then the default.
 * The command line is read the way NVIDIA's flag library reads it:
 * "-name" and "--name", "--name=value" and "--name value", booleans as
 * Go spells them (1/0, t/f, true/false in any case), list flags
 * repeated or comma-separated. Values are checked here; a bad one is an
 * error that names the flag, the variable and the accepted values, in
 * NVIDIA's words where its plugin has them.
 */
#ifndef GDP_CONFIG_FLAGS_H
#define GDP_CONFIG_FLAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum id_strategy { ID_STRATEGY_UUID, ID_STRATEGY_INDEX };
enum mig_strategy { MIG_STRATEGY_NONE, MIG_STRATEGY_SINGLE,
    MIG_STRATEGY_MIXED };
/* --device-discovery-strategy; tegra is refused (not supported). */
enum discovery_strategy { DISCOVERY_AUTO, DISCOVERY_NVML, DISCOVERY_TEGRA };
/* --shared-devices-allocation-policy: NVIDIA's two, and ours that never
 * puts two replicas of one device in a request while others are free. */
enum allocation_policy { ALLOCATION_DISTRIBUTED, ALLOCATION_PACKED,
    ALLOCATION_DISTRIBUTED_STRICT };

/* --device-list-strategy: a set of these bits, never empty. */
#define DEVICE_LIST_ENVVAR		0x1u
#define DEVICE_LIST_VOLUME_MOUNTS	0x2u
#define DEVICE_LIST_CDI_ANNOTATIONS	0x4u
#define DEVICE_LIST_CDI_CRI		0x8u
#define DEVICE_LIST_ANY_CDI \
    (DEVICE_LIST_CDI_ANNOTATIONS | DEVICE_LIST_CDI_CRI)

/* A list setting's items (copies: a config can be copied by value). */
#define CONFIG_LIST_MAX 16
#define CONFIG_ITEM_MAX 64
struct config_list {
	size_t n;
	char item[CONFIG_LIST_MAX][CONFIG_ITEM_MAX];
};

/* Room for the origin of every setting of the table in flags.c. */
#define CONFIG_MAX_SETTINGS 64

struct config {
	/* NULL (serve), "list" or "mps-control-daemon" */
	const char *command;
	const char *kubelet_socket;     /* "" disables registration */
	const char *driver_root;
	const char *driver_root_ctr_path;
	const char *dev_root;
	/* --device-list-strategy as given (and as bits, below). */
	struct config_list device_list_strategy;
	const char *cdi_annotation_prefix;      /* "cdi.k8s.io/" */
	const char *nvidia_cdi_hook_path;       /* "/usr/bin/nvidia-ctk" */
	const char *cdi_spec_dir;               /* "/var/run/cdi" (ours) */
	const char *mps_root;           /* "": MPS sharing not possible */
	/* --imex-channel-ids: [] or [0], as NVIDIA allows. */
	struct config_list imex_channel_ids_given;
	size_t n_imex_channel_ids;
	struct config_list cdi_feature_flags;
	struct config_list cdi_disable_hooks;   /* "all": every hook */
	const char *config_file;
	const char *sysfs_root;
	const char *proc_root;          /* MIG capability minors under it */
	const char *resource_name;      /* "nvidia.com/gpu" */
	int64_t health_probe_ms;        /* 0: no probe */
	int64_t health_quiet_ms;
	const char *seccomp;            /* "enforce", "log" or "off" */
	const char *metrics_address;    /* "": no metrics endpoint */
	/* GPU Feature Discovery's labels (src/labels): "" writes none. */
	const char *gfd_output_file;
	const char *gfd_machine_type_file; /* "": <sysfs>/class/dmi/... */
	const char *disable_healthchecks; /* DP_DISABLE_HEALTHCHECKS */
	const char *enable_healthchecks;  /* DP_ENABLE_HEALTHCHECKS */
	/* The gRPC server's limits (docs/grpc.md); timeouts 0: none. */
	int64_t max_connections;
	int64_t max_streams_per_connection;
	int64_t max_partial_per_connection;   /* bytes */
	int64_t max_partial_total;
	int64_t max_output_per_call;
	int64_t max_output_per_connection;
	int64_t max_output_total;
	int64_t max_header_list_size;
	int64_t preface_timeout_ms;
	int64_t request_timeout_ms;
	int64_t idle_timeout_ms;
	/*
	 * Where each setting came from, by its place in the table: the
	 * flag as written ("-gds-enabled"), the environment variable's
	 * name, the layer's |where|, or NULL for the default. Strings are
	 * argv's, the table's or the layer's.
	 */
	const char *origin[CONFIG_MAX_SETTINGS];
	int imex_channel_ids[CONFIG_LIST_MAX];
	unsigned device_list_strategies;        /* DEVICE_LIST_* */
	enum mig_strategy mig_strategy;
	enum id_strategy device_id_strategy;
	enum allocation_policy shared_devices_allocation_policy;
	enum discovery_strategy device_discovery_strategy;
	bool fail_on_init_error;
	bool fail_on_no_gpus;
	bool pass_device_specs;
	bool gdrcopy_enabled;           /* NVIDIA_GDRCOPY=enabled */
	bool gds_enabled;               /* NVIDIA_GDS=enabled */
	bool mofed_enabled;             /* NVIDIA_MOFED=enabled */
	bool imex_required;
	bool health_unhealthy_without_events;
	bool help;
	bool version;
	bool check_config;              /* --check-config (ours) */
	bool gfd_no_timestamp;
};

/*
 * A layer between the environment and the defaults: the config file.
 * |lookup| is asked, for each setting that no flag and no environment
 * variable set, under the setting's long flag names in turn
 * ("mig-strategy"; "nvidia-cdi-hook-path", then "nvidia-ctk-path"): the
 * config file (config/file.c) maps its keys to them. It returns the value
 * as the flag would take it (booleans "true"/"false", lists
 * comma-separated) and sets |*where| to what messages should name (e.g.
 * "config.yaml:4:3: flags.migStrategy"), or returns NULL: the layer does
 * not set it.
 * Both strings are the layer's and must outlive the config.
 */
struct config_layer {
	const char *(*lookup)(void *arg, const char *key, const char **where);
	void *arg;
};

/*
 * Fills |cfg| from |argv| and the environment. Strings point into argv or
 * the environment (not copied). Returns 0; -EINVAL with a message in
 * |err| naming what was wrong (an unusable command line or value); or
 * -ENOTSUP for a valid NVIDIA value this plugin does not support
 * (--device-discovery-strategy=tegra), likewise explained.
 */
int config_parse(struct config *cfg, int argc, char **argv, char *err,
    size_t errlen);
/*
 * config_parse() with |file| (may be NULL) between the environment and
 * the defaults. The config file's name is a flag itself: parse once
 * without the layer to learn it, then again with it.
 */
int config_parse_layered(struct config *cfg, int argc, char **argv,
    const struct config_layer *file, char *err, size_t errlen);
/*
 * Calls |fn| once per warning about |cfg|: each NVIDIA setting given a
 * value whose effect this plugin does not have yet, naming it and what
 * is not done. Returns how many there were.
 */
size_t config_warnings(const struct config *cfg,
    void (*fn)(const char *msg, void *arg), void *arg);
/*
 * Calls |fn| for every setting, in the table's order: its flag's name
 * (no dashes), its config-file key (NULL if none), its value as the flag
 * would take it (lists comma-separated, durations as "5000ms"; valid during
 * the call only) and its origin (cfg->origin's; NULL: the default). For
 * printing the effective configuration.
 */
typedef void config_each_fn(const char *flag, const char *file_key,
    const char *value, const char *origin, void *arg);
void config_each(const struct config *cfg, config_each_fn *fn, void *arg);
/* Writes the usage text (the synopsis and every flag) to |f|. */
void config_usage(void *f);
/*
 * Writes the same table as an mdoc(7) list (.Bl ... .El) to |f|: the
 * OPTIONS section of gpu-device-plugin(8), generated at build time by
 * man/gen-options.c so that the page and --help cannot drift.
 */
void config_usage_mdoc(void *f);

#endif /* GDP_CONFIG_FLAGS_H */
