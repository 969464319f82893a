/* fakecuda.c: a stand-in libcuda.so.1 for gpu-validate's tests, as
 * tests/fakenvml stands in for NVML. It answers the CUDA driver API calls
 * gpu-validate makes from environment variables, so a test can give the
 * real program any set of GPUs:
 *   FAKECUDA_UUIDS      comma-separated GPU-… UUIDs, one device each
 *                       (unset or empty: cuInit fails with NO_DEVICE)
 *   FAKECUDA_NAME       device name (default "Fake GPU")
 *   FAKECUDA_CC         compute capability "major.minor" (default 9.0)
 *   FAKECUDA_TOTAL_MIB  total memory (default 81559), free is 98% of it
 *   FAKECUDA_PTX_OUT    where cuModuleLoadData writes the image it got
 *   FAKECUDA_FAIL       NAME[:N]: the driver call NAME (no _v2) fails
 *                       from its Nth call on (default the first), with
 *                       OUT_OF_MEMORY for cuMemAlloc, LAUNCH_FAILED for
 *                       cuLaunchKernel, INVALID_VALUE for the others
 * cuModuleLoadData accepts text that reads as PTX (a .version and a
 * .target line) and has a .entry for each kernel the fake knows, with the
 * parameter kinds the fake reads (fakekernels.c); cuModuleGetFunction
 * finds only names with a .entry. Device memory is host memory (filled
 * with 0xff bytes, NaN as floats, so reading what was never written
 * shows), every copy and kernel buffer is checked against the live
 * allocations, and cuLaunchKernel runs the kernel's C reference at once,
 * so the stream is always idle. */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakecuda.h"
#include "fakekernels.h"

#define MAX_DEVICES 16
#define MAX_ALLOCS 256

#define INVALID_VALUE 1
#define OUT_OF_MEMORY 2
#define INVALID_CONTEXT 201
#define INVALID_PTX 218
#define LAUNCH_FAILED 719

static int ndevices = -1;
static CUuuid uuids[MAX_DEVICES];

static int hexval(int c)
{
	return isdigit(c) ? c - '0' : tolower(c) - 'a' + 10;
}

static int parse_uuid(const char *s, CUuuid *u)
{
	if (strncmp(s, "GPU-", 4) != 0)
		return -1;
	int n = 0;
	for (s += 4; *s != '\0' && *s != ',' && n < 32; s++) {
		if (*s == '-')
			continue;
		if (!isxdigit((unsigned char)*s))
			return -1;
		if (n % 2 == 0)
			u->bytes[n / 2] = (unsigned char)(hexval(*s) << 4);
		else
			u->bytes[n / 2] |= (unsigned char)hexval(*s);
		n++;
	}
	return n == 32 ? 0 : -1;
}

static int live_contexts;
static struct { char *base; size_t len; } allocs[MAX_ALLOCS];

/* FAKECUDA_FAIL: the code call (its name without _v2) returns now, or 0 */
static int injected(const char *call, int code)
{
	static long calls;
	const char *f = getenv("FAKECUDA_FAIL");
	size_t n = strlen(call);
	if (f == NULL || strncmp(f, call, n) != 0 ||
	    (f[n] != '\0' && f[n] != ':'))
		return 0;
	long nth = f[n] == ':' ? atol(f + n + 1) : 1;
	return ++calls >= nth ? code : 0;
}

int fake_mem_check(const void *p, size_t bytes)
{
	const char *c = p;
	for (int i = 0; i < MAX_ALLOCS; i++)
		if (allocs[i].base != NULL && c >= allocs[i].base &&
		    bytes <= allocs[i].len &&
		    (size_t)(c - allocs[i].base) <= allocs[i].len - bytes)
			return 0;
	return -1;
}

API int cuInit(unsigned flags)
{
	(void)flags;
	const char *env = getenv("FAKECUDA_UUIDS");
	ndevices = 0;
	for (const char *s = env; s != NULL && *s != '\0' &&
	    ndevices < MAX_DEVICES; ndevices++) {
		if (parse_uuid(s, &uuids[ndevices]) != 0)
			return 1; /* CUDA_ERROR_INVALID_VALUE */
		s = strchr(s, ',');
		s = s == NULL ? NULL : s + 1;
	}
	return ndevices == 0 ? 100 : 0; /* CUDA_ERROR_NO_DEVICE */
}

static int valid(int dev)
{
	return dev >= 0 && dev < ndevices ? 0 : 101; /* INVALID_DEVICE */
}

API int cuDeviceGetCount(int *n)
{
	*n = ndevices < 0 ? 0 : ndevices;
	return ndevices < 0 ? 3 : 0; /* NOT_INITIALIZED */
}

