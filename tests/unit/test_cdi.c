/*
 * test_cdi.c: the CDI spec builder (src/cdi) on a driver root made here,
 * and the device-list strategies' answers (src/resources/strategies.c),
 * each also walked through every allocation failure (the fault plan of
 * util/alloc.h, compiled in for this test): each failure is an error
 * return, never a crash or a leak (the sanitizer builds check leaks).
 *
 * The spec's contents are checked end to end, through the CDI library,
 * by tests/plugin/strategies-test.py; here: what the version and host
 * paths depend on, and the edge cases that are cheaper to set up in C
 * (two views of one GPU, as replicas will have).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "cdi/cdi.h"
#include "deviceplugin.pb-c.h"
#include "requests.pb-c.h"
#include "resources/resources.h"
#include "util/alloc.h"

#define VERSION "550.90.07"

static struct gpu gpus[2];
static struct inventory inv = { gpus, 2, VERSION, 12040, NULL, 0, NULL, 0, NULL, 0 };
static char root[64];

static void
write_file(const char *rel)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s%s", root, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
}

static int
setup(void **state)
{
	char path[256];

	for (unsigned i = 0; i < 2; i++) {
		memset(&gpus[i], 0, sizeof(gpus[i]));
		gpus[i].index = i;
		snprintf(gpus[i].uuid, sizeof(gpus[i].uuid),
		    "GPU-%u0000000-0000-0000-0000-000000000000", i + 1);
		gpus[i].minor = i;
		gpus[i].numa_node = -1;
	}
	snprintf(root, sizeof(root), "/tmp/gdp-test-cdi.XXXXXX");
	if (mkdtemp(root) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/usr", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/usr/lib64", root);
	mkdir(path, 0755);
	write_file("/usr/lib64/libcuda.so." VERSION);
	snprintf(path, sizeof(path), "%s/usr/lib64/libcuda.so.1", root);
	return symlink("libcuda.so." VERSION, path);
}

static int
teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	return system(cmd);
}

static struct resources *
build(enum id_strategy ids, unsigned strategies, const char *dev_root)
{
	struct resources_options o = { .resource_name = "nvidia.com/gpu",
		.id_strategy = ids, .strategies = strategies,
		.pass_device_specs = true, .gds = true,
		.n_imex = 1, .dev_root = dev_root,
		.control_present = { true, false, false, false } };
	struct resources *r = NULL;
	char err[256];

	assert_int_equal(resources_build(&inv, &o, &r, err, sizeof(err)), 0);
	return r;
}

static json_t *
spec_of(const struct resources *r)
{
	struct cdi_options o = { .driver_root = "/host/driver",
		.driver_root_seen = root, .driver_version = VERSION };
	char *text = NULL, err[256];
	json_t *j;

	assert_int_equal(cdi_gpu_spec(&o, &r->res[0], &text, err,
	    sizeof(err)), 0);
	j = json_loads(text, 0, NULL);
	assert_non_null(j);
	gdp_free(text);
	return j;
}

static const char *
str_at(json_t *j, const char *path)
{
	json_t *v = j;
	char key[64];

	for (const char *at = path; *at != '\0' && v != NULL;) {
		size_t n = strcspn(at, ".");

		snprintf(key, sizeof(key), "%.*s", (int)n, at);
		v = json_is_array(v) ? json_array_get(v, strtoul(key, NULL,
		    10)) : json_object_get(v, key);
		at += n + (at[n] == '.');
	}
	return json_string_value(v);
}

static void
test_spec_version_and_host_paths(void **state)
{
	struct resources *r = build(ID_STRATEGY_UUID, STRATEGY_CDI_CRI, "/");
	json_t *j = spec_of(r);

	/* UUID names, device nodes at their own paths: 0.3.0 is enough. */
	assert_string_equal(str_at(j, "cdiVersion"), "0.3.0");
	assert_string_equal(str_at(j, "kind"),
	    "k8s.device-plugin.nvidia.com/gpu");
	assert_string_equal(str_at(j, "devices.1.name"), gpus[1].uuid);
	assert_null(str_at(j, "devices.1.containerEdits.deviceNodes.0."
	    "hostPath"));
	assert_string_equal(str_at(j, "containerEdits.deviceNodes.0.path"),
	    "/dev/nvidiactl");
	/* Found under the root we see, written under the host's. */
	assert_string_equal(str_at(j, "containerEdits.mounts.0.hostPath"),
	    "/host/driver/usr/lib64/libcuda.so." VERSION);
	assert_string_equal(str_at(j, "containerEdits.mounts.0."
	    "containerPath"), "/usr/lib64/libcuda.so." VERSION);
	assert_string_equal(str_at(j, "containerEdits.hooks.0.args.4"),
	    "libcuda.so." VERSION "::/usr/lib64/libcuda.so.1");
	json_decref(j);
	resources_free(r);
	/* Index names, a dev root: 0.5.0, hostPath under the dev root. */
	r = build(ID_STRATEGY_INDEX, STRATEGY_CDI_CRI, "/host/");
	j = spec_of(r);
	assert_string_equal(str_at(j, "cdiVersion"), "0.5.0");
	assert_string_equal(str_at(j, "devices.0.name"), "0");
	assert_string_equal(str_at(j, "devices.0.containerEdits.deviceNodes."
	    "0.hostPath"), "/host/dev/nvidia0");
	json_decref(j);
	resources_free(r);
}

