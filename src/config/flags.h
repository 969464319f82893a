/*
 * flags.h: the plugin's settings from command-line flags and environment
 * variables, named as NVIDIA's plugin names them so that a DaemonSet
 * written for it works unchanged (reference: nvidia-device-plugin.md §1).
 *
 * Precedence: a flag, then its environment variable, then the config
 * file (a layer, see config_parse_layered()), then the default. Values
 * are checked here; a bad one is an error that names the flag, the
 * variable or the file's key and line, and the accepted values.
 */
#ifndef GDP_CONFIG_FLAGS_H
#define GDP_CONFIG_FLAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum id_strategy { ID_STRATEGY_UUID, ID_STRATEGY_INDEX };

struct config {
	const char *command;            /* NULL (serve) or "list" */
	const char *kubelet_socket;     /* "" disables registration */
	bool fail_on_init_error;
	bool fail_on_no_gpus;
	const char *driver_root;
	const char *driver_root_ctr_path;
	const char *dev_root;
	const char *mig_strategy;
	const char *device_list_strategy;
	enum id_strategy device_id_strategy;
	bool pass_device_specs;
	const char *config_file;
	const char *sysfs_root;
	const char *resource_name;      /* "nvidia.com/gpu" */
	int64_t health_probe_ms;        /* 0: no probe */
	int64_t health_quiet_ms;
	bool health_unhealthy_without_events;
	const char *seccomp;            /* "enforce", "log" or "off" */
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
	/* Settings the config file maps to, until the rework of the
	 * flags (issue 9, item 1) gives them their meaning. */
	const char *mps_root;
	bool gdrcopy_enabled;
	bool gds_enabled;
	bool mofed_enabled;
	const char *device_discovery_strategy;
	const char *cdi_annotation_prefix;
	const char *nvidia_cdi_hook_path;
	const char *shared_devices_allocation_policy;
	const char *imex_channel_ids;   /* "" or "0" */
	bool imex_required;
	bool help;
	bool version;
	bool check_config;              /* --check-config */
};

/*
 * Config file hook: a source of values between the environment and the
 * defaults (src/config/file.c). |lookup| returns the text for the flag
 * named |flag| (any of its long names), or NULL, and sets |*where| to
 * the value's place ("FILE:LINE:COLUMN: KEY.PATH") for messages. The
 * texts must outlive |cfg|: string settings point at them.
 */
struct config_layer {
	const char *(*lookup)(void *arg, const char *flag,
	    const char **where);
	void *arg;
};

/*
 * Fills |cfg| from |argv| and the environment. Strings point into argv or
 * the environment (not copied). Returns 0, or -EINVAL with a message in
 * |err| naming what was wrong.
 */
int config_parse(struct config *cfg, int argc, char **argv, char *err,
    size_t errlen);
/* The same with |layer| (NULL: none) below the environment. */
int config_parse_layered(struct config *cfg, int argc, char **argv,
    const struct config_layer *layer, char *err, size_t errlen);
/* Writes the usage text (the synopsis and every flag) to |f|. */
void config_usage(void *f);

#endif /* GDP_CONFIG_FLAGS_H */
