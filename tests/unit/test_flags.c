/*
 * test_flags.c: the command line and environment as NVIDIA's plugin reads
 * them (urfave/cli v2 over Go's flag package): one dash or two, "=value"
 * or the next argument, Go's booleans, list flags comma-separated and
 * repeated; NVIDIA's names, aliases, defaults and error wording; the
 * precedence flag > environment > layer (config file) > default; and
 * the warnings for NVIDIA settings not applied yet. The daemon's own
 * reaction (exit codes, logs, what it serves) is tested through the real
 * binary in tests/plugin/flags-test.py.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/flags.h"

/* Every variable a setting reads, unset before each test. */
static const char *const vars[] = {
	"KUBELET_SOCKET", "FAIL_ON_INIT_ERROR", "MIG_STRATEGY",
	"NVIDIA_DRIVER_ROOT", "NVIDIA_DEV_ROOT", "DRIVER_ROOT_CTR_PATH",
	"CONTAINER_DRIVER_ROOT", "DEVICE_LIST_STRATEGY", "DEVICE_ID_STRATEGY",
	"PASS_DEVICE_SPECS", "GDRCOPY_ENABLED", "GDS_ENABLED",
	"MOFED_ENABLED", "CDI_ANNOTATION_PREFIX", "NVIDIA_CDI_HOOK_PATH",
	"NVIDIA_CTK_PATH", "MPS_ROOT", "SHARED_DEVICES_ALLOCATION_POLICY",
	"DEVICE_DISCOVERY_STRATEGY", "IMEX_CHANNEL_IDS", "IMEX_REQUIRED",
	"CDI_FEATURE_FLAGS", "CDI_DISABLE_HOOKS", "CONFIG_FILE",
	"GDP_SECCOMP", "FAIL_ON_NO_GPUS",
};

static int
clean_env(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	return 0;
}

static struct config cfg;
static char err[1024];