static void
test_spec_survives_every_allocation_failure(void **state)
{
	struct resources *r = build(ID_STRATEGY_INDEX, STRATEGY_CDI, "/h");
	struct cdi_options o = { .driver_root = "/", .driver_root_seen = root,
		.driver_version = VERSION };
	unsigned long n;

	for (n = 1; n < 100000; n++) {
		char *text = NULL, err[256];
		int rc;

		gdp_alloc_fail_at(n, false);
		rc = cdi_gpu_spec(&o, &r->res[0], &text, err, sizeof(err));
		if (gdp_alloc_failed() == 0) {
			assert_int_equal(rc, 0);
			gdp_free(text);
			break;
		}
		assert_true(rc == 0 || rc == -ENOMEM);
		gdp_free(text);
	}
	gdp_alloc_fail_at(0, false);
	assert_true(n > 10);
	resources_free(r);
}

/* One Allocate of both GPUs, the first twice. */
static const V1beta1__ContainerAllocateResponse *
allocate_both(const struct resources *r, struct arena *a)
{
	static ProtobufCBinaryData ids[3];
	static V1beta1__Raw__ContainerAllocateRequest c;
	static V1beta1__Raw__ContainerAllocateRequest *cp[1] = { &c };
	static V1beta1__Raw__AllocateRequest req;
	const V1beta1__AllocateResponse *resp;
	char msg[256];

	for (size_t i = 0; i < 3; i++)
		ids[i] = (ProtobufCBinaryData){ strlen(gpus[i % 2].uuid),
			(uint8_t *)gpus[i % 2].uuid };
	v1beta1__raw__allocate_request__init(&req);
	v1beta1__raw__container_allocate_request__init(&c);
	c.devices_ids = ids;
	c.n_devices_ids = 3;
	req.container_requests = cp;
	req.n_container_requests = 1;
	resp = (const V1beta1__AllocateResponse *)resource_allocate(
	    &r->res[0], &req.base, a, msg, sizeof(msg));
	return resp != NULL ? resp->container_responses[0] : NULL;
}

static void
test_two_views_of_one_gpu_pass_its_node_once(void **state)
{
	struct resources *r = build(ID_STRATEGY_UUID, STRATEGY_ENVVAR, NULL);
	struct arena a = ARENA_INIT;
	const V1beta1__ContainerAllocateResponse *c;

	/* As replicas will be: the second view is of the first GPU. */
	r->res[0].views[1].gpu = 0;
	snprintf(r->res[0].views[1].dev_path,
	    sizeof(r->res[0].views[1].dev_path), "/dev/nvidia0");
	c = allocate_both(r, &a);
	assert_non_null(c);
	/* nvidiactl, nvidia0 once, the IMEX channel. */
	assert_int_equal(c->n_devices, 3);
	assert_string_equal(c->devices[0]->container_path, "/dev/nvidiactl");
	assert_string_equal(c->devices[1]->container_path, "/dev/nvidia0");
	assert_string_equal(c->devices[2]->container_path,
	    "/dev/nvidia-caps-imex-channels/channel0");
	arena_free(&a);
	resources_free(r);
}