API int cuDeviceGet(int *dev, int ordinal)
{
	*dev = ordinal;
	return valid(ordinal);
}

API int cuDeviceGetName(char *name, int len, int dev)
{
	const char *n = getenv("FAKECUDA_NAME");
	snprintf(name, (size_t)len, "%s", n != NULL ? n : "Fake GPU");
	return valid(dev);
}

API int cuDeviceGetAttribute(int *v, int attr, int dev)
{
	const char *cc = getenv("FAKECUDA_CC");
	int major = 9, minor = 0;
	if (cc != NULL)
		sscanf(cc, "%d.%d", &major, &minor);
	*v = attr == 75 ? major : attr == 76 ? minor :
	    attr == 36 ? 2619000 : 0;
	return valid(dev);
}

static size_t total_bytes(void)
{
	const char *t = getenv("FAKECUDA_TOTAL_MIB");
	return (size_t)(t != NULL ? atol(t) : 81559) << 20;
}

API int cuDeviceTotalMem_v2(size_t *bytes, int dev)
{
	*bytes = total_bytes();
	return valid(dev);
}

API int cuDeviceGetUuid_v2(CUuuid *u, int dev)
{
	if (valid(dev) != 0)
		return valid(dev);
	*u = uuids[dev];
	return 0;
}

API int cuDeviceGetPCIBusId(char *bus, int len, int dev)
{
	snprintf(bus, (size_t)len, "0000:%02x:00.0", 0x18 + dev);
	return valid(dev);
}

API int cuCtxCreate_v2(void **ctx, unsigned flags, int dev)
{
	static char contexts[MAX_DEVICES];
	(void)flags;
	if (valid(dev) != 0)
		return valid(dev);
	int rc = injected("cuCtxCreate", INVALID_VALUE);
	if (rc != 0)
		return rc;
	*ctx = &contexts[dev];
	live_contexts++;
	return 0;
}

API int cuCtxDestroy_v2(void *ctx)
{
	if (ctx == NULL || live_contexts == 0)
		return INVALID_CONTEXT;
	live_contexts--;
	return 0;
}

API int cuCtxSynchronize(void)
{
	if (live_contexts == 0)
		return INVALID_CONTEXT;
	return injected("cuCtxSynchronize", INVALID_VALUE);
}

API int cuMemGetInfo_v2(size_t *free_bytes, size_t *total)
{
	*total = total_bytes();
	*free_bytes = *total / 100 * 98;
	return 0;
}

/* The parameter kinds of entry name in the PTX text: p for .u64, i for
 * .u32/.s32/.b32, f for .f32, ? otherwise; -1 when there is no entry */
static int ptx_signature(const char *text, const char *name, char *sig,
    size_t len)
{
	char want[256];
	snprintf(want, sizeof(want), ".entry %s(", name);
	const char *at = strstr(text, want), *end;
	if (at == NULL || (end = strchr(at, ')')) == NULL)
		return -1;
	size_t n = 0;
	for (const char *p = strstr(at, ".param ."); p != NULL && p < end &&
	    n + 1 < len; p = strstr(p + 1, ".param .")) {
		const char *t = p + strlen(".param .");
		sig[n++] = strncmp(t, "u64", 3) == 0 ? 'p' :
		    strncmp(t, "f32", 3) == 0 ? 'f' :
		    strncmp(t, "u32", 3) == 0 || strncmp(t, "s32", 3) == 0 ||
		    strncmp(t, "b32", 3) == 0 ? 'i' : '?';
	}
	sig[n] = '\0';
	return 0;
}

/* 0 when every kernel the fake knows is in text with its parameters */
static int check_entries(const char *text)
{
	char sig[64];
	for (const struct fake_kernel *k = fake_kernels; k->name; k++) {
		if (ptx_signature(text, k->name, sig, sizeof(sig)) != 0) {
			fprintf(stderr, "fakecuda: the PTX has no .entry %s\n",
			    k->name);
			return -1;
		}
		if (strcmp(sig, k->sig) != 0) {
			fprintf(stderr, "fakecuda: %s takes (%s) in the PTX, the "
			    "fake reads (%s)\n", k->name, sig, k->sig);
			return -1;
		}
	}
	return 0;
}

API int cuModuleLoadData(void **mod, const void *image)
{
	const char *text = image;
	int rc = injected("cuModuleLoadData", INVALID_VALUE);
	if (rc != 0)
		return rc;
	if (strstr(text, "\n.version ") == NULL ||
	    strstr(text, "\n.target sm_") == NULL || check_entries(text) != 0)
		return INVALID_PTX;
	const char *out = getenv("FAKECUDA_PTX_OUT");
	FILE *fp = out != NULL ? fopen(out, "w") : NULL;
	if (fp != NULL) {
		fputs(text, fp);
		fclose(fp);
	}
	memcpy(mod, &text, sizeof(text)); /* the handle is the text */
	return 0;
}

