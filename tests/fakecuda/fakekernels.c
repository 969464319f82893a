/* fakekernels.c: C references of the kernels in src/validate/kernels.cu,
 * run by the fake cuLaunchKernel so that gpu-validate's GPU path trains
 * for real in tests on machines with no GPU. Each reads its arguments from
 * kernelParams in kernels.cu's parameter order (a signature string per
 * kernel, checked against the PTX's .param list at cuModuleLoadData), checks
 * that every buffer it touches lies inside a cuMemAlloc'd block
 * (CUDA_ERROR_ILLEGAL_ADDRESS otherwise, where a GPU would fault or
 * corrupt), and covers exactly the threads the grid and block give it:
 * a grid too small leaves outputs unwritten, as on a GPU. A launch shape
 * a kernel is not written for (matmul's block must be 16x16, the others
 * are one-dimensional) is refused with CUDA_ERROR_INVALID_VALUE. The
 * matrix product goes to OpenBLAS so the tests run in seconds. */
#include "fakekernels.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#define INVALID_VALUE 1
#define ILLEGAL_ADDRESS 700

#define PTR(l, i, T) ((T *)fake_dev_ptr(*(unsigned long long *)(l)->params[i]))
#define INT(l, i) (*(int *)(l)->params[i])
#define FLT(l, i) (*(float *)(l)->params[i])

/* Checks a buffer of n items of size sz; n <= 0 touches nothing */
static int need(const void *p, long n, size_t sz)
{
	if (n <= 0)
		return 0;
	return fake_mem_check(p, (size_t)n * sz) == 0 ? 0 : ILLEGAL_ADDRESS;
}

/* Threads of a one-dimensional launch, or -1 for another shape */
static long threads_1d(const struct fake_launch *l)
{
	if (l->grid[1] != 1 || l->grid[2] != 1 || l->block[1] != 1 ||
	    l->block[2] != 1)
		return -1;
	return (long)l->grid[0] * l->block[0];
}

static int matmul(const struct fake_launch *l)
{
	const float *A = PTR(l, 0, const float), *B = PTR(l, 1, const float);
	float *C = PTR(l, 2, float);
	int m = INT(l, 3), n = INT(l, 4), k = INT(l, 5), ta = INT(l, 6),
	    tb = INT(l, 7);
	float beta = FLT(l, 8);
	if (l->block[0] != 16 || l->block[1] != 16 || l->block[2] != 1 ||
	    l->grid[2] != 1)
		return INVALID_VALUE;
	if (need(A, (long)m * k, 4) || need(B, (long)k * n, 4) ||
	    need(C, (long)m * n, 4))
		return ILLEGAL_ADDRESS;
	/* The tiles the grid covers */
	int mr = (long)l->grid[1] * 16 < m ? (int)l->grid[1] * 16 : m;
	int nc = (long)l->grid[0] * 16 < n ? (int)l->grid[0] * 16 : n;
	if (mr <= 0 || nc <= 0)
		return 0;
	if (k == 0) {
		for (int r = 0; r < mr; r++)
			for (int c = 0; c < nc; c++)
				C[(long)r * n + c] *= beta;
		return 0;
	}
	cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
	    tb ? CblasTrans : CblasNoTrans, mr, nc, k, 1.0f, A, ta ? m : k,
	    B, tb ? k : n, beta, C, n);
	return 0;
}

static int bias_relu(const struct fake_launch *l)
{
	float *x = PTR(l, 0, float);
	const float *bias = PTR(l, 1, const float);
	int rows = INT(l, 2), cols = INT(l, 3), relu = INT(l, 4);
	long t = threads_1d(l), n = (long)rows * cols;
	if (t < 0)
		return INVALID_VALUE;
	if (need(x, n, 4) || need(bias, cols, 4))
		return ILLEGAL_ADDRESS;
	for (long i = 0; i < t && i < n; i++) {
		float v = x[i] + bias[i % cols];
		x[i] = relu && v < 0.0f ? 0.0f : v;
	}
	return 0;
}

static int dropout(const struct fake_launch *l)
{
	float *h = PTR(l, 0, float), *mask = PTR(l, 1, float);
	int n = INT(l, 2);
	unsigned seed = *(unsigned *)l->params[3];
	float keep = FLT(l, 4);
	long t = threads_1d(l);
	if (t < 0)
		return INVALID_VALUE;
	if (need(h, n, 4) || need(mask, n, 4))
		return ILLEGAL_ADDRESS;
	for (long i = 0; i < t && i < n; i++) {
		unsigned x = (unsigned)i * 0x9e3779b9u ^ seed;
		x ^= x >> 16;
		x *= 0x7feb352du;
		x ^= x >> 15;
		x *= 0x846ca68bu;
		x ^= x >> 16;
		float u = (float)(x >> 8) * (1.0f / 16777216.0f);
		mask[i] = u < keep ? 1.0f / keep : 0.0f;
		h[i] *= mask[i];
	}
	return 0;
}

