/* net_gpu.c: the GPU path of gpu-validate, net.c's network and step run
 * by the kernels of kernels.cu. The weights are drawn on the host by
 * net_init with the caller's rng and copied to the device, and the
 * dropout mask of each step is drawn on the host with the same rng and
 * uploaded (200 KB a step), so a seed gives the CPU and the GPU the same
 * start, the same batches and the same dropped units: the two logs differ
 * only by float rounding. (kernels.cu's gv_dropout, which hashes its own
 * mask on the device, is loaded but not launched for that reason.) The
 * test set is copied once; every launch goes to the default stream, so
 * the copies order themselves after the kernels, and each step ends with
 * cuCtxSynchronize so that a failing kernel is reported at its step. */
#include "validate/net_gpu.h"

#include <stdio.h>

#include <stdlib.h>
#include <string.h>

#define THREADS 256
#define F sizeof(float)

/* A view of buffer p, floats floats in */
static cuda_ptr at(cuda_ptr p, ptrdiff_t floats)
{
	return p + (cuda_ptr)floats * F;
}

/* C[m x n] = op(A) op(B): one 16x16 block per 16x16 tile of C */
static int matmul(cuda_ptr a, cuda_ptr b, cuda_ptr c, int m, int n, int k,
    int ta, int tb, char *err, size_t errlen)
{
	float beta = 0.0f;
	void *args[] = { &a, &b, &c, &m, &n, &k, &ta, &tb, &beta };
	return cuda_launch(K_MATMUL, (unsigned)(n + 15) / 16,
	    (unsigned)(m + 15) / 16, 16, 16, args, err, errlen);
}

/* A kernel with one thread per item, THREADS to a block */
static int launch1d(enum cuda_kernel k, int items, void **args, char *err,
    size_t errlen)
{
	return cuda_launch(k, (unsigned)(items + THREADS - 1) / THREADS, 1,
	    THREADS, 1, args, err, errlen);
}

static int bias(cuda_ptr x, cuda_ptr b, int rows, int cols, int relu,
    char *err, size_t errlen)
{
	void *args[] = { &x, &b, &rows, &cols, &relu };
	return launch1d(K_BIAS_RELU, rows * cols, args, err, errlen);
}

static int column_sums(cuda_ptr a, cuda_ptr out, int rows, int cols,
    char *err, size_t errlen)
{
	void *args[] = { &a, &out, &rows, &cols };
	return launch1d(K_COLUMN_SUMS, cols, args, err, errlen);
}

/* dh = hidden > 0 ? dh * mask : 0. With dh = hidden it applies the mask
 * after the ReLU (hidden >= 0 there, and 0 stays 0). */
static int relu_mask(cuda_ptr dh, cuda_ptr hidden, cuda_ptr mask, int n,
    char *err, size_t errlen)
{
	void *args[] = { &dh, &hidden, &mask, &n };
	return launch1d(K_RELU_DROPOUT_BACK, n, args, err, errlen);
}

static int alloc_all(struct net_gpu *g, char *err, size_t errlen)
{
	size_t p = g->host.nparams * F, r = g->rows;
	struct { cuda_ptr *at; size_t bytes; } b[] = {
		{ &g->params, p }, { &g->grad, p }, { &g->m, p }, { &g->v, p },
		{ &g->x, (size_t)NET_BATCH * MNIST_PIXELS * F },
		{ &g->y, NET_BATCH }, { &g->mask, (size_t)NET_BATCH * NET_HIDDEN * F },
		{ &g->hidden, r * NET_HIDDEN * F },
		{ &g->dhidden, (size_t)NET_BATCH * NET_HIDDEN * F },
		{ &g->logits, r * MNIST_CLASSES * F }, { &g->loss, NET_BATCH * F },
		{ &g->test_x, g->test_n * MNIST_PIXELS * F },
		{ &g->test_y, g->test_n }, { &g->correct, sizeof(int) },
	};
	for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++)
		if (cuda_alloc(b[i].at, b[i].bytes, err, errlen) != 0)
			return -1;
	return 0;
}

