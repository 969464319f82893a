/* fakekernels.h: the fake libcuda's C reference of each kernel of
 * src/validate/kernels.cu, found by name. See fakekernels.c. */
#ifndef GDP_FAKEKERNELS_H
#define GDP_FAKEKERNELS_H

#include <stddef.h>
#include <string.h>

struct fake_launch {
	unsigned grid[3], block[3];
	void **params; /* kernelParams: pointers to the argument values */
};

struct fake_kernel {
	const char *name;
	/* Parameter kinds in kernels.cu's order: p pointer (.u64 in the
	 * PTX), i int (.u32), f float (.f32) */
	const char *sig;
	/* Runs the kernel; returns 0 or a CUresult */
	int (*run)(const struct fake_launch *l);
};

/* The kernel called name, or NULL */
const struct fake_kernel *fake_kernel_find(const char *name);
/* Every kernel, NULL-terminated by name */
extern const struct fake_kernel fake_kernels[];

/* A device address (CUdeviceptr) as the host pointer it is in the fake:
 * the bytes are copied, not cast, the address being host memory */
_Static_assert(sizeof(void *) == sizeof(unsigned long long),
    "CUdeviceptr holds a host pointer");
static inline void *fake_dev_ptr(unsigned long long d)
{
	void *p;
	memcpy(&p, &d, sizeof(p));
	return p;
}

/* fakecuda.c: 0 when [p, p + bytes) lies in one live allocation */
int fake_mem_check(const void *p, size_t bytes);

#endif
