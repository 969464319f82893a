/* rng.c: xoshiro256** (public-domain algorithm by Blackman and Vigna),
 * seeded through splitmix64. Chosen for being tiny and identical on every
 * platform, unlike rand(); normals come from Box-Muller. */
#include "validate/rng.h"

#include <math.h>

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void rng_seed(struct rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

float rng_uniform(struct rng *r)
{
	return (float)(rng_next(r) >> 40) * (1.0f / 16777216.0f);
}

uint32_t rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

float rng_truncated_normal(struct rng *r, float stddev)
{
	for (;;) {
		double u1 = ((double)(rng_next(r) >> 11) + 1.0) * 0x1p-53;
		double u2 = (double)(rng_next(r) >> 11) * 0x1p-53;
		double z = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
		if (fabs(z) <= 2.0)
			return (float)z * stddev;
	}
}
