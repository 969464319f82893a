/*
 * test_labels.c: GPU Feature Discovery's label rules (src/labels), from
 * hand-built inventories: the product value's sanitising and its
 * 63-character bound, the MIG strategies' labels, sharing, families.
 * The plugin-level test (tests/labels) checks the same through the real
 * binary on every fake-NVML profile; this one reaches the cases no
 * profile has (MIG layouts, odd names, sharing kinds).
 */
#include <regex.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "labels/labels.h"
#include "util/alloc.h"

static void
assert_valid(const char *v)
{
	regex_t re;

	assert_int_equal(regcomp(&re, "^(([A-Za-z0-9][-A-Za-z0-9_.]*)?"
	    "[A-Za-z0-9])?$", REG_EXTENDED | REG_NOSUB), 0);
	if (regexec(&re, v, 0, NULL, 0) != 0)
		fail_msg("not a label value: \"%s\"", v);
	regfree(&re);
	assert_true(strlen(v) <= 63);
}

/* The product value of a model and its suffixes (a NULL-ended list). */
#define product_of(out, shared, ...) \
	label_product((const char *[]){ __VA_ARGS__, NULL }, (shared) != 0, \
	    (out))

static void
test_product_sanitised(void **state)
{
	char v[64];

	(void)state;
	product_of(v, 0, "NVIDIA TITAN X (Pascal)");
	assert_string_equal(v, "NVIDIA-TITAN-X-Pascal");
	product_of(v, 0, "Tesla  K80");
	assert_string_equal(v, "Tesla-K80");
	product_of(v, 1, "Tesla T4");
	assert_string_equal(v, "Tesla-T4-SHARED");
	product_of(v, 0, "NVIDIA A100-SXM4-40GB", "MIG", "1g.5gb");
	assert_string_equal(v, "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb");
	/* What a label value may not begin or end with goes. */
	product_of(v, 0, "_weird_ name.");
	assert_string_equal(v, "weird_-name");
	product_of(v, 0, "(((");
	assert_string_equal(v, "");
}

static void
test_product_bounded(void **state)
{
	const char *model = "NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation "
	    "Edition";
	char v[64], big[200];

	(void)state;
	/* NVIDIA #1876: 67 characters in GFD; the profile survives here. */
	product_of(v, 0, model, "MIG", "1g.24gb");
	assert_valid(v);
	assert_true(strstr(v, "-MIG-1g.24gb") != NULL);
	assert_int_equal(strncmp(v, "NVIDIA-RTX-PRO-6000", 19), 0);
	assert_int_equal(strlen(v), 63);
	product_of(v, 1, model, "MIG", "1g.24gb+me");
	assert_valid(v);
	/* '+' is not a label character: GFD drops it. */
	assert_string_equal(v + strlen(v) - 21, "-MIG-1g.24gbme-SHARED");
	/* A cut that lands on a '-' leaves no '-' at the end. */
	memset(big, 'a', 61);
	big[61] = ' ';
	big[62] = 'b';
	big[63] = '\0';
	product_of(v, 1, big);
	assert_valid(v);
	assert_string_equal(v + strlen(v) - 7, "-SHARED");
	/* Even a suffix past 63 on its own stays within bounds. */
	memset(big, 'p', 150);
	big[150] = '\0';
	product_of(v, 1, model, "MIG", big);
	assert_valid(v);
	label_value("Super (Long) Machine Name Super Long Machine Name Super "
	    "Long Machine Name", v);
	assert_valid(v);
}

/* ---- inventories ---- */

static struct mig_device
mig(const char *profile, unsigned gi, unsigned mem, unsigned sms)
{
	struct mig_device m = { .gi_slices = gi, .ci_slices = gi,
		.multiprocessors = sms, .copy_engines = gi, .decoders = gi / 2,
		.encoders = 0, .jpegs = gi / 7, .ofas = gi / 7,
		.memory_mib = mem };

	snprintf(m.profile, sizeof(m.profile), "%s", profile);
	return m;
}

