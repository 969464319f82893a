/* rng.h: a small seeded generator (splitmix64 seeding xoshiro256**), so
 * two runs with the same --seed train identically. See rng.c. */
#ifndef GDP_VALIDATE_RNG_H
#define GDP_VALIDATE_RNG_H

#include <stdint.h>

struct rng {
	uint64_t s[4];
};

void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);
/* Uniform in [0, 1) with 24 bits */
float rng_uniform(struct rng *r);
/* Uniform integer in [0, n), n > 0 */
uint32_t rng_below(struct rng *r, uint32_t n);
/* Normal(0, stddev) redrawn while beyond two stddevs, as TF's
 * truncated_normal */
float rng_truncated_normal(struct rng *r, float stddev);

#endif