/* Parses the NULL-terminated arguments after argv[0]. */
static int
parse_layered(const struct config_layer *layer, const char *first, ...)
{
	char *argv[32] = { "gpu-device-plugin" };
	int argc = 1;
	va_list ap;

	va_start(ap, first);
	for (const char *a = first; a != NULL && argc < 31;
	    a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	err[0] = '\0';
	return config_parse_layered(&cfg, argc, argv, layer, err,
	    sizeof(err));
}

#define parse(...) parse_layered(NULL, __VA_ARGS__, (const char *)NULL)

static void
test_nvidia_defaults(void **state)
{
	(void)state;
	assert_int_equal(parse(NULL), 0);
	assert_int_equal(cfg.mig_strategy, MIG_STRATEGY_NONE);
	assert_true(cfg.fail_on_init_error);
	assert_string_equal(cfg.driver_root, "/");
	assert_string_equal(cfg.dev_root, "/");
	assert_string_equal(cfg.driver_root_ctr_path, "/driver-root");
	assert_false(cfg.pass_device_specs);
	assert_int_equal(cfg.device_list_strategies, DEVICE_LIST_ENVVAR);
	assert_int_equal(cfg.device_id_strategy, ID_STRATEGY_UUID);
	assert_false(cfg.gdrcopy_enabled);
	assert_false(cfg.gds_enabled);
	assert_false(cfg.mofed_enabled);
	assert_string_equal(cfg.cdi_annotation_prefix, "cdi.k8s.io/");
	assert_string_equal(cfg.nvidia_cdi_hook_path, "/usr/bin/nvidia-ctk");
	assert_string_equal(cfg.mps_root, "");
	assert_int_equal(cfg.shared_devices_allocation_policy,
	    ALLOCATION_DISTRIBUTED);
	assert_int_equal(cfg.device_discovery_strategy, DISCOVERY_AUTO);
	assert_int_equal(cfg.n_imex_channel_ids, 0);
	assert_false(cfg.imex_required);
	assert_int_equal(cfg.cdi_feature_flags.n, 0);
	assert_int_equal(cfg.cdi_disable_hooks.n, 0);
	assert_string_equal(cfg.kubelet_socket,
	    "/var/lib/kubelet/device-plugins/kubelet.sock");
	assert_string_equal(cfg.config_file, "");
}

static void
test_go_booleans(void **state)
{
	static const char *const yes[] = { "1", "t", "T", "true", "TRUE",
		"True" };
	static const char *const no[] = { "0", "f", "F", "false", "FALSE",
		"False" };
	char arg[64];

	(void)state;
	for (size_t i = 0; i < 6; i++) {
		snprintf(arg, sizeof(arg), "--gds-enabled=%s", yes[i]);
		assert_int_equal(parse(arg), 0);
		assert_true(cfg.gds_enabled);
		setenv("FAIL_ON_INIT_ERROR", no[i], 1);
		assert_int_equal(parse(NULL), 0);
		assert_false(cfg.fail_on_init_error);
		setenv("MOFED_ENABLED", yes[i], 1);
		assert_int_equal(parse(NULL), 0);
		assert_true(cfg.mofed_enabled);
	}
	/* A variable set but empty is false, as urfave/cli has it. */
	setenv("FAIL_ON_INIT_ERROR", "", 1);
	assert_int_equal(parse(NULL), 0);
	assert_false(cfg.fail_on_init_error);
	setenv("FAIL_ON_INIT_ERROR", "maybe", 1);
	assert_int_equal(parse(NULL), -EINVAL);
	assert_non_null(strstr(err, "FAIL_ON_INIT_ERROR"));
	assert_non_null(strstr(err, "maybe"));
}

static void
test_dashes_and_values(void **state)
{
	(void)state;
	/* One dash or two; "=value" or the next argument. */
	assert_int_equal(parse("-mig-strategy=mixed", "--device-id-strategy",
	    "index", "-kubelet-socket", "/k.sock", "--pass-device-specs",
	    "-gds-enabled"), 0);
	assert_int_equal(cfg.mig_strategy, MIG_STRATEGY_MIXED);
	assert_int_equal(cfg.device_id_strategy, ID_STRATEGY_INDEX);
	assert_string_equal(cfg.kubelet_socket, "/k.sock");
	assert_true(cfg.pass_device_specs);
	assert_true(cfg.gds_enabled);
	/* The last of a repeated flag wins. */
	assert_int_equal(parse("--mig-strategy=single", "-mig-strategy",
	    "none"), 0);
	assert_int_equal(cfg.mig_strategy, MIG_STRATEGY_NONE);
	/* "--" ends the flags. */
	assert_int_equal(parse("--", "--gds-enabled"), -EINVAL);
	assert_non_null(strstr(err, "unexpected argument \"--gds-enabled\""));
	/* A boolean's value must follow '='. */
	assert_int_equal(parse("--pass-device-specs", "false"), -EINVAL);
	assert_non_null(strstr(err, "--pass-device-specs=false"));
	assert_int_equal(parse("--mig-strategy"), -EINVAL);
	assert_non_null(strstr(err, "--mig-strategy needs a value"));
	assert_int_equal(parse("---mig-strategy=none"), -EINVAL);
	assert_non_null(strstr(err, "bad flag syntax"));
}

static void
test_help_and_version(void **state)
{
	static const char *const versions[] = { "-v", "--v", "-version",
		"--version" };
	static const char *const helps[] = { "-h", "--h", "-help", "--help" };

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(parse(versions[i]), 0);
		assert_true(cfg.version);
		assert_int_equal(parse(helps[i]), 0);
		assert_true(cfg.help);
	}
}

static void
test_unknown_flags(void **state)
{
	(void)state;
	assert_int_equal(parse("--no-such-flag"), -EINVAL);
	assert_non_null(strstr(err, "unknown flag --no-such-flag"));
	assert_int_equal(parse("-no-such-flag=3"), -EINVAL);
	assert_non_null(strstr(err, "unknown flag -no-such-flag"));
	assert_null(strstr(err, "=3"));
	assert_int_equal(parse("stray"), -EINVAL);
	assert_non_null(strstr(err, "unexpected argument \"stray\""));
}