static struct gpu
a100(struct mig_device *migs, size_t n)
{
	struct gpu g = { .memory_bytes = 40960ull << 20, .cc_major = 8,
		.cc_minor = 0, .mig_capable = true, .mig_enabled = n > 0,
		.migs = migs, .n_migs = n };

	snprintf(g.name, sizeof(g.name), "NVIDIA A100-SXM4-40GB");
	return g;
}

static struct label_set
build(struct gpu *gpus, size_t n, enum mig_strategy s,
    const struct cfgfile *file)
{
	struct inventory inv = { .gpus = gpus, .n = n,
		.driver_version = "535.183.01", .cuda_version = 12020 };
	struct labels_input in = { &inv, s, file, "DGX A100", "compute" };
	struct label_set set;

	assert_int_equal(labels_build(&in, &set), 0);
	for (size_t i = 0; i < set.n; i++) {
		assert_valid(set.v[i].value);
		if (i > 0)
			assert_true(strcmp(set.v[i - 1].key, set.v[i].key) < 0);
	}
	return set;
}

#define LABEL(set, key) label_set_get(&(set), key)
#define ASSERT_LABEL(set, key, want) do { \
	const char *got_ = LABEL(set, key); \
	if (got_ == NULL) \
		fail_msg("no %s", key); \
	assert_string_equal(got_, want); \
} while (0)

static void
test_mixed(void **state)
{
	struct mig_device m[] = { mig("1g.5gb", 1, 4864, 14),
		mig("1g.5gb", 1, 4864, 14), mig("3g.20gb", 3, 19968, 42),
		mig("1g.5gb+me", 1, 4864, 14) };
	struct gpu g[] = { a100(m, 4) };
	struct label_set s = build(g, 1, MIG_STRATEGY_MIXED, NULL);

	(void)state;
	ASSERT_LABEL(s, "nvidia.com/mig.strategy", "mixed");
	ASSERT_LABEL(s, "nvidia.com/mig.capable", "true");
	ASSERT_LABEL(s, "nvidia.com/mig-1g.5gb.count", "2");
	ASSERT_LABEL(s, "nvidia.com/mig-1g.5gb.memory", "4864");
	ASSERT_LABEL(s, "nvidia.com/mig-1g.5gb.multiprocessors", "14");
	ASSERT_LABEL(s, "nvidia.com/mig-1g.5gb.slices.gi", "1");
	ASSERT_LABEL(s, "nvidia.com/mig-1g.5gb.slices.ci", "1");
	ASSERT_LABEL(s, "nvidia.com/mig-1g.5gb.engines.copy", "1");
	ASSERT_LABEL(s, "nvidia.com/mig-1g.5gb.product",
	    "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb");
	ASSERT_LABEL(s, "nvidia.com/mig-1g.5gb.replicas", "1");
	ASSERT_LABEL(s, "nvidia.com/mig-3g.20gb.count", "1");
	ASSERT_LABEL(s, "nvidia.com/mig-3g.20gb.engines.decoder", "1");
	/* '+' is no label character: GFD's name has '.' (as the plugin's
	   resource nvidia.com/mig-1g.5gb.me). */
	ASSERT_LABEL(s, "nvidia.com/mig-1g.5gb.me.count", "1");
	ASSERT_LABEL(s, "nvidia.com/mig-1g.5gb.me.product",
	    "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb.me");
	/* The GPU itself, MIG on: labelled without sharing. */
	ASSERT_LABEL(s, "nvidia.com/gpu.product", "NVIDIA-A100-SXM4-40GB");
	ASSERT_LABEL(s, "nvidia.com/gpu.count", "1");
	ASSERT_LABEL(s, "nvidia.com/gpu.replicas", "0");
	ASSERT_LABEL(s, "nvidia.com/gpu.memory", "40960");
	ASSERT_LABEL(s, "nvidia.com/gpu.family", "ampere");
	label_set_free(&s);
}

