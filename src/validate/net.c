/* net.c: the CPU path of gpu-validate: 784 -> 500 ReLU -> 10 with dropout
 * on the hidden layer, softmax cross-entropy averaged over the batch, and
 * Adam (beta1 0.9, beta2 0.999, epsilon 1e-8, TF's defaults). The matrix
 * products go to cblas_sgemm; everything else is plain loops, because they
 * cost little next to the 784x500 products. Backpropagation stops at the
 * first layer's weights: the input gradient is never needed. */
#include "validate/net.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EVAL_CHUNK 1000

int net_init(struct net *n, struct rng *r, float lr, float keep)
{
	memset(n, 0, sizeof(*n));
	size_t w1 = (size_t)MNIST_PIXELS * NET_HIDDEN;
	size_t w2 = (size_t)NET_HIDDEN * MNIST_CLASSES;
	n->nparams = w1 + NET_HIDDEN + w2 + MNIST_CLASSES;
	n->params = calloc(n->nparams, sizeof(float));
	n->grad = calloc(n->nparams, sizeof(float));
	n->m = calloc(n->nparams, sizeof(float));
	n->v = calloc(n->nparams, sizeof(float));
	n->hidden = calloc((size_t)EVAL_CHUNK * NET_HIDDEN, sizeof(float));
	n->mask = calloc((size_t)NET_BATCH * NET_HIDDEN, sizeof(float));
	n->dhidden = calloc((size_t)NET_BATCH * NET_HIDDEN, sizeof(float));
	n->logits = calloc((size_t)EVAL_CHUNK * MNIST_CLASSES, sizeof(float));
	if (!n->params || !n->grad || !n->m || !n->v || !n->hidden ||
	    !n->mask || !n->dhidden || !n->logits) {
		net_free(n);
		return -1;
	}
	n->w1 = n->params;
	n->b1 = n->w1 + w1;
	n->w2 = n->b1 + NET_HIDDEN;
	n->b2 = n->w2 + w2;
	for (size_t i = 0; i < w1; i++)
		n->w1[i] = rng_truncated_normal(r, 0.1f);
	for (size_t i = 0; i < w2; i++)
		n->w2[i] = rng_truncated_normal(r, 0.1f);
	for (size_t i = 0; i < NET_HIDDEN; i++)
		n->b1[i] = 0.1f;
	for (size_t i = 0; i < MNIST_CLASSES; i++)
		n->b2[i] = 0.1f;
	n->lr = lr;
	n->keep = keep;
	return 0;
}

void net_free(struct net *n)
{
	free(n->params);
	free(n->grad);
	free(n->m);
	free(n->v);
	free(n->hidden);
	free(n->mask);
	free(n->dhidden);
	free(n->logits);
	memset(n, 0, sizeof(*n));
}

/* out[rows x cols] = bias broadcast, then += a[rows x k] * b[k x cols] */
static void affine(const float *a, const float *b, const float *bias,
    float *out, int rows, int k, int cols)
{
	for (int i = 0; i < rows; i++)
		memcpy(out + (size_t)i * cols, bias, (size_t)cols * sizeof(float));
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, cols, k,
	    1.0f, a, k, b, cols, 1.0f, out, cols);
}

static void forward(struct net *n, const float *x, int rows)
{
	affine(x, n->w1, n->b1, n->hidden, rows, MNIST_PIXELS, NET_HIDDEN);
	for (size_t i = 0; i < (size_t)rows * NET_HIDDEN; i++)
		n->hidden[i] = n->hidden[i] > 0.0f ? n->hidden[i] : 0.0f;
}

void net_dropout_mask(float *mask, size_t units, float keep, struct rng *r)
{
	float scale = 1.0f / keep;
	for (size_t i = 0; i < units; i++)
		mask[i] = rng_uniform(r) < keep ? scale : 0.0f;
}

/* Applies dropout to the batch's hidden layer, remembering the scale */
static void dropout(struct net *n, struct rng *r)
{
	net_dropout_mask(n->mask, (size_t)NET_BATCH * NET_HIDDEN, n->keep, r);
	for (size_t i = 0; i < (size_t)NET_BATCH * NET_HIDDEN; i++)
		n->hidden[i] *= n->mask[i];
}

