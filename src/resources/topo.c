/*
 * topo.c: the exact GetPreferredAllocation chooser over a pair-score matrix.
 *
 * Exact by branch and bound, not by enumerating partitions as NVIDIA does:
 * GPUs are visited in index order, "take" before "skip", so complete sets
 * come out in lexicographic order and the first set reaching a score is the
 * tie-break winner.  A subtree is cut when its upper bound cannot beat the
 * best so far.  The bound: each still-open GPU j is worth at most its score
 * to the GPUs already taken plus half its k-1 best scores to the other open
 * GPUs (k = slots left); the k largest such worths bound the gain.  Doubled
 * to stay in integers.  Bitmask DP would be exact too but needs 2^16 states
 * per call; the bound keeps typical calls to a few hundred nodes.
 */
#include "resources/topo.h"

#include <stddef.h>

static const unsigned level_score[] = {
	[GDP_PCIE_UNKNOWN] = 0, [GDP_PCIE_INTERNAL] = 60,
	[GDP_PCIE_SINGLE] = 50, [GDP_PCIE_MULTIPLE] = 40,
	[GDP_PCIE_HOSTBRIDGE] = 30, [GDP_PCIE_NODE] = 20,
	[GDP_PCIE_SYSTEM] = 10,
};

unsigned
gdp_topo_pair_score(unsigned nvlinks, enum gdp_pcie_level level)
{
	unsigned p = (unsigned)level <= GDP_PCIE_SYSTEM ?
	    level_score[level] : 0;
	return 100u * nvlinks + p;
}

uint64_t
gdp_topo_set_score(const struct gdp_topo *t, uint32_t set)
{
	uint64_t s = 0;
	for (unsigned i = 0; i < t->n; i++)
		for (unsigned j = i + 1; j < t->n; j++)
			if ((set >> i & 1u) && (set >> j & 1u))
				s += t->score[i][j];
	return s;
}

struct search {
	const struct gdp_topo *t;
	uint32_t open_all;      /* candidates not forced */
	uint64_t best;          /* doubled score of |best_set| */
	uint32_t best_set;
	int found;
};

/* Insert |v| into the descending top-|k| list |top| of length *len. */
static void
top_insert(uint64_t *top, unsigned *len, unsigned k, uint64_t v)
{
	unsigned i = *len < k ? (*len)++ : k;
	if (i == k) {
		if (k == 0 || v <= top[k - 1])
			return;
		i = k - 1;
	}
	while (i > 0 && top[i - 1] < v) {
		top[i] = top[i - 1];
		i--;
	}
	top[i] = v;
}

/* Doubled upper bound on the gain of adding |k| GPUs of |open| to |set|. */
static uint64_t
bound(const struct gdp_topo *t, uint32_t set, uint32_t open, unsigned k)
{
	uint64_t worth[GDP_TOPO_MAX];
	unsigned nw = 0;
	for (unsigned j = 0; j < t->n; j++) {
		if (!(open >> j & 1u))
			continue;
		uint64_t to_set = 0, near[GDP_TOPO_MAX];
		unsigned nn = 0;
		for (unsigned i = 0; i < t->n; i++) {
			if (set >> i & 1u)
				to_set += t->score[i][j];
			else if (i != j && (open >> i & 1u))
				top_insert(near, &nn, k - 1, t->score[i][j]);
		}
		uint64_t w = 2 * to_set;
		for (unsigned a = 0; a < nn; a++)
			w += near[a];
		top_insert(worth, &nw, k, w);
	}
	uint64_t b = 0;
	for (unsigned a = 0; a < nw; a++)
		b += worth[a];
	return b;
}

static uint64_t
gain(const struct gdp_topo *t, uint32_t set, unsigned j)
{
	uint64_t g = 0;
	for (unsigned i = 0; i < t->n; i++)
		if (set >> i & 1u)
			g += t->score[i][j];
	return g;
}

/* Visit GPUs from |j| on; |cur| is the doubled score of |set|. */
static void
dfs(struct search *s, uint32_t set, uint64_t cur, unsigned j, unsigned k)
{
	if (k == 0) {
		if (!s->found || cur > s->best) {
			s->best = cur;
			s->best_set = set;
			s->found = 1;
		}
		return;
	}
	uint32_t open = s->open_all & ~((1u << j) - 1u);
	if ((unsigned)__builtin_popcount(open) < k)
		return;
	if (s->found && cur + bound(s->t, set, open, k) <= s->best)
		return;
	while (j < s->t->n && !(open >> j & 1u))
		j++;
	dfs(s, set | 1u << j, cur + 2 * gain(s->t, set, j), j + 1, k - 1);
	dfs(s, set, cur, j + 1, k);
}

/* The |size| lowest-indexed GPUs of |m|. */
static uint32_t
lowest(uint32_t m, unsigned size)
{
	uint32_t r = 0;
	for (unsigned i = 0; i < GDP_TOPO_MAX && size > 0; i++)
		if (m >> i & 1u) {
			r |= 1u << i;
			size--;
		}
	return r;
}

uint32_t
gdp_topo_choose(const struct gdp_topo *t, uint32_t avail, uint32_t must,
    unsigned size)
{
	uint32_t all = t->n >= 32 ? ~0u : (1u << t->n) - 1u;
	avail &= all;
	must &= avail;
	if (size == 0 || (unsigned)__builtin_popcount(avail) < size)
		return 0;
	if ((unsigned)__builtin_popcount(must) >= size)
		return lowest(must, size);
	struct search s = { t, avail & ~must, 0, 0, 0 };
	unsigned k = size - (unsigned)__builtin_popcount(must);
	dfs(&s, must, 2 * gdp_topo_set_score(t, must), 0, k);
	return s.best_set;
}