static void
test_single(void **state)
{
	struct mig_device m1[] = { mig("1g.5gb", 1, 4864, 14),
		mig("1g.5gb", 1, 4864, 14) };
	struct mig_device m2[] = { mig("1g.5gb", 1, 4864, 14) };
	struct mig_device m3[] = { mig("2g.10gb", 2, 9856, 28) };
	struct gpu g[] = { a100(m1, 2), a100(m2, 1) };
	struct label_set s = build(g, 2, MIG_STRATEGY_SINGLE, NULL);

	(void)state;
	ASSERT_LABEL(s, "nvidia.com/mig.strategy", "single");
	ASSERT_LABEL(s, "nvidia.com/gpu.product",
	    "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb");
	ASSERT_LABEL(s, "nvidia.com/gpu.count", "3");
	ASSERT_LABEL(s, "nvidia.com/gpu.memory", "4864");
	ASSERT_LABEL(s, "nvidia.com/gpu.multiprocessors", "14");
	ASSERT_LABEL(s, "nvidia.com/gpu.slices.gi", "1");
	ASSERT_LABEL(s, "nvidia.com/gpu.replicas", "1");
	ASSERT_LABEL(s, "nvidia.com/gpu.family", "ampere");
	assert_null(LABEL(s, "nvidia.com/mig-1g.5gb.count"));
	label_set_free(&s);
	/* Two profiles: GFD's invalid labels. */
	g[1] = a100(m3, 1);
	s = build(g, 2, MIG_STRATEGY_SINGLE, NULL);
	ASSERT_LABEL(s, "nvidia.com/gpu.product",
	    "NVIDIA-A100-SXM4-40GB-MIG-INVALID");
	ASSERT_LABEL(s, "nvidia.com/gpu.count", "0");
	ASSERT_LABEL(s, "nvidia.com/gpu.replicas", "0");
	ASSERT_LABEL(s, "nvidia.com/gpu.memory", "0");
	label_set_free(&s);
	/* MIG on and off on one node: invalid too. */
	g[1] = a100(NULL, 0);
	s = build(g, 2, MIG_STRATEGY_SINGLE, NULL);
	ASSERT_LABEL(s, "nvidia.com/gpu.product",
	    "NVIDIA-A100-SXM4-40GB-MIG-INVALID");
	label_set_free(&s);
	/* Strategy none: no mig.strategy label, GPUs whole. */
	g[1] = a100(m2, 1);
	s = build(g, 2, MIG_STRATEGY_NONE, NULL);
	assert_null(LABEL(s, "nvidia.com/mig.strategy"));
	ASSERT_LABEL(s, "nvidia.com/gpu.product", "NVIDIA-A100-SXM4-40GB");
	ASSERT_LABEL(s, "nvidia.com/gpu.count", "2");
	label_set_free(&s);
}

static void
test_sharing(void **state)
{
	struct cfgfile_replicated r = { .name = "nvidia.com/gpu",
		.replicas = 4 };
	struct cfgfile f = { .time_slicing = { .present = true,
		.resources = &r, .n_resources = 1 } };
	struct gpu g[] = { a100(NULL, 0), a100(NULL, 0) };
	struct label_set s = build(g, 2, MIG_STRATEGY_NONE, &f);

	(void)state;
	ASSERT_LABEL(s, "nvidia.com/gpu.replicas", "4");
	ASSERT_LABEL(s, "nvidia.com/gpu.sharing-strategy", "time-slicing");
	ASSERT_LABEL(s, "nvidia.com/gpu.product",
	    "NVIDIA-A100-SXM4-40GB-SHARED");
	ASSERT_LABEL(s, "nvidia.com/mps.capable", "false");
	label_set_free(&s);
	/* Renamed: no -SHARED (GFD); by default too. */
	r.rename = "gpu.shared";
	s = build(g, 2, MIG_STRATEGY_NONE, &f);
	ASSERT_LABEL(s, "nvidia.com/gpu.product", "NVIDIA-A100-SXM4-40GB");
	label_set_free(&s);
	r.rename = NULL;
	f.time_slicing.rename_by_default = true;
	s = build(g, 2, MIG_STRATEGY_NONE, &f);
	ASSERT_LABEL(s, "nvidia.com/gpu.product", "NVIDIA-A100-SXM4-40GB");
	label_set_free(&s);
	/* MPS. */
	f.mps = f.time_slicing;
	f.time_slicing = (struct cfgfile_sharing){ 0 };
	s = build(g, 2, MIG_STRATEGY_NONE, &f);
	ASSERT_LABEL(s, "nvidia.com/gpu.sharing-strategy", "mps");
	ASSERT_LABEL(s, "nvidia.com/mps.capable", "true");
	label_set_free(&s);
	/* One replica is no sharing. */
	r.replicas = 1;
	s = build(g, 2, MIG_STRATEGY_NONE, &f);
	ASSERT_LABEL(s, "nvidia.com/gpu.sharing-strategy", "none");
	ASSERT_LABEL(s, "nvidia.com/gpu.replicas", "1");
	label_set_free(&s);
}

