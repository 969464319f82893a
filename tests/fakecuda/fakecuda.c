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
 * It runs no kernels: cuModuleLoadData accepts text that reads as PTX
 * (a .version and a .target line), as the driver's JIT would first check,
 * and cuModuleGetFunction finds only names the text has a .entry for. */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakecuda.h"

#define MAX_DEVICES 16

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
	*ctx = &contexts[dev];
	return 0;
}

API int cuCtxDestroy_v2(void *ctx)
{
	(void)ctx;
	return 0;
}

API int cuMemGetInfo_v2(size_t *free_bytes, size_t *total)
{
	*total = total_bytes();
	*free_bytes = *total / 100 * 98;
	return 0;
}

API int cuModuleLoadData(void **mod, const void *image)
{
	const char *text = image;
	if (strstr(text, "\n.version ") == NULL ||
	    strstr(text, "\n.target sm_") == NULL)
		return 218; /* CUDA_ERROR_INVALID_PTX */
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