static void
test_aliases(void **state)
{
	(void)state;
	assert_int_equal(parse("--nvidia-ctk-path=/a/nvidia-ctk"), 0);
	assert_string_equal(cfg.nvidia_cdi_hook_path, "/a/nvidia-ctk");
	assert_int_equal(parse("--nvidia-cdi-hook-path", "/b/hook"), 0);
	assert_string_equal(cfg.nvidia_cdi_hook_path, "/b/hook");
	setenv("NVIDIA_CTK_PATH", "/c/nvidia-ctk", 1);
	assert_int_equal(parse(NULL), 0);
	assert_string_equal(cfg.nvidia_cdi_hook_path, "/c/nvidia-ctk");
	/* The first variable NVIDIA lists wins over the second. */
	setenv("NVIDIA_CDI_HOOK_PATH", "/d/hook", 1);
	assert_int_equal(parse(NULL), 0);
	assert_string_equal(cfg.nvidia_cdi_hook_path, "/d/hook");
	assert_int_equal(parse("--nvidia-driver-root=/run/nvidia/driver"), 0);
	assert_string_equal(cfg.driver_root, "/run/nvidia/driver");
	assert_string_equal(cfg.dev_root, "/run/nvidia/driver");
	setenv("CONTAINER_DRIVER_ROOT", "/host-driver", 1);
	assert_int_equal(parse(NULL), 0);
	assert_string_equal(cfg.driver_root_ctr_path, "/host-driver");
}

static void
test_device_list_strategy(void **state)
{
	(void)state;
	setenv("DEVICE_LIST_STRATEGY", " envvar , volume-mounts,cdi-cri", 1);
	assert_int_equal(parse(NULL), 0);
	assert_int_equal(cfg.device_list_strategies, DEVICE_LIST_ENVVAR |
	    DEVICE_LIST_VOLUME_MOUNTS | DEVICE_LIST_CDI_CRI);
	assert_int_equal(cfg.device_list_strategy.n, 3);
	assert_string_equal(cfg.device_list_strategy.item[1],
	    "volume-mounts");
	/* A flag replaces the variable; repeated, it adds. */
	assert_int_equal(parse("--device-list-strategy=cdi-annotations",
	    "-device-list-strategy", "cdi-cri"), 0);
	assert_int_equal(cfg.device_list_strategies, DEVICE_LIST_ANY_CDI);
	assert_int_equal(parse("--device-list-strategy=envvar,bogus"),
	    -EINVAL);
	assert_non_null(strstr(err, "invalid --device-list-strategy option: "
	    "invalid strategy: bogus"));
	setenv("DEVICE_LIST_STRATEGY", ",", 1);
	assert_int_equal(parse(NULL), -EINVAL);
	assert_non_null(strstr(err, "no device list strategy specified"));
	assert_non_null(strstr(err, "DEVICE_LIST_STRATEGY"));
}

static void
test_nvidia_error_wording(void **state)
{
	(void)state;
	setenv("MIG_STRATEGY", "both", 1);
	assert_int_equal(parse(NULL), -EINVAL);
	assert_non_null(strstr(err, "unknown MIG strategy: both"));
	assert_non_null(strstr(err, "MIG_STRATEGY"));
	unsetenv("MIG_STRATEGY");
	assert_int_equal(parse("--device-id-strategy=serial"), -EINVAL);
	assert_non_null(strstr(err, "invalid --device-id-strategy option: "
	    "serial"));
	assert_int_equal(parse("--device-discovery-strategy=wsl"), -EINVAL);
	assert_non_null(strstr(err, "invalid --device-discovery-strategy "
	    "option wsl"));
	assert_int_equal(parse("--shared-devices-allocation-policy=tight"),
	    -EINVAL);
	assert_non_null(strstr(err, "invalid "
	    "--shared-devices-allocation-policy option: tight"));
	assert_int_equal(parse("--imex-channel-ids=0,1"), -EINVAL);
	assert_non_null(strstr(err, "invalid IMEX channel IDs: invalid IMEX "
	    "config: channelIDs must be [] or [0]; found [0 1]"));
	assert_int_equal(parse("--imex-channel-ids=zero"), -EINVAL);
	assert_non_null(strstr(err, "zero"));
	/* tegra is NVIDIA's, and not ours: a different answer. */
	setenv("DEVICE_DISCOVERY_STRATEGY", "tegra", 1);
	assert_int_equal(parse(NULL), -ENOTSUP);
	assert_non_null(strstr(err, "tegra"));
	assert_non_null(strstr(err, "not supported"));
}