static void
test_family(void **state)
{
	static const struct { int major, minor; const char *family; } t[] = {
		{ 3, 7, "kepler" }, { 5, 2, "maxwell" }, { 6, 0, "pascal" },
		{ 7, 0, "volta" }, { 7, 5, "turing" }, { 8, 6, "ampere" },
		{ 8, 9, "ada-lovelace" }, { 9, 0, "hopper" },
		{ 10, 0, "blackwell" }, { 12, 0, "blackwell" },
		{ 11, 0, "undefined" },
	};
	struct gpu g[] = { a100(NULL, 0) };

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct label_set s;

		g[0].cc_major = t[i].major;
		g[0].cc_minor = t[i].minor;
		s = build(g, 1, MIG_STRATEGY_NONE, NULL);
		ASSERT_LABEL(s, "nvidia.com/gpu.family", t[i].family);
		label_set_free(&s);
	}
	/* Compute capability unknown: no architecture labels (GFD). */
	g[0].cc_major = -1;
	struct label_set s = build(g, 1, MIG_STRATEGY_NONE, NULL);
	assert_null(LABEL(s, "nvidia.com/gpu.family"));
	assert_null(LABEL(s, "nvidia.com/gpu.compute.major"));
	label_set_free(&s);
}

static void
test_models_mixed(void **state)
{
	struct gpu g[] = { a100(NULL, 0), a100(NULL, 0), a100(NULL, 0) };
	struct label_set s;

	(void)state;
	snprintf(g[1].name, sizeof(g[1].name), "NVIDIA A10");
	snprintf(g[2].name, sizeof(g[2].name), "NVIDIA A10");
	/* The lowest-index GPU's model, with its own count. */
	s = build(g, 3, MIG_STRATEGY_NONE, NULL);
	ASSERT_LABEL(s, "nvidia.com/gpu.product", "NVIDIA-A100-SXM4-40GB");
	ASSERT_LABEL(s, "nvidia.com/gpu.count", "1");
	label_set_free(&s);
}

static void
test_mode(void **state)
{
	const long compute[] = { 0x030200, 0x030200 };
	const long vga[] = { 0x030000 };
	const long mixed[] = { 0x030200, 0x030000 };
	const long unread[] = { 0x030200, -1 };

	(void)state;
	assert_string_equal(labels_gpu_mode(compute, 2), "compute");
	assert_string_equal(labels_gpu_mode(vga, 1), "graphics");
	assert_string_equal(labels_gpu_mode(mixed, 2), "unknown");
	assert_string_equal(labels_gpu_mode(unread, 2), "unknown");
	assert_string_equal(labels_gpu_mode(NULL, 0), "unknown");
}

static void
test_text(void **state)
{
	struct gpu g[] = { a100(NULL, 0) };
	struct label_set s = build(g, 1, MIG_STRATEGY_NONE, NULL);
	char *t = labels_text(&s, 1555019244);

	(void)state;
	assert_non_null(strstr(t, "nvidia.com/gpu.machine=DGX-A100\n"));
	assert_non_null(strstr(t,
	    "nvidia.com/cuda.runtime-version.full=12.2\n"));
	assert_non_null(strstr(t, "nvidia.com/cuda.driver.rev=01\n"));
	assert_string_equal(t + strlen(t) - 36,
	    "nvidia.com/gfd.timestamp=1555019244\n");
	gdp_free(t);
	label_set_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_product_sanitised),
		cmocka_unit_test(test_product_bounded),
		cmocka_unit_test(test_mixed),
		cmocka_unit_test(test_single),
		cmocka_unit_test(test_sharing),
		cmocka_unit_test(test_family),
		cmocka_unit_test(test_models_mixed),
		cmocka_unit_test(test_mode),
		cmocka_unit_test(test_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
