/* cuda.c: finds the GPUs this process was given through the CUDA driver
 * API. libcuda.so.1 is opened with dlopen, not linked, because the NVIDIA
 * container toolkit injects it only into containers that got a GPU: the
 * same binary must start, say "no CUDA driver" and train on the CPU
 * elsewhere. The few types and entry points used are public facts of the
 * driver API, declared here. The allocation check compares what CUDA sees
 * with what NVIDIA_VISIBLE_DEVICES (set by the device plugin's Allocate
 * answer) says the container should have. The GPU path (net_gpu.c) goes
 * through the small wrappers at the end, which keep the one context and
 * module and turn every failing call into "call: CUDA_ERROR_NAME". */
#include "validate/cuda.h"
#include "validate/kernels.h"

#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
typedef int CUdevice;
typedef void *CUcontext;
typedef struct { unsigned char bytes[16]; } CUuuid;
typedef unsigned long long CUdeviceptr;

#define CUDA_ERROR_NO_DEVICE 100
#define ATTR_MEMORY_CLOCK_RATE 36
#define ATTR_CC_MAJOR 75
#define ATTR_CC_MINOR 76

struct cuda_api {
	CUresult (*init)(unsigned);
	CUresult (*count)(int *);
	CUresult (*get)(CUdevice *, int);
	CUresult (*name)(char *, int, CUdevice);
	CUresult (*attr)(int *, int, CUdevice);
	CUresult (*total)(size_t *, CUdevice);
	CUresult (*uuid)(CUuuid *, CUdevice);
	CUresult (*busid)(char *, int, CUdevice);
	CUresult (*ctx_create)(CUcontext *, unsigned, CUdevice);
	CUresult (*ctx_destroy)(CUcontext);
	CUresult (*mem_info)(size_t *, size_t *);
	CUresult (*module_load)(void **, const void *);
	CUresult (*module_function)(void **, void *, const char *);
	CUresult (*module_unload)(void *);
	CUresult (*mem_alloc)(CUdeviceptr *, size_t);
	CUresult (*mem_free)(CUdeviceptr);
	CUresult (*htod)(CUdeviceptr, const void *, size_t);
	CUresult (*dtoh)(void *, CUdeviceptr, size_t);
	CUresult (*launch)(void *, unsigned, unsigned, unsigned, unsigned,
	    unsigned, unsigned, unsigned, void *, void **, void **);
	CUresult (*sync)(void);
	CUresult (*error_name)(CUresult, const char **); /* may be NULL */
};

/* Bound by cuda_probe; the library stays loaded for the process's life */
static struct cuda_api api;
static int api_bound;
/* Made by cuda_load_kernels, released by cuda_close */
static CUcontext ctx_loaded;
static void *mod_loaded;
static void *fn_loaded[K_COUNT];

/* The kernels the GPU path launches, all in kernels.cu */
static const char *const kernel_names[K_COUNT] = {
	"gv_matmul", "gv_bias_relu", "gv_dropout", "gv_softmax_xent",
	"gv_relu_dropout_back", "gv_column_sums", "gv_adam",
	"gv_argmax_correct",
};

static void *sym(void *lib, const char *a, const char *b)
{
	void *f = dlsym(lib, a);
	return f != NULL || b == NULL ? f : dlsym(lib, b);
}

/* Fills api from lib; returns the name of the first missing symbol */
static const char *bind(void *lib, struct cuda_api *out)
{
#define BIND(field, a, b)                                                    \
	do {                                                                 \
		void *f_ = sym(lib, a, b);                                   \
		if (f_ == NULL)                                              \
			return a;                                            \
		memcpy(&out->field, &f_, sizeof(f_));                        \
	} while (0)
	BIND(init, "cuInit", NULL);
	BIND(count, "cuDeviceGetCount", NULL);
	BIND(get, "cuDeviceGet", NULL);
	BIND(name, "cuDeviceGetName", NULL);
	BIND(attr, "cuDeviceGetAttribute", NULL);
	BIND(total, "cuDeviceTotalMem_v2", "cuDeviceTotalMem");
	BIND(uuid, "cuDeviceGetUuid_v2", "cuDeviceGetUuid");
	BIND(busid, "cuDeviceGetPCIBusId", NULL);
	BIND(ctx_create, "cuCtxCreate_v2", "cuCtxCreate");
	BIND(ctx_destroy, "cuCtxDestroy_v2", "cuCtxDestroy");
	BIND(mem_info, "cuMemGetInfo_v2", "cuMemGetInfo");
	BIND(module_load, "cuModuleLoadData", NULL);
	BIND(module_function, "cuModuleGetFunction", NULL);
	BIND(module_unload, "cuModuleUnload", NULL);
	BIND(mem_alloc, "cuMemAlloc_v2", "cuMemAlloc");
	BIND(mem_free, "cuMemFree_v2", "cuMemFree");
	BIND(htod, "cuMemcpyHtoD_v2", "cuMemcpyHtoD");
	BIND(dtoh, "cuMemcpyDtoH_v2", "cuMemcpyDtoH");
	BIND(launch, "cuLaunchKernel", NULL);
	BIND(sync, "cuCtxSynchronize", NULL);
#undef BIND
	void *f = dlsym(lib, "cuGetErrorName");
	memcpy(&out->error_name, &f, sizeof(f));
	return NULL;
}

