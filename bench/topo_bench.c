/*
 * topo_bench.c: CPU per gdp_topo_choose call, sizes 1-8 on the DGX-1 graph
 * and 1-16 on a 16-GPU synthetic graph (issue 14).
 *
 * Prints, per size, nanoseconds per call (CLOCK_THREAD_CPUTIME_ID, many
 * calls averaged) and the brute-force evaluator's time for the same answer
 * (all subsets in index order), so the two are compared in one run.
 */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "resources/topo.h"

static const unsigned dgx1_nv[8][8] = {
	{ 0, 1, 1, 2, 2, 0, 0, 0 }, { 1, 0, 2, 1, 0, 2, 0, 0 },
	{ 1, 2, 0, 2, 0, 0, 1, 0 }, { 2, 1, 2, 0, 0, 0, 0, 1 },
	{ 2, 0, 0, 0, 0, 1, 1, 2 }, { 0, 2, 0, 0, 1, 0, 2, 1 },
	{ 0, 0, 1, 0, 1, 2, 0, 2 }, { 0, 0, 0, 1, 2, 1, 2, 0 },
};

static double
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint32_t
brute(const struct gdp_topo *t, unsigned size)
{
	uint32_t best = 0;
	uint64_t bs = 0;
	for (uint32_t s = 0; s < (1u << t->n); s++) {
		if ((unsigned)__builtin_popcount(s) != size)
			continue;
		uint64_t v = gdp_topo_set_score(t, s);
		if (best == 0 || v > bs) {
			best = s;
			bs = v;
		}
	}
	return best;
}

static void
run(const char *name, const struct gdp_topo *t, int reps)
{
	uint32_t all = (1u << t->n) - 1u;
	volatile uint32_t sink = 0;
	for (unsigned size = 1; size <= t->n; size++) {
		double a = now_ns();
		for (int r = 0; r < reps; r++)
			sink ^= gdp_topo_choose(t, all, 0, size);
		double b = now_ns();
		int breps = reps / 50 > 0 ? reps / 50 : 1;
		for (int r = 0; r < breps; r++)
			sink ^= brute(t, size);
		double c = now_ns();
		printf("%s size %2u: %9.0f ns/call  brute force %11.0f ns\n",
		    name, size, (b - a) / reps, (c - b) / breps);
	}
	(void)sink;
}

int
main(void)
{
	struct gdp_topo t8 = { .n = 8 }, t16 = { .n = 16 };
	for (unsigned i = 0; i < 8; i++)
		for (unsigned j = 0; j < 8; j++)
			t8.score[i][j] = i == j ? 0 : gdp_topo_pair_score(
			    dgx1_nv[i][j], i / 4 == j / 4 ? GDP_PCIE_NODE :
			    GDP_PCIE_SYSTEM);
	for (unsigned i = 0; i < 16; i++)
		for (unsigned j = 0; j < 16; j++) {
			unsigned a = i < j ? i : j, b = i < j ? j : i;
			t16.score[i][j] = i == j ? 0 : gdp_topo_pair_score(
			    (a * 7u + b * 13u + a * b) % 4u,
			    i / 8 == j / 8 ? GDP_PCIE_NODE : GDP_PCIE_SYSTEM);
		}
	run("dgx1-8", &t8, 20000);
	run("synth-16", &t16, 200);
	return 0;
}