static int
no_random(void *buf, size_t len)
{
	return -EIO;
}

static void
test_no_random_bytes_is_an_error(void **state)
{
	struct resources *r = build(ID_STRATEGY_UUID,
	    STRATEGY_CDI_ANNOTATIONS, NULL);
	struct arena a = ARENA_INIT;

	r->random = no_random;
	assert_null(allocate_both(r, &a));
	assert_int_equal(errno, EIO);
	arena_free(&a);
	resources_free(r);
}

static void
test_every_strategy_survives_every_allocation_failure(void **state)
{
	struct resources *r = build(ID_STRATEGY_INDEX, STRATEGY_ENVVAR |
	    STRATEGY_VOLUME_MOUNTS | STRATEGY_CDI, "/h");
	unsigned long n;

	for (n = 1; n < 100000; n++) {
		struct arena a = ARENA_INIT;
		const V1beta1__ContainerAllocateResponse *c;

		gdp_alloc_fail_at(n, false);
		c = allocate_both(r, &a);
		arena_free(&a);
		if (gdp_alloc_failed() == 0) {
			assert_non_null(c);
			break;
		}
	}
	gdp_alloc_fail_at(0, false);
	assert_true(n > 1);
	resources_free(r);
}

static void
test_strategy_list_parsing(void **state)
{
	unsigned set = 0;
	char err[128];

	assert_int_equal(strategies_parse("cdi-cri,envvar,cdi-cri", &set, err,
	    sizeof(err)), 0);
	assert_int_equal(set, STRATEGY_CDI_CRI | STRATEGY_ENVVAR);
	assert_int_equal(strategies_parse("envvar,,cdi-cri", &set, err,
	    sizeof(err)), -EINVAL);
	assert_string_equal(err, "invalid --device-list-strategy option: "
	    "invalid strategy: ");
	assert_int_equal(strategies_parse("volume-mount", &set, err,
	    sizeof(err)), -EINVAL);
	assert_string_equal(err, "invalid --device-list-strategy option: "
	    "invalid strategy: volume-mount");
}

/* GPU 1 with MIG on: two MIG devices (GI 3 CI 0, GI 5 CI 0). */
static struct mig_device cdi_migs[2];

static void
mig_on(bool on)
{
	for (unsigned k = 0; k < 2; k++) {
		struct mig_device *m = &cdi_migs[k];

		memset(m, 0, sizeof(*m));
		snprintf(m->uuid, sizeof(m->uuid), "MIG-%u0000000-0000-0000-"
		    "0000-000000000000", k + 7);
		m->index = k;
		m->gi = 3 + 2 * k;
		m->gi_slices = m->ci_slices = 1;
		snprintf(m->profile, sizeof(m->profile), "1g.5gb");
		m->gi_cap_minor = 30 + (int)k;
		m->ci_cap_minor = 40 + (int)k;
	}
	gpus[1].mig_enabled = on;
	gpus[1].migs = on ? cdi_migs : NULL;
	gpus[1].n_migs = on ? 2 : 0;
}

static struct resources *
build_mig(enum id_strategy ids, enum mig_strategy mig)
{
	struct resources_options o = { .resource_name = "nvidia.com/gpu",
		.id_strategy = ids, .strategies = STRATEGY_CDI_CRI,
		.mig_strategy = mig, .dev_root = "/" };
	struct resources *r = NULL;
	char err[256];

	assert_int_equal(resources_build(&inv, &o, &r, err, sizeof(err)), 0);
	return r;
}

static json_t *
spec_with_inventory(const struct resources *r)
{
	struct cdi_options o = { .driver_root = "/host/driver",
		.driver_root_seen = root, .driver_version = VERSION,
		.inv = &inv };
	char *text = NULL, err[256];
	json_t *j;

	assert_int_equal(cdi_gpu_spec(&o, &r->res[0], &text, err,
	    sizeof(err)), 0);
	j = json_loads(text, 0, NULL);
	assert_non_null(j);
	gdp_free(text);
	return j;
}