int net_gpu_init(struct net_gpu *g, struct rng *r, float lr, float keep,
    const struct mnist_set *test, char *err, size_t errlen)
{
	memset(g, 0, sizeof(*g));
	if (net_init(&g->host, r, lr, keep) != 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	g->test_n = test->n;
	g->rows = test->n > NET_BATCH ? test->n : NET_BATCH;
	size_t p = g->host.nparams * F;
	if (alloc_all(g, err, errlen) != 0 ||
	    cuda_upload(g->params, g->host.params, p, err, errlen) != 0 ||
	    cuda_upload(g->m, g->host.m, p, err, errlen) != 0 ||
	    cuda_upload(g->v, g->host.v, p, err, errlen) != 0 ||
	    cuda_upload(g->test_x, test->images, test->n * MNIST_PIXELS * F,
	    err, errlen) != 0 ||
	    cuda_upload(g->test_y, test->labels, test->n, err, errlen) != 0)
		return -1;
	return 0;
}

void net_gpu_free(struct net_gpu *g)
{
	cuda_ptr *all[] = { &g->params, &g->grad, &g->m, &g->v, &g->x, &g->y,
		&g->mask, &g->hidden, &g->dhidden, &g->logits, &g->loss,
		&g->test_x, &g->test_y, &g->correct };
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		cuda_free(*all[i]);
	net_free(&g->host);
	memset(g, 0, sizeof(*g));
}

/* hidden = relu(x W1 + b1), logits = hidden W2 + b2 over rows rows; when
 * mask is set, hidden is masked before the second layer */
static int forward(struct net_gpu *g, cuda_ptr x, int rows, cuda_ptr mask,
    char *err, size_t errlen)
{
	const struct net *h = &g->host;
	cuda_ptr w1 = g->params, b1 = at(w1, h->b1 - h->w1);
	cuda_ptr w2 = at(w1, h->w2 - h->w1), b2 = at(w1, h->b2 - h->w1);
	const int H = NET_HIDDEN, C = MNIST_CLASSES;
	if (matmul(x, w1, g->hidden, rows, H, MNIST_PIXELS, 0, 0, err,
	    errlen) != 0 || bias(g->hidden, b1, rows, H, 1, err, errlen) != 0)
		return -1;
	if (mask != 0 && relu_mask(g->hidden, g->hidden, mask, rows * H, err,
	    errlen) != 0)
		return -1;
	if (matmul(g->hidden, w2, g->logits, rows, C, H, 0, 0, err,
	    errlen) != 0)
		return -1;
	return bias(g->logits, b2, rows, C, 0, err, errlen);
}

/* The gradients of net.c's backward, from dLoss/dlogits in logits */
static int backward(struct net_gpu *g, char *err, size_t errlen)
{
	const struct net *h = &g->host;
	cuda_ptr gw1 = g->grad, gb1 = at(gw1, h->b1 - h->w1);
	cuda_ptr gw2 = at(gw1, h->w2 - h->w1), gb2 = at(gw1, h->b2 - h->w1);
	cuda_ptr w2 = at(g->params, h->w2 - h->w1);
	const int B = NET_BATCH, H = NET_HIDDEN, C = MNIST_CLASSES;
	if (matmul(g->hidden, g->logits, gw2, H, C, B, 1, 0, err, errlen) ||
	    column_sums(g->logits, gb2, B, C, err, errlen) ||
	    matmul(g->logits, w2, g->dhidden, B, H, C, 0, 1, err, errlen) ||
	    relu_mask(g->dhidden, g->hidden, g->mask, B * H, err, errlen) ||
	    matmul(g->x, g->dhidden, gw1, MNIST_PIXELS, H, B, 1, 0, err,
	    errlen))
		return -1;
	return column_sums(g->dhidden, gb1, B, H, err, errlen);
}

int net_gpu_train_step(struct net_gpu *g, const float *x, const uint8_t *y,
    struct rng *r, char *err, size_t errlen)
{
	const size_t units = (size_t)NET_BATCH * NET_HIDDEN;
	net_dropout_mask(g->host.mask, units, g->host.keep, r);
	if (cuda_upload(g->x, x, (size_t)NET_BATCH * MNIST_PIXELS * F, err,
	    errlen) || cuda_upload(g->y, y, NET_BATCH, err, errlen) ||
	    cuda_upload(g->mask, g->host.mask, units * F, err, errlen) ||
	    forward(g, g->x, NET_BATCH, g->mask, err, errlen))
		return -1;
	int rows = NET_BATCH, classes = MNIST_CLASSES;
	void *sx[] = { &g->logits, &g->y, &g->loss, &rows, &classes };
	if (launch1d(K_SOFTMAX_XENT, rows, sx, err, errlen) != 0 ||
	    backward(g, err, errlen) != 0)
		return -1;
	float lr_t = net_adam_rate(&g->host);
	int n = (int)g->host.nparams;
	void *ad[] = { &g->params, &g->grad, &g->m, &g->v, &n, &lr_t };
	if (launch1d(K_ADAM, n, ad, err, errlen) != 0)
		return -1;
	return cuda_sync(err, errlen);
}

int net_gpu_accuracy(struct net_gpu *g, float *acc, char *err,
    size_t errlen)
{
	int right = 0, rows = (int)g->test_n, classes = MNIST_CLASSES;
	void *args[] = { &g->logits, &g->test_y, &g->correct, &rows,
		&classes };
	if (forward(g, g->test_x, rows, 0, err, errlen) != 0 ||
	    cuda_upload(g->correct, &right, sizeof(right), err, errlen) != 0 ||
	    launch1d(K_ARGMAX_CORRECT, rows, args, err, errlen) != 0 ||
	    cuda_download(&right, g->correct, sizeof(right), err, errlen) != 0)
		return -1;
	*acc = (float)right / (float)g->test_n;
	return 0;
}
