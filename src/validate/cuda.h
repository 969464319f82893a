/* cuda.h: the CUDA driver API entry points gpu-validate uses, loaded from
 * libcuda.so.1 with dlopen, and the allocation check. See cuda.c. */
#ifndef GDP_VALIDATE_CUDA_H
#define GDP_VALIDATE_CUDA_H

#include <stddef.h>

#define CUDA_MAX_DEVICES 64

struct cuda_device {
	char name[256];
	char uuid[64];    /* "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" */
	char pci_bus[32]; /* "0000:00:04.0" */
	int major, minor;
	int mem_clock_khz;
	size_t total_mem, free_mem;
};

struct cuda_probe {
	int ndevices;
	struct cuda_device dev[CUDA_MAX_DEVICES];
};

enum cuda_status {
	CUDA_OK,
	CUDA_NO_DRIVER, /* libcuda.so.1 is not there */
	CUDA_NO_DEVICE, /* the driver is there, no device is visible */
	CUDA_FAILED,    /* a driver call failed: err says which */
};

/* Loads libcuda.so.1 and describes every visible device into p. */
enum cuda_status cuda_probe(struct cuda_probe *p, char *err, size_t errlen);

/* Loads the embedded PTX (kernels.cu) into a context on device 0 with
 * cuModuleLoadData and looks up every kernel the GPU path launches. Call
 * after cuda_probe returned CUDA_OK. The context and module stay for
 * cuda_launch until cuda_close. Returns the number of kernels found, or
 * -1 with the failing call or missing kernel in err. */
int cuda_load_kernels(char *err, size_t errlen);
/* Unloads the module and destroys the context (no-op when none) */
void cuda_close(void);

/* The kernels of kernels.cu, in cuda.c's kernel_names order */
enum cuda_kernel {
	K_MATMUL, K_BIAS_RELU, K_DROPOUT, K_SOFTMAX_XENT, K_RELU_DROPOUT_BACK,
	K_COLUMN_SUMS, K_ADAM, K_ARGMAX_CORRECT, K_COUNT
};

/* A device address, as the driver's CUdeviceptr */
typedef unsigned long long cuda_ptr;

/* Thin wrappers over the driver calls the GPU path makes, in the loaded
 * context. Each returns 0, or -1 with "call: CUDA_ERROR_…" in err. */
int cuda_alloc(cuda_ptr *p, size_t bytes, char *err, size_t errlen);
void cuda_free(cuda_ptr p);
int cuda_upload(cuda_ptr dst, const void *src, size_t bytes, char *err,
    size_t errlen);
int cuda_download(void *dst, cuda_ptr src, size_t bytes, char *err,
    size_t errlen);
/* Launches k on grid (gx, gy) of blocks (bx, by); args point at the
 * argument values in the kernel's parameter order */
int cuda_launch(enum cuda_kernel k, unsigned gx, unsigned gy, unsigned bx,
    unsigned by, void **args, char *err, size_t errlen);
/* Waits for the launched work; returns its first error */
int cuda_sync(char *err, size_t errlen);

/* Checks that the devices in p are exactly those NVIDIA_VISIBLE_DEVICES
 * (nvd, may be NULL) names. Returns 0 when they match, 1 when nvd gives
 * nothing to check against (unset, empty, "void"), -1 on a mismatch with
 * the reason in err; note gets what was checked. */
int cuda_check_allocation(const struct cuda_probe *p, const char *nvd,
    char *err, size_t errlen, char *note, size_t notelen);

#endif