static void
expect_mig_device(json_t *j, size_t at, const char *name, unsigned k)
{
	char key[64], cap[64];

	snprintf(key, sizeof(key), "devices.%zu.name", at);
	assert_string_equal(str_at(j, key), name);
	snprintf(key, sizeof(key), "devices.%zu.containerEdits.deviceNodes",
	    at);
	assert_int_equal(json_array_size(json_object_get(json_object_get(
	    json_array_get(json_object_get(j, "devices"), at),
	    "containerEdits"), "deviceNodes")), 3);
	snprintf(key, sizeof(key), "devices.%zu.containerEdits.deviceNodes."
	    "0.path", at);
	assert_string_equal(str_at(j, key), "/dev/nvidia1");
	snprintf(key, sizeof(key), "devices.%zu.containerEdits.deviceNodes."
	    "1.path", at);
	snprintf(cap, sizeof(cap), "/dev/nvidia-caps/nvidia-cap%u", 30 + k);
	assert_string_equal(str_at(j, key), cap);
	snprintf(key, sizeof(key), "devices.%zu.containerEdits.deviceNodes."
	    "2.path", at);
	snprintf(cap, sizeof(cap), "/dev/nvidia-caps/nvidia-cap%u", 40 + k);
	assert_string_equal(str_at(j, key), cap);
}

static void
test_spec_has_every_resources_mig_devices(void **state)
{
	struct resources *r;
	json_t *j;

	mig_on(true);
	/* mixed: GPU 0 whole (first resource), the MIG devices of the
	   other, with the parent's node and both capability nodes. */
	r = build_mig(ID_STRATEGY_UUID, MIG_STRATEGY_MIXED);
	assert_int_equal(r->n, 2);
	j = spec_with_inventory(r);
	assert_int_equal(json_array_size(json_object_get(j, "devices")), 3);
	assert_string_equal(str_at(j, "devices.0.name"), gpus[0].uuid);
	expect_mig_device(j, 1, cdi_migs[0].uuid, 0);
	expect_mig_device(j, 2, cdi_migs[1].uuid, 1);
	json_decref(j);
	resources_free(r);
	/* Index names are <gpu-index>:<mig-index>, as nvidia-ctk's. */
	r = build_mig(ID_STRATEGY_INDEX, MIG_STRATEGY_MIXED);
	j = spec_with_inventory(r);
	assert_string_equal(str_at(j, "devices.0.name"), "0");
	expect_mig_device(j, 1, "1:0", 0);
	expect_mig_device(j, 2, "1:1", 1);
	json_decref(j);
	resources_free(r);
	mig_on(false);
}

static void
test_spec_under_none_has_mig_devices_too(void **state)
{
	struct resources *r;
	json_t *j;

	mig_on(true);
	/* As NVIDIA's: the MIG devices whatever the strategy; ours also
	   keeps the whole GPU that none advertises. */
	r = build_mig(ID_STRATEGY_INDEX, MIG_STRATEGY_NONE);
	j = spec_with_inventory(r);
	assert_int_equal(json_array_size(json_object_get(j, "devices")), 4);
	assert_string_equal(str_at(j, "devices.0.name"), "0");
	assert_string_equal(str_at(j, "devices.1.name"), "1");
	expect_mig_device(j, 2, "1:0", 0);
	expect_mig_device(j, 3, "1:1", 1);
	assert_string_equal(str_at(j, "cdiVersion"), "0.5.0");
	json_decref(j);
	resources_free(r);
	mig_on(false);
}

/* Building the MIG strategies' resources and their spec: every
 * allocation that fails gives -ENOMEM (and frees what was made). */