/* "CUDA_ERROR_OUT_OF_MEMORY (2)", or "error 2" where the driver has no
 * name for rc; buf is used when it has none */
static const char *rc_name(CUresult rc, char *buf, size_t len)
{
	const char *name = NULL;
	if (api.error_name != NULL && api.error_name(rc, &name) == 0 &&
	    name != NULL)
		snprintf(buf, len, "%s (%d)", name, rc);
	else
		snprintf(buf, len, "error %d", rc);
	return buf;
}

/* err = "call failed: NAME (rc)" */
static int call_failed(char *err, size_t errlen, const char *call,
    CUresult rc)
{
	char b[96];
	snprintf(err, errlen, "%s failed: %s", call, rc_name(rc, b, sizeof(b)));
	return -1;
}

static void format_uuid(const CUuuid *u, char *out, size_t len)
{
	const unsigned char *b = u->bytes;
	snprintf(out, len, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
	    b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static int describe(const struct cuda_api *a, int i, struct cuda_device *d,
    char *err, size_t errlen)
{
	CUdevice dev;
	CUuuid u;
	CUcontext ctx = NULL;
	size_t total = 0;
	char b[96];
	CUresult rc;
	const char *call = "cuDeviceGet";
	if ((rc = a->get(&dev, i)) != 0)
		goto fail;
	call = "cuDeviceGetName";
	if ((rc = a->name(d->name, (int)sizeof(d->name), dev)) != 0)
		goto fail;
	call = "cuDeviceGetAttribute";
	if ((rc = a->attr(&d->major, ATTR_CC_MAJOR, dev)) != 0 ||
	    (rc = a->attr(&d->minor, ATTR_CC_MINOR, dev)) != 0 ||
	    (rc = a->attr(&d->mem_clock_khz, ATTR_MEMORY_CLOCK_RATE, dev)))
		goto fail;
	call = "cuDeviceGetUuid";
	if ((rc = a->uuid(&u, dev)) != 0)
		goto fail;
	format_uuid(&u, d->uuid, sizeof(d->uuid));
	call = "cuDeviceGetPCIBusId";
	if ((rc = a->busid(d->pci_bus, (int)sizeof(d->pci_bus), dev)) != 0)
		goto fail;
	call = "cuDeviceTotalMem";
	if ((rc = a->total(&d->total_mem, dev)) != 0)
		goto fail;
	call = "cuCtxCreate";
	if ((rc = a->ctx_create(&ctx, 0, dev)) != 0)
		goto fail;
	call = "cuMemGetInfo";
	rc = a->mem_info(&d->free_mem, &total);
	a->ctx_destroy(ctx);
	if (rc == 0)
		return 0;
fail:
	snprintf(err, errlen, "CUDA device %d: %s failed: %s", i, call,
	    rc_name(rc, b, sizeof(b)));
	return -1;
}

enum cuda_status cuda_probe(struct cuda_probe *p, char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) {
		snprintf(err, errlen, "no CUDA driver: %s", dlerror());
		return CUDA_NO_DRIVER;
	}
	memset(&api, 0, sizeof(api));
	api_bound = 0;
	const char *missing = bind(lib, &api);
	if (missing != NULL) {
		snprintf(err, errlen, "libcuda.so.1 lacks %s", missing);
		return CUDA_FAILED;
	}
	/* The library stays loaded: the GPU path uses it after the probe */
	CUresult rc = api.init(0);
	int n = 0;
	if (rc == 0)
		rc = api.count(&n);
	if (rc == CUDA_ERROR_NO_DEVICE || (rc == 0 && n == 0)) {
		snprintf(err, errlen, "no CUDA device visible");
		return CUDA_NO_DEVICE;
	}
	if (rc != 0) {
		call_failed(err, errlen, "cuInit/cuDeviceGetCount", rc);
		return CUDA_FAILED;
	}
	if (n > CUDA_MAX_DEVICES) {
		snprintf(err, errlen, "%d CUDA devices, at most %d handled", n,
		    CUDA_MAX_DEVICES);
		return CUDA_FAILED;
	}
	for (int i = 0; i < n; i++)
		if (describe(&api, i, &p->dev[i], err, errlen) != 0)
			return CUDA_FAILED;
	p->ndevices = n;
	api_bound = 1;
	return CUDA_OK;
}

int cuda_load_kernels(char *err, size_t errlen)
{
	CUdevice dev;
	char call[128];
	if (!api_bound) {
		snprintf(err, errlen, "CUDA not probed");
		return -1;
	}
	cuda_close();
	CUresult rc = api.get(&dev, 0);
	if (rc != 0)
		return call_failed(err, errlen, "cuDeviceGet(0)", rc);
	if ((rc = api.ctx_create(&ctx_loaded, 0, dev)) != 0) {
		ctx_loaded = NULL;
		return call_failed(err, errlen, "cuCtxCreate", rc);
	}
	if ((rc = api.module_load(&mod_loaded, gv_kernels_ptx)) != 0) {
		mod_loaded = NULL;
		cuda_close();
		return call_failed(err, errlen,
		    "cuModuleLoadData of the embedded PTX", rc);
	}
	for (int i = 0; i < K_COUNT; i++) {
		rc = api.module_function(&fn_loaded[i], mod_loaded,
		    kernel_names[i]);
		if (rc != 0) {
			snprintf(call, sizeof(call), "cuModuleGetFunction(%s)",
			    kernel_names[i]);
			cuda_close();
			return call_failed(err, errlen, call, rc);
		}
	}
	return K_COUNT;
}

void cuda_close(void)
{
	if (mod_loaded != NULL)
		api.module_unload(mod_loaded);
	if (ctx_loaded != NULL)
		api.ctx_destroy(ctx_loaded);
	mod_loaded = NULL;
	ctx_loaded = NULL;
	memset(fn_loaded, 0, sizeof(fn_loaded));
}

int cuda_alloc(cuda_ptr *p, size_t bytes, char *err, size_t errlen)
{
	CUdeviceptr d = 0;
	CUresult rc = api.mem_alloc(&d, bytes);
	if (rc != 0) {
		char call[64];
		snprintf(call, sizeof(call), "cuMemAlloc(%zu bytes)", bytes);
		return call_failed(err, errlen, call, rc);
	}
	*p = d;
	return 0;
}

void cuda_free(cuda_ptr p)
{
	if (p != 0 && ctx_loaded != NULL)
		api.mem_free(p);
}

int cuda_upload(cuda_ptr dst, const void *src, size_t bytes, char *err,
    size_t errlen)
{
	CUresult rc = api.htod(dst, src, bytes);
	return rc == 0 ? 0 : call_failed(err, errlen, "cuMemcpyHtoD", rc);
}

int cuda_download(void *dst, cuda_ptr src, size_t bytes, char *err,
    size_t errlen)
{
	CUresult rc = api.dtoh(dst, src, bytes);
	return rc == 0 ? 0 : call_failed(err, errlen, "cuMemcpyDtoH", rc);
}

int cuda_launch(enum cuda_kernel k, unsigned gx, unsigned gy, unsigned bx,
    unsigned by, void **args, char *err, size_t errlen)
{
	CUresult rc = api.launch(fn_loaded[k], gx, gy, 1, bx, by, 1, 0, NULL,
	    args, NULL);
	if (rc == 0)
		return 0;
	char call[96];
	snprintf(call, sizeof(call), "cuLaunchKernel(%s, grid %ux%u, block "
	    "%ux%u)", kernel_names[k], gx, gy, bx, by);
	return call_failed(err, errlen, call, rc);
}

int cuda_sync(char *err, size_t errlen)
{
	CUresult rc = api.sync();
	return rc == 0 ? 0 : call_failed(err, errlen, "cuCtxSynchronize", rc);
}

static int visible_has(const struct cuda_probe *p, const char *uuid)
{
	for (int i = 0; i < p->ndevices; i++)
		if (strcmp(p->dev[i].uuid, uuid) == 0)
			return 1;
	return 0;
}

/* Checks one id of the list; UUIDs must be visible, indices and MIG ids
 * are counted only (CUDA renumbers devices from 0 inside a container and
 * names MIG instances differently across driver versions) */
static int check_id(const struct cuda_probe *p, const char *id, int *uuids,
    char *err, size_t errlen)
{
	if (strncmp(id, "GPU-", 4) == 0) {
		(*uuids)++;
		if (visible_has(p, id))
			return 0;
		snprintf(err, errlen, "allocation mismatch: NVIDIA_VISIBLE_DEVICES "
		    "names %s, which CUDA does not see", id);
		return -1;
	}
	if (strncmp(id, "MIG-", 4) == 0)
		return 0;
	for (const char *c = id; *c != '\0'; c++) {
		if (!isdigit((unsigned char)*c)) {
			snprintf(err, errlen, "NVIDIA_VISIBLE_DEVICES: \"%s\" is "
			    "neither a GPU-/MIG- UUID nor an index", id);
			return -1;
		}
	}
	return *id != '\0' ? 0 : (snprintf(err, errlen,
	    "NVIDIA_VISIBLE_DEVICES: empty id in the list"), -1);
}

/* Splits a comma-separated list (or the entries of the volume-mounts
 * directory) into ids written to buf, separated by commas */
static int volume_ids(const char *dir, char *buf, size_t len, char *err,
    size_t errlen)
{
	DIR *d = opendir(dir);
	if (d == NULL) {
		snprintf(err, errlen, "NVIDIA_VISIBLE_DEVICES=%s: cannot list "
		    "the volume-mounts directory", dir);
		return -1;
	}
	buf[0] = '\0';
	const struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || strcmp(e->d_name, "imex") == 0)
			continue;
		size_t used = strlen(buf);
		snprintf(buf + used, len - used, "%s%s", used ? "," : "",
		    e->d_name);
	}
	closedir(d);
	return 0;
}

