/*
 * test_topo.c: the exact chooser of src/resources/topo.c against brute force.
 *
 * For each topology (DGX-1 V100 hybrid cube-mesh, NVSwitch 8-GPU, 4x A100
 * PCIe with NVLink bridges in pairs, 2-socket 8-GPU PCIe, a 16-GPU synthetic
 * graph) every size and a spread of must-include sets is answered by
 * gdp_topo_choose and by enumerating all subsets in index order; the two
 * must agree on the set (score and tie-break).  Operator checks follow.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "resources/topo.h"

/* DGX-1V NVLink counts (nvidia-smi topo -m: NV1/NV2). */
static const unsigned dgx1_nv[8][8] = {
	{ 0, 1, 1, 2, 2, 0, 0, 0 }, { 1, 0, 2, 1, 0, 2, 0, 0 },
	{ 1, 2, 0, 2, 0, 0, 1, 0 }, { 2, 1, 2, 0, 0, 0, 0, 1 },
	{ 2, 0, 0, 0, 0, 1, 1, 2 }, { 0, 2, 0, 0, 1, 0, 2, 1 },
	{ 0, 0, 1, 0, 1, 2, 0, 2 }, { 0, 0, 0, 1, 2, 1, 2, 0 },
};

static void
fill(struct gdp_topo *t, unsigned n, unsigned (*nv)(unsigned, unsigned),
    enum gdp_pcie_level (*lv)(unsigned, unsigned))
{
	t->n = n;
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = 0; j < n; j++)
			t->score[i][j] = i == j ? 0 :
			    gdp_topo_pair_score(nv(i, j), lv(i, j));
}

static enum gdp_pcie_level
socket_of_4(unsigned i, unsigned j)
{
	return i / 4 == j / 4 ? (i / 2 == j / 2 ? GDP_PCIE_SINGLE :
	    GDP_PCIE_NODE) : GDP_PCIE_SYSTEM;
}
static unsigned dgx1(unsigned i, unsigned j) { return dgx1_nv[i][j]; }
static unsigned nvswitch(unsigned i, unsigned j) { (void)i; (void)j; return 12; }
static unsigned none(unsigned i, unsigned j) { (void)i; (void)j; return 0; }
static unsigned bridged(unsigned i, unsigned j) { return i / 2 == j / 2 ? 4 : 0; }
static enum gdp_pcie_level
pcie4(unsigned i, unsigned j)
{
	return i / 2 == j / 2 ? GDP_PCIE_HOSTBRIDGE : GDP_PCIE_SYSTEM;
}
/* 16 GPUs: irregular NVLink counts from a fixed hash, 2 sockets. */
static unsigned
synth(unsigned i, unsigned j)
{
	unsigned a = i < j ? i : j, b = i < j ? j : i;
	return (a * 7u + b * 13u + a * b) % 4u;
}
static enum gdp_pcie_level
synth_lv(unsigned i, unsigned j)
{
	return i / 8 == j / 8 ? (i / 4 == j / 4 ? GDP_PCIE_MULTIPLE :
	    GDP_PCIE_NODE) : GDP_PCIE_SYSTEM;
}

/* Brute force: best sum, then lexicographically smallest index list. */
static int
lex_less(uint32_t a, uint32_t b)
{
	uint32_t d = a ^ b;
	unsigned low = (unsigned)__builtin_ctz(d);
	return (a >> low) & 1u;
}

static uint32_t
brute(const struct gdp_topo *t, uint32_t avail, uint32_t must, unsigned size)
{
	uint32_t best = 0;
	uint64_t bs = 0;
	int found = 0;
	for (uint32_t s = 0; s < (1u << t->n); s++) {
		if ((s & ~avail) || (s & must) != must ||
		    (unsigned)__builtin_popcount(s) != size)
			continue;
		uint64_t v = gdp_topo_set_score(t, s);
		if (!found || v > bs || (v == bs && lex_less(s, best))) {
			best = s;
			bs = v;
			found = 1;
		}
	}
	return best;
}

