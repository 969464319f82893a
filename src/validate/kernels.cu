/* kernels.cu: the GPU path's kernels in CUDA C, compiled to PTX at build
 * time by clang with no CUDA toolkit (-nocudainc -nocudalib), so nothing
 * from CUDA's headers is available: kernels are marked with the global
 * attribute, thread ids and the math come from clang's NVVM builtins.
 * The PTX is embedded in gpu-validate and JIT-compiled by the driver for
 * whatever GPU it finds. Names are extern "C" so cuModuleGetFunction finds
 * them unmangled. Matrices are row major, as on the CPU path. */
#define KERNEL extern "C" __attribute__((global))

__attribute__((device)) static inline int gid(void)
{
	return __nvvm_read_ptx_sreg_ctaid_x() * __nvvm_read_ptx_sreg_ntid_x() +
	    __nvvm_read_ptx_sreg_tid_x();
}

__attribute__((device)) static inline float expf_dev(float x)
{
	return __nvvm_ex2_approx_f(x * 1.4426950408889634f);
}

/* C[m x n] = beta*C + op(A) op(B), 16x16 tiles; ta/tb: operand stored
 * transposed (A is k x m, B is n x k). Grid: (n/16, m/16), block 16x16. */
KERNEL void gv_matmul(const float *A, const float *B, float *C, int m,
    int n, int k, int ta, int tb, float beta)
{
	__attribute__((shared)) float as[16][17];
	__attribute__((shared)) float bs[16][17];
	int tx = __nvvm_read_ptx_sreg_tid_x(), ty = __nvvm_read_ptx_sreg_tid_y();
	int row = __nvvm_read_ptx_sreg_ctaid_y() * 16 + ty;
	int col = __nvvm_read_ptx_sreg_ctaid_x() * 16 + tx;
	float acc = 0.0f;
	for (int t = 0; t < k; t += 16) {
		int ak = t + tx, bk = t + ty;
		as[ty][tx] = row < m && ak < k ?
		    (ta ? A[ak * m + row] : A[row * k + ak]) : 0.0f;
		bs[ty][tx] = col < n && bk < k ?
		    (tb ? B[col * k + bk] : B[bk * n + col]) : 0.0f;
		__syncthreads();
		for (int i = 0; i < 16; i++)
			acc += as[ty][i] * bs[i][tx];
		__syncthreads();
	}
	if (row < m && col < n)
		C[row * n + col] = acc + (beta != 0.0f ? beta * C[row * n + col] :
		    0.0f);
}

/* x[rows x cols] += bias; then ReLU when relu is set */
KERNEL void gv_bias_relu(float *x, const float *bias, int rows, int cols,
    int relu)
{
	int i = gid();
	if (i >= rows * cols)
		return;
	float v = x[i] + bias[i % cols];
	x[i] = relu && v < 0.0f ? 0.0f : v;
}

/* Dropout with a counter-based hash of (seed, i): keeps with probability
 * keep and scales by 1/keep; mask remembers the scale for the backward */
KERNEL void gv_dropout(float *h, float *mask, int n, unsigned seed,
    float keep)
{
	int i = gid();
	if (i >= n)
		return;
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

/* One thread per row: logits -> dLoss/dlogits (softmax minus one-hot,
 * over the batch); loss[row] gets that row's cross-entropy */
KERNEL void gv_softmax_xent(float *z, const unsigned char *y, float *loss,
    int rows, int classes)
{
	int r = gid();
	if (r >= rows)
		return;
	float *p = z + r * classes, max = p[0], sum = 0.0f;
	for (int c = 1; c < classes; c++)
		max = p[c] > max ? p[c] : max;
	for (int c = 0; c < classes; c++) {
		p[c] = expf_dev(p[c] - max);
		sum += p[c];
	}
	for (int c = 0; c < classes; c++)
		p[c] /= sum;
	loss[r] = -__nvvm_lg2_approx_f(p[y[r]] + 1e-30f) * 0.6931471805599453f;
	p[y[r]] -= 1.0f;
	for (int c = 0; c < classes; c++)
		p[c] /= (float)rows;
}

/* dh = hidden > 0 ? dh * mask : 0 (ReLU and dropout backward in one) */
KERNEL void gv_relu_dropout_back(float *dh, const float *hidden,
    const float *mask, int n)
{
	int i = gid();
	if (i < n)
		dh[i] = hidden[i] > 0.0f ? dh[i] * mask[i] : 0.0f;
}

/* out[c] = sum over rows of a[r][c]: the bias gradients */
KERNEL void gv_column_sums(const float *a, float *out, int rows, int cols)
{
	int c = gid();
	if (c >= cols)
		return;
	float s = 0.0f;
	for (int r = 0; r < rows; r++)
		s += a[r * cols + c];
	out[c] = s;
}

/* Adam over all parameters; lr_t already carries the bias corrections */
KERNEL void gv_adam(float *p, const float *g, float *m, float *v, int n,
    float lr_t)
{
	int i = gid();
	if (i >= n)
		return;
	m[i] = 0.9f * m[i] + 0.1f * g[i];
	v[i] = 0.999f * v[i] + 0.001f * g[i] * g[i];
	p[i] -= lr_t * m[i] / (__nvvm_sqrt_rn_f(v[i]) + 1e-8f);
}

/* One thread per row: counts rows whose largest logit is the label */
KERNEL void gv_argmax_correct(const float *z, const unsigned char *y,
    int *correct, int rows, int classes)
{
	int r = gid();
	if (r >= rows)
		return;
	const float *p = z + r * classes;
	int best = 0;
	for (int c = 1; c < classes; c++)
		best = p[c] > p[best] ? c : best;
	if (best == y[r])
		__nvvm_atom_add_gen_i(correct, 1);
}
