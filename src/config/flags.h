/*
 * flags.h: the plugin's settings from command-line flags and environment
 * variables, named as NVIDIA's plugin names them so that a DaemonSet
 * written for it works unchanged (reference: nvidia-device-plugin.md §1).
 *
 * Precedence: a flag, then its environment variable, then the default.
 * Values are checked here; a bad one is an error that names the flag,
 * the variable and the accepted values.
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
	bool help;
	bool version;
};

/*
 * Fills |cfg| from |argv| and the environment. Strings point into argv or
 * the environment (not copied). Returns 0, or -EINVAL with a message in
 * |err| naming what was wrong.
 */
int config_parse(struct config *cfg, int argc, char **argv, char *err,
    size_t errlen);
/* Writes the usage text (the synopsis and every flag) to |f|. */
void config_usage(void *f);

#endif /* GDP_CONFIG_FLAGS_H */
