/* net.h: TensorFlow's mnist_with_summaries network on the CPU, with
 * OpenBLAS for the matrix products. See net.c. */
#ifndef GDP_VALIDATE_NET_H
#define GDP_VALIDATE_NET_H

#include <stddef.h>
#include <stdint.h>

#include "validate/mnist.h"
#include "validate/rng.h"

#define NET_HIDDEN 500
#define NET_BATCH 100

/* All parameters live in one array (W1 784x500, b1, W2 500x10, b2, row
 * major) so that Adam runs over it in one loop; m, v and grad match it. */
struct net {
	size_t nparams;
	float *params, *grad, *m, *v; /* owned */
	float *w1, *b1, *w2, *b2;     /* views into params */
	float *hidden, *mask, *dhidden, *logits; /* work, owned */
	long adam_t;
	float lr, keep;
};

/* Allocates and initialises (truncated normal stddev 0.1, biases 0.1).
 * Returns 0 or -1 (out of memory). Free with net_free. */
int net_init(struct net *n, struct rng *r, float lr, float keep);
void net_free(struct net *n);
/* One Adam step on batch x (NET_BATCH rows of pixels) with labels y;
 * returns the batch's mean cross-entropy. */
float net_train_step(struct net *n, const float *x, const uint8_t *y,
    struct rng *r);
/* The dropout mask of one batch's hidden layer: 1/keep where the unit is
 * kept, 0 where dropped, one rng_uniform draw per unit in order. Both
 * paths use it, so a seed drops the same units on the CPU and the GPU. */
void net_dropout_mask(float *mask, size_t units, float keep, struct rng *r);
/* Counts one Adam step and returns its learning rate with TF's bias
 * corrections folded in */
float net_adam_rate(struct net *n);
/* Fraction of set classified right, without dropout */
float net_accuracy(struct net *n, const struct mnist_set *set);

#endif