API int cuModuleGetFunction(void **fn, void *mod, const char *name)
{
	char want[256];
	snprintf(want, sizeof(want), ".entry %s(", name);
	const char *at = strstr((const char *)mod, want);
	if (at == NULL)
		return 500; /* CUDA_ERROR_NOT_FOUND */
	memcpy(fn, &at, sizeof(at));
	return 0;
}

API int cuModuleUnload(void *mod)
{
	(void)mod;
	return 0;
}

API int cuMemAlloc_v2(unsigned long long *dptr, size_t bytes)
{
	int rc = injected("cuMemAlloc", OUT_OF_MEMORY);
	if (rc != 0 || live_contexts == 0)
		return rc != 0 ? rc : INVALID_CONTEXT;
	if (bytes == 0)
		return INVALID_VALUE;
	for (int i = 0; i < MAX_ALLOCS; i++) {
		if (allocs[i].base != NULL)
			continue;
		if ((allocs[i].base = malloc(bytes)) == NULL)
			return OUT_OF_MEMORY;
		memset(allocs[i].base, 0xff, bytes);
		allocs[i].len = bytes;
		*dptr = (unsigned long long)(uintptr_t)allocs[i].base;
		return 0;
	}
	return OUT_OF_MEMORY;
}

API int cuMemFree_v2(unsigned long long dptr)
{
	for (int i = 0; i < MAX_ALLOCS; i++) {
		if (allocs[i].base != (char *)fake_dev_ptr(dptr))
			continue;
		free(allocs[i].base);
		allocs[i].base = NULL;
		return 0;
	}
	return INVALID_VALUE;
}

API int cuMemcpyHtoD_v2(unsigned long long dst, const void *src,
    size_t bytes)
{
	void *d = fake_dev_ptr(dst);
	int rc = injected("cuMemcpyHtoD", INVALID_VALUE);
	if (rc != 0 || fake_mem_check(d, bytes) != 0)
		return rc != 0 ? rc : INVALID_VALUE;
	memcpy(d, src, bytes);
	return 0;
}

API int cuMemcpyDtoH_v2(void *dst, unsigned long long src, size_t bytes)
{
	const void *s = fake_dev_ptr(src);
	int rc = injected("cuMemcpyDtoH", INVALID_VALUE);
	if (rc != 0 || fake_mem_check(s, bytes) != 0)
		return rc != 0 ? rc : INVALID_VALUE;
	memcpy(dst, s, bytes);
	return 0;
}

/* The function handle points at ".entry NAME(" in the module's text */
API int cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz,
    unsigned bx, unsigned by, unsigned bz, unsigned shared, void *stream,
    void **params, void **extra)
{
	char name[128];
	int rc = injected("cuLaunchKernel", LAUNCH_FAILED);
	(void)shared;
	(void)stream;
	if (rc != 0 || live_contexts == 0)
		return rc != 0 ? rc : INVALID_CONTEXT;
	if (f == NULL || params == NULL || extra != NULL ||
	    sscanf((const char *)f, ".entry %127[A-Za-z0-9_](", name) != 1)
		return INVALID_VALUE;
	const struct fake_kernel *k = fake_kernel_find(name);
	if (k == NULL || gx == 0 || gy == 0 || gz == 0 || bx * by * bz == 0 ||
	    bx * by * bz > 1024)
		return INVALID_VALUE;
	struct fake_launch l = { { gx, gy, gz }, { bx, by, bz }, params };
	return k->run(&l);
}

API int cuGetErrorName(int rc, const char **name)
{
	static const struct { int rc; const char *name; } names[] = {
		{ 0, "CUDA_SUCCESS" }, { 1, "CUDA_ERROR_INVALID_VALUE" },
		{ 2, "CUDA_ERROR_OUT_OF_MEMORY" },
		{ 3, "CUDA_ERROR_NOT_INITIALIZED" },
		{ 100, "CUDA_ERROR_NO_DEVICE" },
		{ 101, "CUDA_ERROR_INVALID_DEVICE" },
		{ 201, "CUDA_ERROR_INVALID_CONTEXT" },
		{ 218, "CUDA_ERROR_INVALID_PTX" }, { 500, "CUDA_ERROR_NOT_FOUND" },
		{ 700, "CUDA_ERROR_ILLEGAL_ADDRESS" },
		{ 719, "CUDA_ERROR_LAUNCH_FAILED" },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (names[i].rc == rc) {
			*name = names[i].name;
			return 0;
		}
	}
	*name = NULL;
	return INVALID_VALUE;
}