static void
compare_all(const struct gdp_topo *t, unsigned must_step)
{
	uint32_t all = (1u << t->n) - 1u;
	uint32_t avails[] = { all, all & ~1u, all & 0x5555u, all & ~0x30u };
	for (size_t a = 0; a < sizeof avails / sizeof avails[0]; a++)
		for (uint32_t must = 0; must <= all; must += must_step) {
			uint32_t m = must & avails[a];
			if (m != must)
				continue;
			for (unsigned size = 1; size <= t->n; size++) {
				if ((unsigned)__builtin_popcount(m) > size)
					continue;
				uint32_t want = brute(t, avails[a], m, size);
				uint32_t got = gdp_topo_choose(t, avails[a],
				    m, size);
				if (got != want)
					print_error("n=%u avail=%x must=%x "
					    "size=%u got=%x want=%x\n", t->n,
					    avails[a], m, size, got, want);
				assert_int_equal(got, want);
			}
		}
}

static void
test_dgx1(void **state)
{
	(void)state;
	struct gdp_topo t;
	fill(&t, 8, dgx1, socket_of_4);
	compare_all(&t, 1);
	/* size 4 from all: a fully NVLinked quad */
	uint32_t q = gdp_topo_choose(&t, 0xff, 0, 4);
	for (unsigned i = 0; i < 8; i++)
		for (unsigned j = i + 1; j < 8; j++)
			if ((q >> i & 1u) && (q >> j & 1u))
				assert_true(dgx1_nv[i][j] > 0);
	/* size 2 wanting GPU 0: its NV2 peer, 3 (same socket beats 4) */
	assert_int_equal(gdp_topo_choose(&t, 0xff, 1, 2), 0x9);
}

static void
test_nvswitch(void **state)
{
	(void)state;
	struct gdp_topo t;
	fill(&t, 8, nvswitch, socket_of_4);
	compare_all(&t, 1);
	assert_int_equal(gdp_topo_choose(&t, 0xff, 0, 4), 0x0f);
}

static void
test_pcie_bridged(void **state)
{
	(void)state;
	struct gdp_topo t;
	fill(&t, 4, bridged, pcie4);
	compare_all(&t, 1);
	assert_int_equal(gdp_topo_choose(&t, 0xe, 0, 2), 0xc);
}

static void
test_pcie_2socket(void **state)
{
	(void)state;
	struct gdp_topo t;
	fill(&t, 8, none, socket_of_4);
	compare_all(&t, 1);
	/* must GPU 5, size 2: its switch peer 4 */
	assert_int_equal(gdp_topo_choose(&t, 0xff, 0x20, 2), 0x30);
}

static void
test_synth16(void **state)
{
	(void)state;
	struct gdp_topo t;
	fill(&t, 16, synth, synth_lv);
	compare_all(&t, 4099);
}

static void
test_edges(void **state)
{
	(void)state;
	struct gdp_topo t;
	fill(&t, 8, dgx1, socket_of_4);
	assert_int_equal(gdp_topo_choose(&t, 0xff, 0, 0), 0);
	assert_int_equal(gdp_topo_choose(&t, 0x3, 0, 3), 0);
	/* more must-include than size: lowest of them */
	assert_int_equal(gdp_topo_choose(&t, 0xff, 0xf0, 2), 0x30);
	/* must outside avail is ignored; bits beyond n too */
	assert_int_equal(gdp_topo_choose(&t, 0x0f, 0x10, 1),
	    gdp_topo_choose(&t, 0x0f, 0, 1));
	assert_int_equal(gdp_topo_choose(&t, 0xff00u | 0x3, 0, 2), 0x3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dgx1),
		cmocka_unit_test(test_nvswitch),
		cmocka_unit_test(test_pcie_bridged),
		cmocka_unit_test(test_pcie_2socket),
		cmocka_unit_test(test_synth16),
		cmocka_unit_test(test_edges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