/* Turns logits into dLoss/dlogits in place; returns the mean loss */
static float softmax_xent(float *logits, const uint8_t *y, int rows)
{
	double loss = 0.0;
	for (int i = 0; i < rows; i++) {
		float *z = logits + (size_t)i * MNIST_CLASSES;
		float max = z[0], sum = 0.0f;
		for (int c = 1; c < MNIST_CLASSES; c++)
			max = z[c] > max ? z[c] : max;
		for (int c = 0; c < MNIST_CLASSES; c++) {
			z[c] = expf(z[c] - max);
			sum += z[c];
		}
		for (int c = 0; c < MNIST_CLASSES; c++)
			z[c] /= sum;
		loss -= log((double)z[y[i]] + 1e-30);
		z[y[i]] -= 1.0f;
		for (int c = 0; c < MNIST_CLASSES; c++)
			z[c] /= (float)rows;
	}
	return (float)(loss / rows);
}

static void column_sums(const float *a, float *out, int rows, int cols)
{
	memset(out, 0, (size_t)cols * sizeof(float));
	for (int i = 0; i < rows; i++)
		for (int c = 0; c < cols; c++)
			out[c] += a[(size_t)i * cols + c];
}

static void backward(struct net *n, const float *x)
{
	float *gw1 = n->grad, *gb1 = gw1 + (n->b1 - n->w1);
	float *gw2 = gw1 + (n->w2 - n->w1), *gb2 = gw1 + (n->b2 - n->w1);
	const int B = NET_BATCH, H = NET_HIDDEN, C = MNIST_CLASSES;
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, C, B, 1.0f,
	    n->hidden, H, n->logits, C, 0.0f, gw2, C);
	column_sums(n->logits, gb2, B, C);
	/* relu'(pre) * mask folds into one test: hidden > 0 exactly where
	 * pre > 0 and the unit was kept */
	float *dh = n->dhidden;
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, H, C, 1.0f,
	    n->logits, C, n->w2, C, 0.0f, dh, H);
	for (size_t i = 0; i < (size_t)B * H; i++)
		dh[i] = n->hidden[i] > 0.0f ? dh[i] * n->mask[i] : 0.0f;
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, MNIST_PIXELS, H, B,
	    1.0f, x, MNIST_PIXELS, dh, H, 0.0f, gw1, H);
	column_sums(dh, gb1, B, H);
}

float net_adam_rate(struct net *n)
{
	n->adam_t++;
	return n->lr * sqrtf(1.0f - powf(0.999f, (float)n->adam_t)) /
	    (1.0f - powf(0.9f, (float)n->adam_t));
}

static void adam(struct net *n)
{
	const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
	float lr_t = net_adam_rate(n);
	for (size_t i = 0; i < n->nparams; i++) {
		float g = n->grad[i];
		n->m[i] = b1 * n->m[i] + (1.0f - b1) * g;
		n->v[i] = b2 * n->v[i] + (1.0f - b2) * g * g;
		n->params[i] -= lr_t * n->m[i] / (sqrtf(n->v[i]) + eps);
	}
}

float net_train_step(struct net *n, const float *x, const uint8_t *y,
    struct rng *r)
{
	forward(n, x, NET_BATCH);
	dropout(n, r);
	affine(n->hidden, n->w2, n->b2, n->logits, NET_BATCH, NET_HIDDEN,
	    MNIST_CLASSES);
	float loss = softmax_xent(n->logits, y, NET_BATCH);
	backward(n, x);
	adam(n);
	return loss;
}

static size_t count_right(const float *logits, const uint8_t *y, size_t rows)
{
	size_t right = 0;
	for (size_t i = 0; i < rows; i++) {
		const float *z = logits + i * MNIST_CLASSES;
		int best = 0;
		for (int c = 1; c < MNIST_CLASSES; c++)
			best = z[c] > z[best] ? c : best;
		right += best == y[i];
	}
	return right;
}

float net_accuracy(struct net *n, const struct mnist_set *set)
{
	size_t right = 0;
	for (size_t at = 0; at < set->n; at += EVAL_CHUNK) {
		size_t rows = set->n - at < EVAL_CHUNK ? set->n - at : EVAL_CHUNK;
		forward(n, set->images + at * MNIST_PIXELS, (int)rows);
		affine(n->hidden, n->w2, n->b2, n->logits, (int)rows, NET_HIDDEN,
		    MNIST_CLASSES);
		right += count_right(n->logits, set->labels + at, rows);
	}
	return (float)right / (float)set->n;
}
