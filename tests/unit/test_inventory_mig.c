/*
 * test_inventory_mig.c: MIG enumeration of the GPU inventory, through
 * the real binding (src/nvml) loading the fake libnvidia-ml.so.1 the way
 * the plugin does (by soname; meson puts the fake first on
 * LD_LIBRARY_PATH), on the shipped MIG profiles, with mig-minors files
 * written by tests/fakenvml/make-proc.sh.
 *
 * It checks the MIG devices of each GPU in index order (ids, profile
 * ids, slices, attributes, NVIDIA's profile name, capability minors),
 * C < G devices, a MIG-enabled GPU without MIG devices, a missing
 * mig-minors file, a MIG device NVML cannot describe (FAKE_NVML_FAIL), a
 * driver without the MIG entry points (FAKE_NVML_HIDE), a DGX Display,
 * and the profile names' rounding and attribute suffixes.
 *
 * Usage: test_inventory_mig MAKE_PROC PROFILES_DIR (meson passes both).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gpu/inventory.h"
#include "gpu/inventory_int.h"
#include "nvml/nvml.h"

static const char *make_proc;
static const char *profiles_dir;
static char proc_root[64];

struct run {
	struct nvml *nvml;
	struct inventory *inv;
};

/* Writes mig-minors for |profile| under proc_root. */
static void
write_minors(const char *profile)
{
	char cmd[8192];

	snprintf(cmd, sizeof(cmd), "'%s' '%s/%s' '%s'", make_proc,
	    profiles_dir, profile, proc_root);
	assert_int_equal(system(cmd), 0);
}

/* Discovers |profile| (a shipped file, or a path with a '/') with proc
 * root |proc|. */
static void
discover(struct run *r, const char *profile, const char *proc)
{
	char path[4096], err[512];
	struct nvml_error e;

	if (strchr(profile, '/') != NULL)
		snprintf(path, sizeof(path), "%s", profile);
	else
		snprintf(path, sizeof(path), "%s/%s", profiles_dir, profile);
	assert_int_equal(setenv("FAKE_NVML_PROFILE", path, 1), 0);
	r->nvml = nvml_open(NULL, NULL, err, sizeof(err));
	if (r->nvml == NULL)
		fail_msg("nvml_open: %s", err);
	assert_int_equal(nvml_init(r->nvml, &e), 0);
	if (inventory_discover_roots(r->nvml, "/nonexistent", proc, &r->inv,
	    err, sizeof(err)) != 0)
		fail_msg("discover: %s", err);
}

static void
finish(struct run *r)
{
	inventory_free(r->inv);
	nvml_close(r->nvml);
	unsetenv("FAKE_NVML_FAIL");
	unsetenv("FAKE_NVML_HIDE");
}

static void
check_mig(const struct mig_device *m, unsigned index, const char *profile,
    unsigned gi, unsigned ci, int gi_cap, int ci_cap)
{
	assert_int_equal(m->index, index);
	assert_string_equal(m->profile, profile);
	assert_int_equal(m->gi, gi);
	assert_int_equal(m->ci, ci);
	assert_int_equal(m->gi_cap_minor, gi_cap);
	assert_int_equal(m->ci_cap_minor, ci_cap);
	assert_memory_equal(m->uuid, "MIG-", 4);
}

/* The mixed A100 layout: every fact of one device, the rest by name. */
static void
test_a100_mixed(void **state)
{
	struct run r;
	const struct mig_device *m;

	write_minors("a100-sxm4-40gb-mig.yaml");
	discover(&r, "a100-sxm4-40gb-mig.yaml", proc_root);
	assert_int_equal(r.inv->n, 2);
	assert_int_equal(r.inv->n_skipped, 0);
	assert_int_equal(r.inv->n_warnings, 0);
	assert_true(r.inv->gpus[0].mig_capable);
	assert_true(r.inv->gpus[0].mig_enabled);
	assert_int_equal(r.inv->gpus[0].n_migs, 4);
	m = &r.inv->gpus[0].migs[0];
	assert_string_equal(m->uuid, "MIG-a42a4cc1-8d91-c887-bfc4-aec7668cb70c");
	assert_int_equal(m->gi_profile_id, 9);
	assert_int_equal(m->ci_profile_id, NVML_COMPUTE_INSTANCE_PROFILE_3_SLICE);
	assert_int_equal(m->gi_slices, 3);
	assert_int_equal(m->ci_slices, 3);
	assert_int_equal(m->multiprocessors, 42);
	assert_int_equal(m->copy_engines, 3);
	assert_int_equal(m->decoders, 2);
	assert_int_equal(m->memory_mib, 19968);
	check_mig(m, 0, "3g.20gb", 1, 0, 12, 13);
	check_mig(&r.inv->gpus[0].migs[1], 1, "2g.10gb", 5, 0, 48, 49);
	check_mig(&r.inv->gpus[0].migs[3], 3, "1g.5gb", 14, 0, 129, 130);
	assert_int_equal(r.inv->gpus[1].n_migs, 4);
	check_mig(&r.inv->gpus[1].migs[0], 0, "4g.20gb", 1, 0, 147, 148);
	check_mig(&r.inv->gpus[1].migs[1], 1, "1g.5gb+me", 7, 0, 201, 202);
	assert_int_equal(r.inv->gpus[1].migs[1].jpegs, 1);
	finish(&r);
}

