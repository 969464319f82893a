/*
 * topo.h: pair scores between GPUs and the exact best-scoring choice of
 * |size| GPUs from an available set (issue 14).
 *
 * The link graph is a plain matrix filled once per discovery; the chooser
 * only reads it, so the GetPreferredAllocation hot path makes no NVML call.
 */
#ifndef GDP_RESOURCES_TOPO_H
#define GDP_RESOURCES_TOPO_H

#include <stdint.h>

#define GDP_TOPO_MAX 16

/* PCIe levels, as nvmlGpuTopologyLevel_t orders them (nearest first). */
enum gdp_pcie_level {
	GDP_PCIE_UNKNOWN = 0,
	GDP_PCIE_INTERNAL,      /* same board */
	GDP_PCIE_SINGLE,        /* one PCIe switch */
	GDP_PCIE_MULTIPLE,      /* several PCIe switches */
	GDP_PCIE_HOSTBRIDGE,    /* same host bridge */
	GDP_PCIE_NODE,          /* same NUMA node, across host bridges */
	GDP_PCIE_SYSTEM,        /* across sockets (SMP interconnect) */
};

/* Score of one pair: 100 per NVLink, then 60..10 by PCIe level, as in
 * NVIDIA's plugin; an unknown level scores 0. */
unsigned gdp_topo_pair_score(unsigned nvlinks, enum gdp_pcie_level level);

struct gdp_topo {
	unsigned n;                                  /* GPUs, <= 16 */
	uint32_t score[GDP_TOPO_MAX][GDP_TOPO_MAX];  /* symmetric, 0 diag */
};

/* Sum of pair scores inside |set| (bit i = GPU i). */
uint64_t gdp_topo_set_score(const struct gdp_topo *t, uint32_t set);

/*
 * The |size| GPUs of |avail| holding all of |must| with the greatest sum of
 * pair scores; among equal sums the lexicographically smallest index list.
 * |must| bits outside |avail| are ignored.  Returns 0 (choose nothing) when
 * size is 0 or more than |avail| holds; when |must| has more than |size|
 * GPUs, the |size| lowest-indexed of them are required instead.
 */
uint32_t gdp_topo_choose(const struct gdp_topo *t, uint32_t avail,
    uint32_t must, unsigned size);

#endif
