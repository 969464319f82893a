/* fakecuda.h: the CUDA driver API entry points the fake libcuda.so.1
 * exports, with the driver's signatures (CUdevice is int, CUcontext a
 * pointer, CUresult int, CUdeviceptr unsigned long long, CUfunction and
 * CUstream pointers). */
#ifndef GDP_FAKECUDA_H
#define GDP_FAKECUDA_H

#include <stddef.h>

#define API __attribute__((visibility("default")))

typedef struct { unsigned char bytes[16]; } CUuuid;

API int cuInit(unsigned flags);
API int cuDeviceGetCount(int *n);
API int cuDeviceGet(int *dev, int ordinal);
API int cuDeviceGetName(char *name, int len, int dev);
API int cuDeviceGetAttribute(int *v, int attr, int dev);
API int cuDeviceTotalMem_v2(size_t *bytes, int dev);
API int cuDeviceGetUuid_v2(CUuuid *u, int dev);
API int cuDeviceGetPCIBusId(char *bus, int len, int dev);
API int cuCtxCreate_v2(void **ctx, unsigned flags, int dev);
API int cuCtxDestroy_v2(void *ctx);
API int cuMemGetInfo_v2(size_t *free_bytes, size_t *total);
API int cuModuleLoadData(void **mod, const void *image);
API int cuModuleGetFunction(void **fn, void *mod, const char *name);
API int cuModuleUnload(void *mod);
API int cuCtxSynchronize(void);
API int cuMemAlloc_v2(unsigned long long *dptr, size_t bytes);
API int cuMemFree_v2(unsigned long long dptr);
API int cuMemcpyHtoD_v2(unsigned long long dst, const void *src,
    size_t bytes);
API int cuMemcpyDtoH_v2(void *dst, unsigned long long src, size_t bytes);
API int cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz,
    unsigned bx, unsigned by, unsigned bz, unsigned shared, void *stream,
    void **params, void **extra);
API int cuGetErrorName(int rc, const char **name);

#endif