/* The profile names of every shipped MIG layout, GPU by GPU. */
static void
test_shipped_names(void **state)
{
	static const struct {
		const char *file;
		const char *names[2];
	} cases[] = {
		{ "h100-80gb-mig.yaml", { "3g.40gb 2g.20gb 1g.10gb 1g.10gb+me",
		    "1g.20gb 2g.20gb 3g.40gb" } },
		{ "h200-141gb-mig.yaml", { "4g.71gb 2g.35gb 1g.18gb",
		    "3g.71gb 1g.35gb 1g.18gb+me 1g.18gb" } },
		{ "a100-sxm4-40gb-mig-relayout.yaml", { "7g.40gb",
		    "4g.20gb 1g.5gb+me 1g.5gb 1g.5gb" } },
		{ "h200-141gb-mig-single.yaml", { "3g.71gb 3g.71gb",
		    "3g.71gb 3g.71gb" } },
		{ "h100-80gb-mig-single.yaml", { "1g.10gb 1g.10gb 1g.10gb "
		    "1g.10gb 1g.10gb 1g.10gb 1g.10gb", NULL } },
		{ "mig-two-types.yaml", { NULL, "2g.10gb 2g.10gb 2g.10gb" } },
		{ "mig-and-full-gpus.yaml", { NULL, "" } },
		{ "mig-no-devices.yaml", { NULL, "" } },
		{ "rtx-pro-6000-mig.yaml", { "1g.24gb+gfx 1g.24gb-me "
		    "2g.48gb+me.all", "2g.48gb 1g.24gb+me.all 1g.24gb" } },
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct run r;

		write_minors(cases[c].file);
		discover(&r, cases[c].file, proc_root);
		assert_int_equal(r.inv->n_skipped, 0);
		for (size_t i = 0; i < 2; i++) {
			const struct gpu *g = &r.inv->gpus[i];
			char got[256] = "";

			if (cases[c].names[i] == NULL)
				continue;
			for (size_t k = 0; k < g->n_migs; k++) {
				assert_int_equal(g->migs[k].index, k);
				snprintf(got + strlen(got), sizeof(got) -
				    strlen(got), "%s%s", k ? " " : "",
				    g->migs[k].profile);
			}
			if (strcmp(got, cases[c].names[i]) != 0)
				fail_msg("%s GPU %zu: '%s'", cases[c].file, i,
				    got);
		}
		assert_int_equal(r.inv->gpus[1].mig_enabled,
		    strcmp(cases[c].file, "mig-and-full-gpus.yaml") != 0);
		finish(&r);
	}
}

/* Two compute instances of one GPU instance: 1c.2g.10gb, own CI caps. */
static void
test_c_lt_g(void **state)
{
	struct run r;
	const struct gpu *g;

	write_minors("mig-c-lt-g.yaml");
	discover(&r, "mig-c-lt-g.yaml", proc_root);
	g = &r.inv->gpus[0];
	assert_int_equal(g->n_migs, 5);
	check_mig(&g->migs[1], 1, "1c.2g.10gb", 5, 0, 48, 49);
	check_mig(&g->migs[2], 2, "1c.2g.10gb", 5, 1, 48, 50);
	assert_int_equal(g->migs[2].gi_slices, 2);
	assert_int_equal(g->migs[2].ci_slices, 1);
	assert_int_equal(g->migs[2].multiprocessors, 14);
	finish(&r);
}

/* No mig-minors: the devices are there, their minors -1, one warning. */
static void
test_no_minors(void **state)
{
	struct run r;

	discover(&r, "a100-sxm4-40gb-mig.yaml", "/nonexistent");
	assert_int_equal(r.inv->gpus[0].n_migs, 4);
	check_mig(&r.inv->gpus[0].migs[0], 0, "3g.20gb", 1, 0, -1, -1);
	assert_int_equal(r.inv->n_warnings, 1);
	assert_non_null(strstr(r.inv->warnings[0], "mig-minors"));
	finish(&r);
}

