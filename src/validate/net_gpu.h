/* net_gpu.h: the GPU path of gpu-validate, the same network as net.c run
 * by the kernels of kernels.cu through the CUDA driver API. See
 * net_gpu.c. */
#ifndef GDP_VALIDATE_NET_GPU_H
#define GDP_VALIDATE_NET_GPU_H

#include <stddef.h>
#include <stdint.h>

#include "validate/cuda.h"
#include "validate/mnist.h"
#include "validate/net.h"
#include "validate/rng.h"

struct net_gpu {
	struct net host; /* initial weights, Adam's step count, the mask */
	cuda_ptr params, grad, m, v;   /* laid out as struct net's */
	cuda_ptr x, y, mask;           /* the batch, uploaded each step */
	cuda_ptr hidden, dhidden, logits, loss; /* work */
	cuda_ptr test_x, test_y, correct;       /* the test set, once */
	size_t test_n, rows;           /* rows: the work buffers' capacity */
};

/* Initialises the weights on the host exactly as net_init (same rng
 * draws), copies them and the test set to the device loaded by
 * cuda_load_kernels. Returns 0, or -1 with the failing call in err; free
 * with net_gpu_free either way. */
int net_gpu_init(struct net_gpu *g, struct rng *r, float lr, float keep,
    const struct mnist_set *test, char *err, size_t errlen);
void net_gpu_free(struct net_gpu *g);
/* One Adam step on batch x, y (NET_BATCH rows); the dropout mask is drawn
 * from r on the host, as net_train_step draws it. */
int net_gpu_train_step(struct net_gpu *g, const float *x, const uint8_t *y,
    struct rng *r, char *err, size_t errlen);
/* Fraction of the test set classified right, without dropout */
int net_gpu_accuracy(struct net_gpu *g, float *acc, char *err,
    size_t errlen);

#endif