static void softmax_row(float *p, unsigned char y, float *loss, int rows,
    int classes)
{
	float max = p[0], sum = 0.0f;
	for (int c = 1; c < classes; c++)
		max = p[c] > max ? p[c] : max;
	for (int c = 0; c < classes; c++) {
		p[c] = expf(p[c] - max);
		sum += p[c];
	}
	for (int c = 0; c < classes; c++)
		p[c] /= sum;
	*loss = -logf(p[y] + 1e-30f);
	p[y] -= 1.0f;
	for (int c = 0; c < classes; c++)
		p[c] /= (float)rows;
}

static int softmax_xent(const struct fake_launch *l)
{
	float *z = PTR(l, 0, float), *loss = PTR(l, 2, float);
	const unsigned char *y = PTR(l, 1, const unsigned char);
	int rows = INT(l, 3), classes = INT(l, 4);
	long t = threads_1d(l);
	if (t < 0)
		return INVALID_VALUE;
	if (need(z, (long)rows * classes, 4) || need(y, rows, 1) ||
	    need(loss, rows, 4))
		return ILLEGAL_ADDRESS;
	for (long r = 0; r < t && r < rows; r++) {
		if (y[r] >= classes)
			return ILLEGAL_ADDRESS;
		softmax_row(z + r * classes, y[r], &loss[r], rows, classes);
	}
	return 0;
}

static int relu_dropout_back(const struct fake_launch *l)
{
	float *dh = PTR(l, 0, float);
	const float *hidden = PTR(l, 1, const float);
	const float *mask = PTR(l, 2, const float);
	int n = INT(l, 3);
	long t = threads_1d(l);
	if (t < 0)
		return INVALID_VALUE;
	if (need(dh, n, 4) || need(hidden, n, 4) || need(mask, n, 4))
		return ILLEGAL_ADDRESS;
	for (long i = 0; i < t && i < n; i++)
		dh[i] = hidden[i] > 0.0f ? dh[i] * mask[i] : 0.0f;
	return 0;
}

static int column_sums(const struct fake_launch *l)
{
	const float *a = PTR(l, 0, const float);
	float *out = PTR(l, 1, float);
	int rows = INT(l, 2), cols = INT(l, 3);
	long t = threads_1d(l);
	if (t < 0)
		return INVALID_VALUE;
	if (need(a, (long)rows * cols, 4) || need(out, cols, 4))
		return ILLEGAL_ADDRESS;
	for (long c = 0; c < t && c < cols; c++) {
		float s = 0.0f;
		for (int r = 0; r < rows; r++)
			s += a[(long)r * cols + c];
		out[c] = s;
	}
	return 0;
}

static int adam(const struct fake_launch *l)
{
	float *p = PTR(l, 0, float), *m = PTR(l, 2, float);
	float *v = PTR(l, 3, float);
	const float *g = PTR(l, 1, const float);
	int n = INT(l, 4);
	float lr_t = FLT(l, 5);
	long t = threads_1d(l);
	if (t < 0)
		return INVALID_VALUE;
	if (need(p, n, 4) || need(g, n, 4) || need(m, n, 4) || need(v, n, 4))
		return ILLEGAL_ADDRESS;
	for (long i = 0; i < t && i < n; i++) {
		m[i] = 0.9f * m[i] + 0.1f * g[i];
		v[i] = 0.999f * v[i] + 0.001f * g[i] * g[i];
		p[i] -= lr_t * m[i] / (sqrtf(v[i]) + 1e-8f);
	}
	return 0;
}

static int argmax_correct(const struct fake_launch *l)
{
	const float *z = PTR(l, 0, const float);
	const unsigned char *y = PTR(l, 1, const unsigned char);
	int *correct = PTR(l, 2, int);
	int rows = INT(l, 3), classes = INT(l, 4);
	long t = threads_1d(l);
	if (t < 0)
		return INVALID_VALUE;
	if (need(z, (long)rows * classes, 4) || need(y, rows, 1) ||
	    need(correct, 1, sizeof(int)))
		return ILLEGAL_ADDRESS;
	for (long r = 0; r < t && r < rows; r++) {
		const float *p = z + r * classes;
		int best = 0;
		for (int c = 1; c < classes; c++)
			best = p[c] > p[best] ? c : best;
		*correct += best == y[r];
	}
	return 0;
}

const struct fake_kernel fake_kernels[] = {
	{ "gv_matmul", "pppiiiiif", matmul },
	{ "gv_bias_relu", "ppiii", bias_relu },
	{ "gv_dropout", "ppiif", dropout },
	{ "gv_softmax_xent", "pppii", softmax_xent },
	{ "gv_relu_dropout_back", "pppi", relu_dropout_back },
	{ "gv_column_sums", "ppii", column_sums },
	{ "gv_adam", "ppppif", adam },
	{ "gv_argmax_correct", "pppii", argmax_correct },
	{ NULL, NULL, NULL },
};

const struct fake_kernel *fake_kernel_find(const char *name)
{
	for (const struct fake_kernel *k = fake_kernels; k->name != NULL; k++)
		if (strcmp(k->name, name) == 0)
			return k;
	return NULL;
}