/* A MIG device NVML cannot describe is left out and said, not fatal. */
static void
test_mig_unreadable(void **state)
{
	struct run r;

	write_minors("a100-sxm4-40gb-mig.yaml");
	assert_int_equal(setenv("FAKE_NVML_FAIL",
	    "nvmlDeviceGetAttributes_v2:1+:NVML_ERROR_UNKNOWN", 1), 0);
	discover(&r, "a100-sxm4-40gb-mig.yaml", proc_root);
	assert_int_equal(r.inv->n, 2);
	assert_int_equal(r.inv->gpus[0].n_migs, 0);
	assert_int_equal(r.inv->n_skipped, 8);
	assert_non_null(strstr(r.inv->skipped[0], "MIG device 0:0 (MIG-"));
	assert_non_null(strstr(r.inv->skipped[0],
	    "nvmlDeviceGetAttributes_v2: NVML_ERROR_UNKNOWN"));
	finish(&r);
}

/* A driver without the MIG entry points: no MIG devices, said once. */
static void
test_no_mig_symbols(void **state)
{
	struct run r;

	write_minors("a100-sxm4-40gb-mig.yaml");
	assert_int_equal(setenv("FAKE_NVML_HIDE",
	    "nvmlDeviceGetMaxMigDeviceCount", 1), 0);
	discover(&r, "a100-sxm4-40gb-mig.yaml", proc_root);
	assert_int_equal(r.inv->n, 2);
	assert_true(r.inv->gpus[0].mig_enabled);
	assert_int_equal(r.inv->gpus[0].n_migs, 0);
	assert_int_equal(r.inv->gpus[1].n_migs, 0);
	assert_int_equal(r.inv->n_warnings, 1);
	assert_non_null(strstr(r.inv->warnings[0], "MIG devices unknown"));
	finish(&r);
}

/* go-nvlib's default skip list. */
static void
test_dgx_display(void **state)
{
	static const char text[] =
	    "driver_version: \"535.183.01\"\ncuda_driver_version: \"12.2\"\n"
	    "gpus:\n"
	    "  - name: NVIDIA A100-SXM4-40GB\n"
	    "    uuid: GPU-0d4c8e21-7b3f-4a59-9c16-e8f2a5b03d78\n"
	    "    memory_mib: 40960\n    pci_bus_id: \"00000001:00:00.0\"\n"
	    "    minor_number: 0\n    compute_capability: \"8.0\"\n"
	    "  - name: NVIDIA DGX Display\n"
	    "    uuid: GPU-9f7a1b36-c2e8-4d04-b5a1-3e6d0c94f289\n"
	    "    memory_mib: 4096\n    pci_bus_id: \"00000002:00:00.0\"\n"
	    "    minor_number: 1\n    compute_capability: \"7.5\"\n";
	char path[] = "/tmp/inventory-mig-XXXXXX";
	struct run r;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1),
	    (ssize_t)sizeof(text) - 1);
	close(fd);
	discover(&r, path, "/nonexistent");
	unlink(path);
	assert_int_equal(r.inv->n, 1);
	assert_int_equal(r.inv->n_skipped, 1);
	assert_non_null(strstr(r.inv->skipped[0], "NVIDIA DGX Display"));
	finish(&r);
}

/* Names by NVIDIA's rule: eighths of the GPU times its GiB, rounded. */
static void
test_profile_names(void **state)
{
	char b[48];
	const uint64_t a100 = 40960ULL << 20, h100 = 81559ULL << 20;

	assert_string_equal(mig_profile_name(0, 1, 1, 4864, a100, b,
	    sizeof(b)), "1g.5gb");
	assert_string_equal(mig_profile_name(1, 1, 2, 9856, a100, b,
	    sizeof(b)), "1c.2g.10gb");
	assert_string_equal(mig_profile_name(7, 1, 1, 9984, h100, b,
	    sizeof(b)), "1g.10gb+me");
	assert_string_equal(mig_profile_name(15, 1, 1, 20096, h100, b,
	    sizeof(b)), "1g.20gb+me.all");
	assert_string_equal(mig_profile_name(13, 1, 1, 9984, h100, b,
	    sizeof(b)), "1g.10gb-me");
	assert_string_equal(mig_profile_name(11, 2, 2, 20096, h100, b,
	    sizeof(b)), "2g.20gb+gfx");
	/* 70.5 rounds away from zero, as Go's math.Round. */
	assert_string_equal(mig_profile_name(2, 3, 3, 66560, 143771ULL << 20,
	    b, sizeof(b)), "3g.71gb");
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a100_mixed),
		cmocka_unit_test(test_shipped_names),
		cmocka_unit_test(test_c_lt_g),
		cmocka_unit_test(test_no_minors),
		cmocka_unit_test(test_mig_unreadable),
		cmocka_unit_test(test_no_mig_symbols),
		cmocka_unit_test(test_dgx_display),
		cmocka_unit_test(test_profile_names),
	};
	char cmd[128];
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: %s MAKE_PROC PROFILES_DIR\n", argv[0]);
		return 2;
	}
	make_proc = argv[1];
	profiles_dir = argv[2];
	snprintf(proc_root, sizeof(proc_root), "/tmp/inventory-mig-XXXXXX");
	if (mkdtemp(proc_root) == NULL)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", proc_root);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