static void
test_mig_build_survives_every_allocation_failure(void **state)
{
	struct resources_options o = { .resource_name = "nvidia.com/gpu",
		.id_strategy = ID_STRATEGY_UUID, .strategies = STRATEGY_CDI_CRI,
		.mig_strategy = MIG_STRATEGY_MIXED };
	struct cdi_options c = { .driver_root = "/", .driver_root_seen = root,
		.driver_version = VERSION, .inv = &inv };
	unsigned long n;

	mig_on(true);
	for (n = 1; n < 100000; n++) {
		struct resources *r = NULL;
		char *text = NULL, err[256];
		int rc;

		gdp_alloc_fail_at(n, false);
		rc = resources_build(&inv, &o, &r, err, sizeof(err));
		if (rc == 0)
			rc = cdi_gpu_spec(&c, &r->res[0], &text, err,
			    sizeof(err));
		if (gdp_alloc_failed() == 0) {
			assert_int_equal(rc, 0);
			assert_int_equal(r->n, 2);
			gdp_free(text);
			resources_free(r);
			break;
		}
		assert_true(rc == 0 || rc == -ENOMEM);
		gdp_free(text);
		resources_free(r);
	}
	gdp_alloc_fail_at(0, false);
	assert_true(n > 5);
	mig_on(false);
}

/*
 * A shared table (GPU 0's four replicas renamed, GPU 1 left whole): the
 * spec has each GPU once, by its UUID, never a replica; building it
 * survives every allocation failure.
 */
static void
test_shared_spec_has_each_gpu_once(void **state)
{
	struct cfgfile_replicated rule = { .name = "nvidia.com/gpu",
		.rename = "nvidia.com/gpu.shared",
		.devices = CFGFILE_DEVICES_COUNT, .count = 1, .replicas = 4,
		.where = "c.yaml:4:5: sharing.timeSlicing.resources[0]" };
	struct cfgfile_sharing sh = { .present = true,
		.fail_requests_greater_than_one = -1, .resources = &rule,
		.n_resources = 1 };
	struct resources_options o = { .resource_name = "nvidia.com/gpu",
		.id_strategy = ID_STRATEGY_UUID, .strategies = STRATEGY_CDI_CRI,
		.sharing = &sh };
	struct resources *r = NULL;
	char err[256];
	json_t *j;
	unsigned long n;

	assert_int_equal(resources_build(&inv, &o, &r, err, sizeof(err)), 0);
	assert_int_equal(r->n, 2);
	assert_int_equal(r->res[1].n, 4);
	j = spec_with_inventory(r);
	assert_int_equal(json_array_size(json_object_get(j, "devices")), 2);
	assert_string_equal(str_at(j, "devices.0.name"), gpus[1].uuid);
	assert_string_equal(str_at(j, "devices.1.name"), gpus[0].uuid);
	json_decref(j);
	resources_free(r);
	for (n = 1; n < 100000; n++) {
		char *text = NULL;
		struct cdi_options c = { .driver_root = "/",
			.driver_root_seen = root, .driver_version = VERSION,
			.inv = &inv };
		int rc;

		r = NULL;
		gdp_alloc_fail_at(n, false);
		rc = resources_build(&inv, &o, &r, err, sizeof(err));
		if (rc == 0)
			rc = cdi_gpu_spec(&c, &r->res[0], &text, err,
			    sizeof(err));
		if (gdp_alloc_failed() == 0) {
			assert_int_equal(rc, 0);
			gdp_free(text);
			resources_free(r);
			break;
		}
		assert_true(rc == 0 || rc == -ENOMEM);
		gdp_free(text);
		resources_free(r);
	}
	gdp_alloc_fail_at(0, false);
	assert_true(n > 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_version_and_host_paths),
		cmocka_unit_test(test_spec_survives_every_allocation_failure),
		cmocka_unit_test(test_two_views_of_one_gpu_pass_its_node_once),
		cmocka_unit_test(test_no_random_bytes_is_an_error),
		cmocka_unit_test(
		    test_every_strategy_survives_every_allocation_failure),
		cmocka_unit_test(test_strategy_list_parsing),
		cmocka_unit_test(test_spec_has_every_resources_mig_devices),
		cmocka_unit_test(test_spec_under_none_has_mig_devices_too),
		cmocka_unit_test(test_shared_spec_has_each_gpu_once),
		cmocka_unit_test(
		    test_mig_build_survives_every_allocation_failure),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