static void
test_new_settings(void **state)
{
	(void)state;
	assert_int_equal(parse("--gdrcopy-enabled", "--mofed-enabled=1",
	    "--cdi-annotation-prefix=nvidia.cdi.k8s.io/",
	    "--mps-root=/run/nvidia/mps",
	    "--shared-devices-allocation-policy=packed",
	    "--device-discovery-strategy=nvml", "--imex-channel-ids=0",
	    "--imex-required", "--cdi-feature-flags=a,b",
	    "--cdi-feature-flags", "c", "--cdi-disable-hooks=all"), 0);
	assert_true(cfg.gdrcopy_enabled);
	assert_true(cfg.mofed_enabled);
	assert_string_equal(cfg.cdi_annotation_prefix, "nvidia.cdi.k8s.io/");
	assert_string_equal(cfg.mps_root, "/run/nvidia/mps");
	assert_int_equal(cfg.shared_devices_allocation_policy,
	    ALLOCATION_PACKED);
	assert_int_equal(cfg.device_discovery_strategy, DISCOVERY_NVML);
	/* Ours, beside NVIDIA's two: one replica per GPU while it can. */
	setenv("SHARED_DEVICES_ALLOCATION_POLICY", "distributed-strict", 1);
	assert_int_equal(parse(NULL), 0);
	assert_int_equal(cfg.shared_devices_allocation_policy,
	    ALLOCATION_DISTRIBUTED_STRICT);
	unsetenv("SHARED_DEVICES_ALLOCATION_POLICY");
	assert_int_equal(parse("--gdrcopy-enabled", "--mofed-enabled=1",
	    "--cdi-annotation-prefix=nvidia.cdi.k8s.io/",
	    "--mps-root=/run/nvidia/mps",
	    "--shared-devices-allocation-policy=packed",
	    "--device-discovery-strategy=nvml", "--imex-channel-ids=0",
	    "--imex-required", "--cdi-feature-flags=a,b",
	    "--cdi-feature-flags", "c", "--cdi-disable-hooks=all"), 0);
	assert_int_equal(cfg.n_imex_channel_ids, 1);
	assert_int_equal(cfg.imex_channel_ids[0], 0);
	assert_true(cfg.imex_required);
	assert_int_equal(cfg.cdi_feature_flags.n, 3);
	assert_string_equal(cfg.cdi_feature_flags.item[2], "c");
	assert_int_equal(cfg.cdi_disable_hooks.n, 1);
	assert_string_equal(cfg.cdi_disable_hooks.item[0], "all");
	setenv("CDI_DISABLE_HOOKS", "create-symlinks, update-ldcache", 1);
	setenv("IMEX_CHANNEL_IDS", "0", 1);
	assert_int_equal(parse(NULL), 0);
	assert_int_equal(cfg.cdi_disable_hooks.n, 2);
	assert_string_equal(cfg.cdi_disable_hooks.item[1], "update-ldcache");
	assert_int_equal(cfg.n_imex_channel_ids, 1);
}

/* A config-file stand-in: flag name=value pairs (config/file.c maps the
 * file's keys to NVIDIA's flag names). */
static const char *
file_lookup(void *arg, const char *key, const char **where)
{
	const char *const *kv = arg;

	for (; kv[0] != NULL; kv += 2)
		if (strcmp(kv[0], key) == 0) {
			*where = "test.yaml:3:5";
			return kv[1];
		}
	return NULL;
}

static void
test_layer_precedence(void **state)
{
	static const char *const file[] = {
		"mig-strategy", "mixed",
		"device-list-strategy", "envvar,cdi-cri",
		"gds-enabled", "true",
		"device-id-strategy", "index",
		"fail-on-init-error", "false",
		NULL,
	};
	struct config_layer layer = { file_lookup, (void *)file };

	(void)state;
	setenv("DEVICE_ID_STRATEGY", "uuid", 1);
	assert_int_equal(parse_layered(&layer, "--gds-enabled=false",
	    (const char *)NULL), 0);
	assert_int_equal(cfg.mig_strategy, MIG_STRATEGY_MIXED);  /* file */
	assert_int_equal(cfg.device_list_strategies, DEVICE_LIST_ENVVAR |
	    DEVICE_LIST_CDI_CRI);
	assert_false(cfg.gds_enabled);                           /* flag */
	assert_int_equal(cfg.device_id_strategy, ID_STRATEGY_UUID); /* env */
	assert_false(cfg.fail_on_init_error);                    /* file */
	assert_true(cfg.pass_device_specs == false);             /* default */
	/* A bad value from the layer is named by the layer's |where|. */
	static const char *const bad[] = { "mig-strategy", "some", NULL };
	struct config_layer bad_layer = { file_lookup, (void *)bad };

	assert_int_equal(parse_layered(&bad_layer, NULL), -EINVAL);
	assert_non_null(strstr(err, "unknown MIG strategy: some"));
	assert_non_null(strstr(err, "test.yaml:3:5"));
}