int cuda_check_allocation(const struct cuda_probe *p, const char *nvd,
    char *err, size_t errlen, char *note, size_t notelen)
{
	if (nvd == NULL || *nvd == '\0' || strcmp(nvd, "void") == 0) {
		snprintf(note, notelen, "allocation not checked: "
		    "NVIDIA_VISIBLE_DEVICES is %s", nvd == NULL ? "unset" :
		    *nvd == '\0' ? "empty" : "void (devices came by CDI)");
		return 1;
	}
	if (strcmp(nvd, "all") == 0 || strcmp(nvd, "none") == 0) {
		int want_none = nvd[0] == 'n';
		if (want_none != (p->ndevices == 0)) {
			snprintf(err, errlen, "allocation mismatch: "
			    "NVIDIA_VISIBLE_DEVICES=%s but CUDA sees %d device%s",
			    nvd, p->ndevices, p->ndevices == 1 ? "" : "s");
			return -1;
		}
		snprintf(note, notelen, "allocation checked: %s, %d device%s",
		    nvd, p->ndevices, p->ndevices == 1 ? "" : "s");
		return 0;
	}
	char list[4096];
	if (nvd[0] == '/') {
		if (volume_ids(nvd, list, sizeof(list), err, errlen) != 0)
			return -1;
	} else {
		snprintf(list, sizeof(list), "%s", nvd);
	}
	int n = 0, uuids = 0;
	char *save = NULL;
	for (char *id = strtok_r(list, ",", &save); id != NULL;
	    id = strtok_r(NULL, ",", &save), n++)
		if (check_id(p, id, &uuids, err, errlen) != 0)
			return -1;
	if (n != p->ndevices) {
		snprintf(err, errlen, "allocation mismatch: NVIDIA_VISIBLE_DEVICES "
		    "names %d device%s, CUDA sees %d", n, n == 1 ? "" : "s",
		    p->ndevices);
		return -1;
	}
	snprintf(note, notelen, "allocation checked: %d device%s (%d by UUID)",
	    n, n == 1 ? "" : "s", uuids);
	return 0;
}
