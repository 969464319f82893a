/*
 * test_fleet.c: the served resources across reloads (plugin/fleet.h),
 * at the file system: which sockets exist after each new table, and
 * what fleet_apply() says it did.
 *
 * A sequence of resource tables, as reloads would build them, is
 * applied to one fleet serving in a temporary directory without a
 * kubelet (registration is the link's, tested through the stand-in in
 * tests/plugin/reload-test.py): the same table again, other Allocate
 * options, a GPU fewer, a GPU unhealthy, no GPU, a GPU back, a renamed
 * resource, and a table one of whose plugins cannot be made (nothing
 * may change then); a resource withheld (fleet_withhold(), the MPS
 * daemon's hook) and given back, across reloads.
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

#include "plugin/fleet.h"
#include "resources/resources.h"

#define NGPUS 3

static struct gpu gpus[NGPUS];
static char dir[64];
static struct loop *loop;
static struct fleet *fleet;
static struct resources *served;     /* the table the fleet serves */

static int
setup(void **state)
{
	struct fleet_options o = { dir, "", { 0 }, NULL, NULL };

	for (unsigned i = 0; i < NGPUS; i++) {
		gpus[i].index = i;
		snprintf(gpus[i].uuid, sizeof(gpus[i].uuid),
		    "GPU-0000000%u-aaaa-bbbb-cccc-ddddeeeeffff", i);
		gpus[i].minor = i;
		gpus[i].numa_node = (int)i / 2;
	}
	snprintf(dir, sizeof(dir), "/tmp/gdp-fleet.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	served = NULL;
	loop = loop_new();
	fleet = loop != NULL ? fleet_new(loop, &o) : NULL;
	return fleet == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	fleet_free(fleet);
	resources_free(served);
	loop_free(loop);
	(void)rmdir(dir);
	return 0;
}

/* A table of the first |n| GPUs named |name| (NULL: nvidia.com/gpu). */
static struct resources *
table(size_t n, const char *name, enum id_strategy ids)
{
	struct inventory inv = { gpus, n, "550.90.07", 12040, NULL, 0, NULL,
		0, NULL, 0 };
	struct resources_options o = { .resource_name = name != NULL ? name :
		"nvidia.com/gpu", .id_strategy = ids };
	struct resources *r = NULL;
	char err[256];

	assert_int_equal(resources_build(&inv, &o, &r, err, sizeof(err)), 0);
	return r;
}

/* Applies |r|; on success it is the one served. Returns fleet_apply's. */
static int
apply(struct resources *r, struct fleet_change *c)
{
	char err[512];
	int rc = fleet_apply(fleet, r, false, c, err, sizeof(err));

	if (rc < 0) {
		resources_free(r);
		return rc;
	}
	resources_free(served);
	served = r;
	return 0;
}

static bool
socket_there(const char *name)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

static void
expect(const struct fleet_change *c, size_t kept, size_t relisted,
    size_t answers, size_t started, size_t stopped)
{
	assert_int_equal(c->kept, kept);
	assert_int_equal(c->relisted, relisted);
	assert_int_equal(c->answers, answers);
	assert_int_equal(c->started, started);
	assert_int_equal(c->stopped, stopped);
}

static void
test_reload_changes_only_what_differs(void **state)
{
	struct fleet_change c;
	struct resources *r;
	struct health_gpu_status st[2] = { { true, "" },
		{ false, "XID 48" } };
	struct health_snapshot snap = { st, 2, NULL, 0 };

	assert_int_equal(apply(table(NGPUS, NULL, ID_STRATEGY_UUID), &c), 0);
	expect(&c, 0, 0, 0, 1, 0);
	assert_true(socket_there("nvidia-gpu.sock"));

	/* The same table again: nothing to send, nothing restarted. */
	assert_int_equal(apply(table(NGPUS, NULL, ID_STRATEGY_UUID), &c), 0);
	expect(&c, 1, 0, 0, 0, 0);
	assert_false(served->res[0].changed);

	/* Other answers, the same list: no message either. */
	assert_int_equal(apply(table(NGPUS, NULL, ID_STRATEGY_INDEX), &c), 0);
	expect(&c, 0, 0, 1, 0, 0);
	assert_false(served->res[0].changed);

	/* A GPU fewer: the new list, on the same socket. */
	assert_int_equal(apply(table(2, NULL, ID_STRATEGY_INDEX), &c), 0);
	expect(&c, 0, 1, 0, 0, 0);
	assert_true(served->res[0].changed);
	fleet_publish(fleet);
	assert_false(served->res[0].changed);

	/* The same GPUs, one unhealthy: a list to send. */
	r = table(2, NULL, ID_STRATEGY_INDEX);
	(void)resources_set_health(r, &snap);
	assert_int_equal(apply(r, &c), 0);
	expect(&c, 0, 1, 0, 0, 0);
	fleet_publish(fleet);

	/* No GPU: no resource, its socket gone; back: served again. */
	assert_int_equal(apply(table(0, NULL, ID_STRATEGY_UUID), &c), 0);
	expect(&c, 0, 0, 0, 0, 1);
	assert_int_equal(fleet_size(fleet), 0);
	assert_false(socket_there("nvidia-gpu.sock"));
	assert_int_equal(apply(table(NGPUS, NULL, ID_STRATEGY_UUID), &c), 0);
	expect(&c, 0, 0, 0, 1, 0);
	assert_true(socket_there("nvidia-gpu.sock"));

	/* Renamed by the config: the new one started, the old one gone. */
	assert_int_equal(apply(table(NGPUS, "nvidia.com/other",
	    ID_STRATEGY_UUID), &c), 0);
	expect(&c, 0, 0, 0, 1, 1);
	assert_true(socket_there("nvidia-other.sock"));
	assert_false(socket_there("nvidia-gpu.sock"));
}

static void
test_a_plugin_that_cannot_be_made_changes_nothing(void **state)
{
	char name[160];
	struct fleet_change c;

	assert_int_equal(apply(table(NGPUS, NULL, ID_STRATEGY_UUID), &c), 0);
	/* A socket path past the 107 bytes a unix socket may have. */
	snprintf(name, sizeof(name), "nvidia.com/%0100d", 0);
	assert_int_equal(apply(table(NGPUS, name, ID_STRATEGY_INDEX), &c),
	    -ENAMETOOLONG);
	expect(&c, 0, 0, 0, 0, 0);
	assert_int_equal(fleet_size(fleet), 1);
	assert_true(socket_there("nvidia-gpu.sock"));
	assert_int_equal(served->id_strategy, ID_STRATEGY_UUID);
	/* And the next table is taken as if nothing had happened. */
	assert_int_equal(apply(table(NGPUS, NULL, ID_STRATEGY_UUID), &c), 0);
	expect(&c, 1, 0, 0, 0, 0);
}

static void
test_withheld_until_given_back_across_reloads(void **state)
{
	struct fleet_change c;

	assert_int_equal(apply(table(NGPUS, NULL, ID_STRATEGY_UUID), &c), 0);
	assert_int_equal(fleet_withhold(fleet, "nvidia.com/other", true,
	    "x"), -ENOENT);
	assert_int_equal(fleet_withhold(fleet, "nvidia.com/gpu", true,
	    "MPS control daemon not ready"), 0);
	assert_true(served->res[0].withheld);
	/* Published at once. */
	assert_false(served->res[0].changed);
	assert_false(resource_view_healthy(&served->res[0],
	    &served->res[0].views[0]));
	/* A reload keeps it withheld, with its reason. */
	assert_int_equal(apply(table(NGPUS, NULL, ID_STRATEGY_UUID), &c), 0);
	expect(&c, 1, 0, 0, 0, 0);
	assert_true(served->res[0].withheld);
	assert_string_equal(served->res[0].withheld_reason,
	    "MPS control daemon not ready");
	assert_int_equal(fleet_withhold(fleet, "nvidia.com/gpu", false, NULL),
	    0);
	assert_false(served->res[0].withheld);
	assert_true(resource_view_healthy(&served->res[0],
	    &served->res[0].views[0]));
	/* Given back: the next reload serves it as built. */
	assert_int_equal(apply(table(NGPUS, NULL, ID_STRATEGY_UUID), &c), 0);
	expect(&c, 1, 0, 0, 0, 0);
	assert_false(served->res[0].withheld);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_reload_changes_only_what_differs, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_plugin_that_cannot_be_made_changes_nothing, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_withheld_until_given_back_across_reloads, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