static void
count_warning(const char *msg, void *arg)
{
	char *out = arg;

	strncat(out, msg, 4000 - strlen(out));
	strncat(out, "\n", 4000 - strlen(out));
}

static void
test_warnings_name_pending_settings(void **state)
{
	char out[4096] = "";

	(void)state;
	assert_int_equal(parse(NULL), 0);
	assert_int_equal(config_warnings(&cfg, count_warning, out), 0);
	/* Set, but to their defaults: nothing to say. */
	setenv("MPS_ROOT", "", 1);
	setenv("CDI_FEATURE_FLAGS", "", 1);
	assert_int_equal(parse(NULL), 0);
	assert_int_equal(config_warnings(&cfg, count_warning, out), 0);
	/* Applied (strategies, extras): nothing to say either. */
	setenv("GDS_ENABLED", "t", 1);
	setenv("DEVICE_LIST_STRATEGY", "volume-mounts", 1);
	assert_int_equal(parse("-mofed-enabled", "--gdrcopy-enabled=true",
	    "--imex-channel-ids=0"), 0);
	assert_int_equal(config_warnings(&cfg, count_warning, out), 0);
	/* MPS's root is applied too (the replicas' Allocate mounts). */
	setenv("MPS_ROOT", "/run/nvidia/mps", 1);
	assert_int_equal(parse("-cdi-feature-flags=a"), 0);
	assert_int_equal(config_warnings(&cfg, count_warning, out), 1);
	assert_null(strstr(out, "mps-root"));
	assert_non_null(strstr(out, "--cdi-feature-flags=a "
	    "(-cdi-feature-flags=a)"));
}

/* config_each: "flag=value<origin>;" for each setting. */
static void
each(const char *flag, const char *file_key, const char *value,
    const char *origin, void *arg)
{
	char *out = arg;
	size_t used = strlen(out);

	snprintf(out + used, 8192 - used, "%s%s%s=%s<%s>;", flag,
	    file_key ? "/" : "", file_key ? file_key : "", value,
	    origin ? origin : "default");
}

static void
test_each_setting_with_its_origin(void **state)
{
	static const char *const file[] = { "mig-strategy", "single", NULL };
	struct config_layer layer = { file_lookup, (void *)file };
	char out[8192] = "";

	(void)state;
	setenv("DEVICE_LIST_STRATEGY", "envvar,cdi-cri", 1);
	assert_int_equal(parse_layered(&layer, "-gds-enabled",
	    "--health-probe-interval=2s", (const char *)NULL), 0);
	config_each(&cfg, each, out);
	assert_non_null(strstr(out, ";mig-strategy/flags.migStrategy=single"
	    "<test.yaml:3:5>;"));
	assert_non_null(strstr(out, ";device-list-strategy/flags.plugin."
	    "deviceListStrategy=envvar,cdi-cri<DEVICE_LIST_STRATEGY>;"));
	assert_non_null(strstr(out, ";gds-enabled/flags.gdsEnabled=true"
	    "<-gds-enabled>;"));
	assert_non_null(strstr(out, ";health-probe-interval=2000ms"
	    "<--health-probe-interval=2s>;"));
	assert_non_null(strstr(out, ";device-id-strategy/flags.plugin."
	    "deviceIDStrategy=uuid<default>;"));
	assert_non_null(strstr(out, ";max-connections=128<default>;"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_nvidia_defaults, clean_env),
		cmocka_unit_test_setup(test_go_booleans, clean_env),
		cmocka_unit_test_setup(test_dashes_and_values, clean_env),
		cmocka_unit_test_setup(test_help_and_version, clean_env),
		cmocka_unit_test_setup(test_unknown_flags, clean_env),
		cmocka_unit_test_setup(test_aliases, clean_env),
		cmocka_unit_test_setup(test_device_list_strategy, clean_env),
		cmocka_unit_test_setup(test_nvidia_error_wording, clean_env),
		cmocka_unit_test_setup(test_new_settings, clean_env),
		cmocka_unit_test_setup(test_layer_precedence, clean_env),
		cmocka_unit_test_setup(test_warnings_name_pending_settings,
		    clean_env),
		cmocka_unit_test_setup(test_each_setting_with_its_origin,
		    clean_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
