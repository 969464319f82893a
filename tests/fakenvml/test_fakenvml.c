/*
 * test_fakenvml.c: the fake NVML library, loaded the way the plugin loads
 * the real one: dlopen() of the built libnvidia-ml.so.1 by path, entry
 * points found with dlsym() under the names nvml_types.h lists.
 *
 * It checks that every symbol is exported and nothing else is, that each
 * shipped profile describes its machine (names, UUIDs, memory, compute
 * capability, bus ids, NVLink peers), and NVML's rules: uninitialised
 * calls, reference-counted init that re-reads the profile after a full
 * shutdown, buffer sizes, bad handles, unknown UUIDs, failure modes
 * (init_error, a lost GPU, no profile, a malformed profile with its
 * file:line:key message) and event sets; and the control channel, driven
 * through a real FIFO while the library is in use: XID and ECC events,
 * lost and reset GPUs, wait errors, bad and split lines, shutdown; a
 * driver with no usable events (event_wait, supported_event_types); and
 * fault injection: FAKE_NVML_FAIL failing the Nth call, FAKE_NVML_TRACE
 * counting every entry point (also at exit, without a shutdown), and
 * FAKE_NVML_HIDE making dlsym() miss a name.
 *
 * Usage: test_fakenvml LIBRARY PROFILES_DIR (meson passes both).
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "nvml/nvml_types.h"

#define MAX_GPUS 8
#define NO_INSTANCE 0xFFFFFFFFu

static const char *lib_path;
static const char *profiles_dir;

/* The library's entry points, by the binding's names. */
static struct {
	void *dl;
/* NOLINTNEXTLINE(bugprone-macro-parentheses): |ret|, |args| are types. */
#define FN_FIELD(name, ret, args) ret(*name) args;
	GDP_NVML_FUNCTIONS(FN_FIELD)
#undef FN_FIELD
} nv;

/* What a shipped profile must describe. */
struct expect_gpu {
	const char *uuid;
	const char *bus_id;
	int numa_node;
};

struct expect {
	const char *file;
	const char *driver;
	int cuda;
	const char *name;
	unsigned long long memory_mib;
	int cc_major;
	int cc_minor;
	unsigned int pci_device_id;
	int mig_supported;
	unsigned int count;
	struct expect_gpu gpus[MAX_GPUS];
	unsigned int link_count;		/* the same for every GPU */
	const char *links[NVML_NVLINK_MAX_LINKS];
	unsigned int switch_device_id;
};

static const struct expect nc6 = {
	"azure-nc6.yaml", "470.256.02", 11040, "Tesla K80", 11441, 3, 7,
	0x102D10DE, 0, 1,
	{ { "GPU-3f6a9c12-7d41-4b2e-9a0c-5e81d2f4a701", "0000A3A1:00:00.0",
	    0 } },
	0, { NULL }, 0,
};

static const struct expect nc24 = {
	"azure-nc24.yaml", "470.256.02", 11040, "Tesla K80", 11441, 3, 7,
	0x102D10DE, 0, 4,
	{ { "GPU-8b21e4d7-0c3f-4a96-b1e5-2d7f90a3c412", "00004E1C:00:00.0",
	    0 },
	  { "GPU-c5d0a7f3-92b8-4e1d-8f64-a13b7e05d923", "00005F2D:00:00.0",
	    0 },
	  { "GPU-1e9f6b28-4a0d-4c73-95e2-f08c3d61b534", "0000802E:00:00.0",
	    1 },
	  { "GPU-74a3d915-e6c2-4f08-b3d7-59e1a08f2c45", "0000913F:00:00.0",
	    1 } },
	0, { NULL }, 0,
};

#define A100_SW(n) "0000000" #n ":00:00.0", "0000000" #n ":00:00.0"
static const struct expect nd96 = {
	"azure-nd96asr-v4.yaml", "535.183.01", 12020,
	"NVIDIA A100-SXM4-40GB", 40960, 8, 0, 0x20B010DE, 1, 8,
	{ { "GPU-2c7e5a19-83f4-4d0b-a6e1-97b3c0d8f511", "00000001:00:00.0",
	    0 },
	  { "GPU-6d1b9f04-2e7a-4c58-b3f9-0a4e8c61d722", "00000002:00:00.0",
	    0 },
	  { "GPU-a94f0c3e-5b12-47d6-8e2a-c3f17b9d0433", "00000003:00:00.0",
	    0 },
	  { "GPU-e07d3b85-c9a1-4f2e-9b54-61d8a2f0e744", "00000004:00:00.0",
	    0 },
	  { "GPU-13b8e6f2-0d5c-4a97-b1e3-f2c9d4a7b855", "0000000B:00:00.0",
	    1 },
	  { "GPU-58f2a0d7-e4b3-4169-a8c5-3d0e7f1c9966", "0000000C:00:00.0",
	    1 },
	  { "GPU-9c0e4d6a-7f21-4b83-95d0-b8a1e3f64a77", "0000000D:00:00.0",
	    1 },
	  { "GPU-d4a7c1e9-3b06-4e5f-8c92-07f5b2d3c188", "0000000E:00:00.0",
	    1 } },
	12,
	{ A100_SW(5), A100_SW(6), A100_SW(7), A100_SW(8), A100_SW(9),
	  A100_SW(A) },
	0x1AF110DE,
};
#undef A100_SW

#define H100_SW(n) "00000000:0" #n ":00.0"
static const struct expect dgx = {
	"dgx-h100.yaml", "550.90.07", 12040, "NVIDIA H100 80GB HBM3", 81559,
	9, 0, 0x233010DE, 1, 8,
	{ { "GPU-4e8b2d71-a0f3-4c96-8d1e-5b7a9c2f0e01", "00000000:1B:00.0",
	    0 },
	  { "GPU-b1f6c9a3-d725-4e08-9a4b-e0c3f8d16b12", "00000000:43:00.0",
	    0 },
	  { "GPU-7a3d0e58-16c4-4b2f-a7e9-c94b2d05f823", "00000000:52:00.0",
	    0 },
	  { "GPU-f25c8b1d-9e67-4a30-b8d2-37a0e6c1d934", "00000000:61:00.0",
	    0 },
	  { "GPU-03e9a7c6-4b1d-4f85-9c27-d16f5a8e2b45", "00000000:9D:00.0",
	    1 },
	  { "GPU-c8d14f92-7a3e-40b6-8e51-a2b9d0f73c56", "00000000:C3:00.0",
	    1 },
	  { "GPU-6b2a5e07-f8c1-4d9a-b364-0e7c1a9d8f67", "00000000:D1:00.0",
	    1 },
	  { "GPU-da70b3f4-25e9-4c1b-a8f6-9c3e4b02a178", "00000000:DF:00.0",
	    1 } },
	18,
	{ H100_SW(5), H100_SW(5), H100_SW(5), H100_SW(5), H100_SW(5),
	  H100_SW(6), H100_SW(6), H100_SW(6), H100_SW(6),
	  H100_SW(7), H100_SW(7), H100_SW(7), H100_SW(7),
	  H100_SW(8), H100_SW(8), H100_SW(8), H100_SW(8), H100_SW(8) },
	0x22A310DE,
};
#undef H100_SW

static const struct expect none = {
	"no-gpus.yaml", "550.90.07", 12040, NULL, 0, 0, 0, 0, 0, 0,
	{ { NULL, NULL, 0 } }, 0, { NULL }, 0,
};

/* Points FAKE_NVML_PROFILE at a shipped profile. */
static void
use_profile(const char *file)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", profiles_dir, file);
	assert_int_equal(setenv("FAKE_NVML_PROFILE", path, 1), 0);
}

static void
init_profile(const char *file)
{
	use_profile(file);
	assert_int_equal(nv.nvmlInit(), NVML_SUCCESS);
}

/* Shuts the library down completely, whatever its count. */
static int
shutdown_all(void **state)
{
	int n = 0;

	while (nv.nvmlShutdown() == NVML_SUCCESS)
		n++;
	return n < 100 ? 0 : -1;
}

/* Calls nvmlInit with stderr sent to |err|; returns its result. */
static nvmlReturn_t
init_capturing(char *err, size_t size)
{
	FILE *tmp = tmpfile();
	nvmlReturn_t rc;
	int saved;
	size_t n;

	assert_non_null(tmp);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	rc = nv.nvmlInit();
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(tmp);
	n = fread(err, 1, size - 1, tmp);
	err[n] = '\0';
	fclose(tmp);
	return rc;
}

/* Writes |text| to a new temporary file whose name goes in |path|. */
static void
write_temp(char *path, size_t size, const char *text)
{
	int fd;

	snprintf(path, size, "%s/fakenvml-XXXXXX", P_tmpdir);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static nvmlDevice_t
handle(unsigned int index)
{
	nvmlDevice_t dev = NULL;

	assert_int_equal(nv.nvmlDeviceGetHandleByIndex(index, &dev),
	    NVML_SUCCESS);
	assert_non_null(dev);
	return dev;
}

/* Asserts that |name| (unless NULL) is exported. */
static void
check_symbol(const char *name)
{
	if (name != NULL && dlsym(nv.dl, name) == NULL)
		fail_msg("%s is not exported", name);
}

static void
test_exports(void **state)
{
#define CHECK_SYMBOLS(name, newest, oldest) \
	check_symbol(newest); \
	check_symbol(oldest);
	GDP_NVML_SYMBOLS(CHECK_SYMBOLS)
#undef CHECK_SYMBOLS
	/* Internals stay hidden. */
	assert_null(dlsym(nv.dl, "fake_machine"));
	assert_null(dlsym(nv.dl, "fake_profile_load"));
	assert_null(dlsym(nv.dl, "fake_event_post"));
	assert_null(dlsym(nv.dl, "fake_check_device"));
}

static void
test_uninitialized(void **state)
{
	nvmlDevice_t dev = NULL;
	nvmlEventSet_t set = NULL;
	unsigned int count;
	char buf[128];
	int v;

	assert_int_equal(nv.nvmlDeviceGetCount(&count),
	    NVML_ERROR_UNINITIALIZED);
	assert_int_equal(nv.nvmlDeviceGetHandleByIndex(0, &dev),
	    NVML_ERROR_UNINITIALIZED);
	assert_int_equal(nv.nvmlDeviceGetHandleByUUID("GPU-x", &dev),
	    NVML_ERROR_UNINITIALIZED);
	assert_int_equal(nv.nvmlSystemGetDriverVersion(buf, sizeof(buf)),
	    NVML_ERROR_UNINITIALIZED);
	assert_int_equal(nv.nvmlSystemGetCudaDriverVersion(&v),
	    NVML_ERROR_UNINITIALIZED);
	assert_int_equal(nv.nvmlDeviceGetName(dev, buf, sizeof(buf)),
	    NVML_ERROR_UNINITIALIZED);
	assert_int_equal(nv.nvmlEventSetCreate(&set),
	    NVML_ERROR_UNINITIALIZED);
	assert_int_equal(nv.nvmlShutdown(), NVML_ERROR_UNINITIALIZED);
	/* The one call that needs no init. */
	assert_string_equal(nv.nvmlErrorString(NVML_ERROR_GPU_IS_LOST),
	    "GPU is lost");
	assert_string_equal(nv.nvmlErrorString(NVML_ERROR_UNINITIALIZED),
	    "Uninitialized");
	assert_string_equal(nv.nvmlErrorString((nvmlReturn_t)12345),
	    "Unknown Error");
}

static void
test_error_strings(void **state)
{
	int code;

	for (code = 0; code <= NVML_ERROR_INVALID_STATE; code++) {
		const char *s = nv.nvmlErrorString((nvmlReturn_t)code);

		assert_non_null(s);
		assert_true(strlen(s) > 0);
		assert_string_not_equal(s, "Unknown Error");
	}
	assert_string_equal(nv.nvmlErrorString(NVML_ERROR_UNKNOWN),
	    "Unknown Error");
}

static void
check_system(const struct expect *e)
{
	char buf[NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE];
	unsigned int count = 99;
	int cuda = 0;

	assert_int_equal(nv.nvmlSystemGetDriverVersion(buf, sizeof(buf)),
	    NVML_SUCCESS);
	assert_string_equal(buf, e->driver);
	assert_int_equal(nv.nvmlSystemGetCudaDriverVersion(&cuda),
	    NVML_SUCCESS);
	assert_int_equal(cuda, e->cuda);
	assert_int_equal(nv.nvmlDeviceGetCount(&count), NVML_SUCCESS);
	assert_int_equal(count, e->count);
}

static void
check_identity(const struct expect *e, unsigned int i, nvmlDevice_t dev)
{
	char buf[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
	nvmlDevice_t by_uuid = NULL;
	nvmlMemory_t mem;
	unsigned int u;
	int major, minor;

	assert_int_equal(nv.nvmlDeviceGetName(dev, buf, sizeof(buf)),
	    NVML_SUCCESS);
	assert_string_equal(buf, e->name);
	assert_int_equal(nv.nvmlDeviceGetUUID(dev, buf, sizeof(buf)),
	    NVML_SUCCESS);
	assert_string_equal(buf, e->gpus[i].uuid);
	assert_int_equal(nv.nvmlDeviceGetHandleByUUID(buf, &by_uuid),
	    NVML_SUCCESS);
	assert_ptr_equal(by_uuid, dev);
	assert_int_equal(nv.nvmlDeviceGetIndex(dev, &u), NVML_SUCCESS);
	assert_int_equal(u, i);
	assert_int_equal(nv.nvmlDeviceGetMinorNumber(dev, &u), NVML_SUCCESS);
	assert_int_equal(u, i);
	assert_int_equal(nv.nvmlDeviceGetMemoryInfo(dev, &mem), NVML_SUCCESS);
	assert_int_equal(mem.total, e->memory_mib * 1024 * 1024);
	assert_int_equal(mem.free + mem.used, mem.total);
	assert_int_equal(nv.nvmlDeviceGetCudaComputeCapability(dev, &major,
	    &minor), NVML_SUCCESS);
	assert_int_equal(major, e->cc_major);
	assert_int_equal(minor, e->cc_minor);
}

static void
check_pci(const struct expect *e, unsigned int i, nvmlDevice_t dev)
{
	nvmlReturn_t (*v1)(nvmlDevice_t, nvmlPciInfoV1_t *) =
	    (nvmlReturn_t(*)(nvmlDevice_t, nvmlPciInfoV1_t *))
	    dlsym(nv.dl, "nvmlDeviceGetPciInfo");
	const char *bus = e->gpus[i].bus_id;
	nvmlPciInfoV1_t old;
	nvmlPciInfo_t pci;

	assert_int_equal(nv.nvmlDeviceGetPciInfo(dev, &pci), NVML_SUCCESS);
	assert_string_equal(pci.busId, bus);
	/* The legacy forms keep the last four domain digits. */
	assert_string_equal(pci.busIdLegacy, bus + 4);
	assert_int_equal(pci.domain, strtoul(bus, NULL, 16));
	assert_int_equal(pci.bus, strtoul(bus + 9, NULL, 16));
	assert_int_equal(pci.device, 0);
	assert_int_equal(pci.pciDeviceId, e->pci_device_id);
	assert_int_equal(nv.nvmlDeviceGetPciInfoV1(dev, &old), NVML_SUCCESS);
	assert_string_equal(old.busId, bus + 4);
	assert_int_equal(old.pciDeviceId, e->pci_device_id);
	assert_non_null(v1);
	assert_int_equal(v1(dev, &old), NVML_SUCCESS);
}

static void
check_links(const struct expect *e, nvmlDevice_t dev)
{
	nvmlEnableState_t state;
	nvmlPciInfo_t pci;
	unsigned int l;

	if (e->link_count == 0) {
		assert_int_equal(nv.nvmlDeviceGetNvLinkState(dev, 0, &state),
		    NVML_ERROR_NOT_SUPPORTED);
		return;
	}
	for (l = 0; l < NVML_NVLINK_MAX_LINKS; l++) {
		assert_int_equal(nv.nvmlDeviceGetNvLinkState(dev, l, &state),
		    NVML_SUCCESS);
		assert_int_equal(state, l < e->link_count ?
		    NVML_FEATURE_ENABLED : NVML_FEATURE_DISABLED);
		if (l >= e->link_count)
			continue;
		assert_int_equal(nv.nvmlDeviceGetNvLinkRemotePciInfo(dev, l,
		    &pci), NVML_SUCCESS);
		assert_string_equal(pci.busId, e->links[l]);
		assert_int_equal(pci.pciDeviceId, e->switch_device_id);
	}
	assert_int_equal(nv.nvmlDeviceGetNvLinkState(dev,
	    NVML_NVLINK_MAX_LINKS, &state), NVML_ERROR_INVALID_ARGUMENT);
}

static void
check_mig(const struct expect *e, nvmlDevice_t dev)
{
	unsigned int cur = 9, pend = 9;
	nvmlReturn_t rc = nv.nvmlDeviceGetMigMode(dev, &cur, &pend);

	if (!e->mig_supported) {
		assert_int_equal(rc, NVML_ERROR_NOT_SUPPORTED);
		return;
	}
	assert_int_equal(rc, NVML_SUCCESS);
	assert_int_equal(cur, NVML_DEVICE_MIG_DISABLE);
	assert_int_equal(pend, NVML_DEVICE_MIG_DISABLE);
}

/* One shipped profile: everything discovery reads, GPU by GPU. */
static void
test_profile(void **state)
{
	const struct expect *e = *state;
	unsigned int i;
	nvmlDevice_t dev;

	init_profile(e->file);
	check_system(e);
	for (i = 0; i < e->count; i++) {
		dev = handle(i);
		check_identity(e, i, dev);
		check_pci(e, i, dev);
		check_links(e, dev);
		check_mig(e, dev);
	}
	assert_int_equal(nv.nvmlDeviceGetHandleByIndex(e->count, &dev),
	    NVML_ERROR_INVALID_ARGUMENT);
	assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
}

static void
test_refcount(void **state)
{
	unsigned int count;

	nvmlReturn_t (*init_v1)(void) =
	    (nvmlReturn_t(*)(void))dlsym(nv.dl, "nvmlInit");

	init_profile(nc6.file);
	assert_non_null(init_v1);
	assert_int_equal(init_v1(), NVML_SUCCESS);
	assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
	assert_int_equal(nv.nvmlDeviceGetCount(&count), NVML_SUCCESS);
	assert_int_equal(count, 1);
	assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
	assert_int_equal(nv.nvmlDeviceGetCount(&count),
	    NVML_ERROR_UNINITIALIZED);
	assert_int_equal(nv.nvmlShutdown(), NVML_ERROR_UNINITIALIZED);
}

/* The profile is read by the first init of a cycle, and only then. */
static void
test_reread(void **state)
{
	unsigned int count;
	nvmlDevice_t stale;

	init_profile(dgx.file);
	stale = handle(5);
	use_profile(nc6.file);
	assert_int_equal(nv.nvmlInit(), NVML_SUCCESS);
	assert_int_equal(nv.nvmlDeviceGetCount(&count), NVML_SUCCESS);
	assert_int_equal(count, 8);
	shutdown_all(NULL);
	assert_int_equal(nv.nvmlInit(), NVML_SUCCESS);
	assert_int_equal(nv.nvmlDeviceGetCount(&count), NVML_SUCCESS);
	assert_int_equal(count, 1);
	/* A handle from the old machine is no longer valid. */
	assert_int_equal(nv.nvmlDeviceGetMinorNumber(stale, &count),
	    NVML_ERROR_INVALID_ARGUMENT);
	assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
}

static void
test_buffer_sizes(void **state)
{
	char buf[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
	const char *uuid = nc6.gpus[0].uuid;
	nvmlDevice_t dev;

	init_profile(nc6.file);
	dev = handle(0);
	assert_int_equal(nv.nvmlDeviceGetName(dev, buf, 9),
	    NVML_ERROR_INSUFFICIENT_SIZE);
	assert_int_equal(nv.nvmlDeviceGetName(dev, buf, 10), NVML_SUCCESS);
	assert_string_equal(buf, "Tesla K80");
	assert_int_equal(nv.nvmlDeviceGetUUID(dev, buf, strlen(uuid)),
	    NVML_ERROR_INSUFFICIENT_SIZE);
	assert_int_equal(nv.nvmlDeviceGetUUID(dev, buf, strlen(uuid) + 1),
	    NVML_SUCCESS);
	assert_int_equal(nv.nvmlSystemGetDriverVersion(buf, 4),
	    NVML_ERROR_INSUFFICIENT_SIZE);
	assert_int_equal(nv.nvmlSystemGetDriverVersion(buf, 0),
	    NVML_ERROR_INSUFFICIENT_SIZE);
}

static void
test_bad_arguments(void **state)
{
	nvmlDevice_t dev, fake;
	unsigned int u;
	char buf[96];
	int i;

	init_profile(nc24.file);
	dev = handle(3);
	fake = (nvmlDevice_t)(void *)&i;
	assert_int_equal(nv.nvmlDeviceGetHandleByIndex(4, &dev),
	    NVML_ERROR_INVALID_ARGUMENT);
	assert_int_equal(nv.nvmlDeviceGetHandleByIndex(0, NULL),
	    NVML_ERROR_INVALID_ARGUMENT);
	assert_int_equal(nv.nvmlDeviceGetCount(NULL),
	    NVML_ERROR_INVALID_ARGUMENT);
	assert_int_equal(nv.nvmlDeviceGetName(NULL, buf, sizeof(buf)),
	    NVML_ERROR_INVALID_ARGUMENT);
	assert_int_equal(nv.nvmlDeviceGetName(fake, buf, sizeof(buf)),
	    NVML_ERROR_INVALID_ARGUMENT);
	assert_int_equal(nv.nvmlDeviceGetMinorNumber(
	    (nvmlDevice_t)(void *)((char *)dev + 1), &u),
	    NVML_ERROR_INVALID_ARGUMENT);
	assert_int_equal(nv.nvmlDeviceGetName(dev, NULL, sizeof(buf)),
	    NVML_ERROR_INVALID_ARGUMENT);
	assert_int_equal(nv.nvmlDeviceGetMinorNumber(dev, NULL),
	    NVML_ERROR_INVALID_ARGUMENT);
	assert_int_equal(nv.nvmlDeviceGetPciInfo(dev, NULL),
	    NVML_ERROR_INVALID_ARGUMENT);
	assert_int_equal(nv.nvmlDeviceGetMemoryInfo(dev, NULL),
	    NVML_ERROR_INVALID_ARGUMENT);
	assert_int_equal(nv.nvmlDeviceGetCudaComputeCapability(dev, &i, NULL),
	    NVML_ERROR_INVALID_ARGUMENT);
	assert_int_equal(nv.nvmlSystemGetDriverVersion(NULL, 80),
	    NVML_ERROR_INVALID_ARGUMENT);
	assert_int_equal(nv.nvmlDeviceGetHandleByUUID(NULL, &dev),
	    NVML_ERROR_INVALID_ARGUMENT);
	assert_int_equal(nv.nvmlDeviceGetHandleByUUID(
	    "GPU-00000000-0000-0000-0000-000000000000", &dev),
	    NVML_ERROR_NOT_FOUND);
	assert_int_equal(nv.nvmlDeviceGetHandleByUUID(nc6.gpus[0].uuid, &dev),
	    NVML_ERROR_NOT_FOUND);
}

static void
test_no_gpus(void **state)
{
	nvmlDevice_t dev;

	init_profile(none.file);
	check_system(&none);
	assert_int_equal(nv.nvmlDeviceGetHandleByIndex(0, &dev),
	    NVML_ERROR_INVALID_ARGUMENT);
}

static void
test_init_error(void **state)
{
	unsigned int count;

	use_profile("init-fails.yaml");
	assert_int_equal(nv.nvmlInit(), NVML_ERROR_DRIVER_NOT_LOADED);
	assert_int_equal(nv.nvmlDeviceGetCount(&count),
	    NVML_ERROR_UNINITIALIZED);
	assert_int_equal(nv.nvmlShutdown(), NVML_ERROR_UNINITIALIZED);
}

static void
test_lost_gpu(void **state)
{
	nvmlDevice_t good, lost;
	nvmlEventSet_t set;
	unsigned long long types;
	nvmlMemory_t mem;
	nvmlPciInfo_t pci;
	char buf[96];
	unsigned int u;

	init_profile("lost-gpu.yaml");
	assert_int_equal(nv.nvmlDeviceGetCount(&u), NVML_SUCCESS);
	assert_int_equal(u, 2);
	good = handle(0);
	lost = handle(1);
	assert_int_equal(nv.nvmlDeviceGetName(good, buf, sizeof(buf)),
	    NVML_SUCCESS);
	assert_int_equal(nv.nvmlDeviceGetName(lost, buf, sizeof(buf)),
	    NVML_ERROR_GPU_IS_LOST);
	assert_int_equal(nv.nvmlDeviceGetUUID(lost, buf, sizeof(buf)),
	    NVML_ERROR_GPU_IS_LOST);
	assert_int_equal(nv.nvmlDeviceGetMinorNumber(lost, &u),
	    NVML_ERROR_GPU_IS_LOST);
	assert_int_equal(nv.nvmlDeviceGetPciInfo(lost, &pci),
	    NVML_ERROR_GPU_IS_LOST);
	assert_int_equal(nv.nvmlDeviceGetMemoryInfo(lost, &mem),
	    NVML_ERROR_GPU_IS_LOST);
	assert_int_equal(nv.nvmlDeviceGetMigMode(lost, &u, &u),
	    NVML_ERROR_GPU_IS_LOST);
	assert_int_equal(nv.nvmlDeviceGetSupportedEventTypes(lost, &types),
	    NVML_ERROR_GPU_IS_LOST);
	assert_int_equal(nv.nvmlEventSetCreate(&set), NVML_SUCCESS);
	assert_int_equal(nv.nvmlDeviceRegisterEvents(lost,
	    nvmlEventTypeXidCriticalError, set), NVML_ERROR_GPU_IS_LOST);
	assert_int_equal(nv.nvmlEventSetFree(set), NVML_SUCCESS);
}

static void
test_missing_env(void **state)
{
	char err[1024];

	assert_int_equal(unsetenv("FAKE_NVML_PROFILE"), 0);
	assert_int_equal(init_capturing(err, sizeof(err)),
	    NVML_ERROR_DRIVER_NOT_LOADED);
	assert_non_null(strstr(err, "FAKE_NVML_PROFILE"));
	assert_int_equal(setenv("FAKE_NVML_PROFILE", "", 1), 0);
	assert_int_equal(init_capturing(err, sizeof(err)),
	    NVML_ERROR_DRIVER_NOT_LOADED);
	use_profile("no-such-profile.yaml");
	assert_int_equal(init_capturing(err, sizeof(err)),
	    NVML_ERROR_DRIVER_NOT_LOADED);
	assert_non_null(strstr(err, "no-such-profile.yaml"));
}

/* A malformed profile and the message it must give, after the file. */
struct bad_profile {
	const char *text;
	const char *where;	/* ":LINE: KEY: reason" */
};

#define GOOD_TOP "driver_version: \"550.90.07\"\ncuda_driver_version: 12.4\n"
#define GOOD_GPU(uuid, bus, minor) \
	"  - name: Tesla T4\n    uuid: " uuid "\n    memory_mib: 15360\n" \
	"    pci_bus_id: \"" bus "\"\n    minor_number: " minor "\n" \
	"    compute_capability: \"7.5\"\n"
#define UUID_A "GPU-0d4c8e21-7b3f-4a59-9c16-e8f2a5b03d78"
#define UUID_B "GPU-9f7a1b36-c2e8-4d04-b5a1-3e6d0c94f289"

static const struct bad_profile bad_profiles[] = {
	{ GOOD_TOP "gpus:\n" GOOD_GPU(UUID_A, "00000001:00:00.0", "0")
	    "    memory_mib: 1\n", ":10: gpus[0].memory_mib: given twice" },
	{ GOOD_TOP "gpus:\n  - name: Tesla T4\n    uuid: " UUID_A "\n"
	    "    memory_mib: lots\n", ":6: gpus[0].memory_mib: 'lots'" },
	{ GOOD_TOP "gpus:\n" GOOD_GPU(UUID_A, "00000001:00:00.0", "0")
	    "    colour: green\n", ":10: gpus[0].colour: unknown key" },
	{ GOOD_TOP "gpus:\n  - name: Tesla T4\n    memory_mib: 1\n"
	    "    pci_bus_id: \"00000001:00:00.0\"\n    minor_number: 0\n"
	    "    compute_capability: \"7.5\"\n", ":4: gpus[0].uuid: missing" },
	{ GOOD_TOP "gpus:\n" GOOD_GPU("GPU-1234", "00000001:00:00.0", "0"),
	    ":5: gpus[0].uuid: 'GPU-1234'" },
	{ GOOD_TOP "gpus:\n" GOOD_GPU(UUID_A, "0000:3b:00.0", "0"),
	    ":7: gpus[0].pci_bus_id:" },
	{ GOOD_TOP "gpus:\n  - name: Tesla T4\n    compute_capability: 8\n",
	    ":5: gpus[0].compute_capability: '8' is not MAJOR.MINOR" },
	{ GOOD_TOP "gpus:\n" GOOD_GPU(UUID_A, "00000001:00:00.0", "0")
	    "    nvlinks: [\"00000009:00:00.0\"]\n",
	    ": gpus[0].nvlinks[0]: 00000009:00:00.0 is not a GPU" },
	{ GOOD_TOP "gpus:\n" GOOD_GPU(UUID_A, "00000001:00:00.0", "0")
	    "    pcie_path: []\n",
	    ":10: gpus[0].pcie_path: must name the host bridge" },
	{ GOOD_TOP "gpus:\n" GOOD_GPU(UUID_A, "00000001:00:00.0", "0")
	    "    pcie_path: [hb, a, b, c, d]\n", ":10: gpus[0].pcie_path:" },
	{ GOOD_TOP "gpus:\n" GOOD_GPU(UUID_A, "00000001:00:00.0", "0")
	    "    pcie_path: [hb, [sw]]\n",
	    ":10: gpus[0].pcie_path[1]: expected a single value" },
	{ GOOD_TOP "gpus:\n" GOOD_GPU(UUID_A, "00000001:00:00.0", "0")
	    GOOD_GPU(UUID_A, "00000002:00:00.0", "1"),
	    ": gpus[1].uuid: the same as gpus[0]'s" },
	{ GOOD_TOP "gpus:\n" GOOD_GPU(UUID_A, "00000001:00:00.0", "0")
	    GOOD_GPU(UUID_B, "00000002:00:00.0", "0"),
	    ": gpus[1].minor_number" },
	{ GOOD_TOP "init_error: NVML_ERROR_BROKEN\n", ":3: init_error:" },
	{ GOOD_TOP "event_wait: sometimes\n",
	    ":3: event_wait: 'sometimes' is not block, immediate-timeout" },
	{ GOOD_TOP "event_wait: [block]\n",
	    ":3: event_wait: expected a single value" },
	{ GOOD_TOP "supported_event_types: 0x4\n",
	    ":3: supported_event_types: 0x4 is not within 0xB" },
	{ GOOD_TOP "supported_event_types: none\n",
	    ":3: supported_event_types: 'none' is not a number" },
	{ GOOD_TOP "gpus:\n" GOOD_GPU(UUID_A, "00000001:00:00.0", "0")
	    "    lost: maybe\n", ":10: gpus[0].lost: 'maybe'" },
	{ "driver_version: \"550.90.07\"\n",
	    ":1: cuda_driver_version: missing" },
	{ GOOD_TOP "gpus: [\n", ":4: YAML error: did not find" },
	{ "- just\n- a list\n", ":1: expected KEY: VALUE lines" },
	{ "", ": the profile is empty" },
};

static void
test_malformed(void **state)
{
	char path[256], err[2048], want[512];
	size_t i;


	for (i = 0; i < sizeof(bad_profiles) / sizeof(bad_profiles[0]); i++) {
		write_temp(path, sizeof(path), bad_profiles[i].text);
		assert_int_equal(setenv("FAKE_NVML_PROFILE", path, 1), 0);
		assert_int_equal(init_capturing(err, sizeof(err)),
		    NVML_ERROR_UNKNOWN);
		unlink(path);
		snprintf(want, sizeof(want), "fakenvml: %s%s", path,
		    bad_profiles[i].where);
		if (strstr(err, want) == NULL)
			fail_msg("case %zu: wanted '%s', got '%s'", i, want,
			    err);
	}
}

/* A minimal profile with one MIG-enabled GPU. */
static void
test_mig(void **state)
{
	char path[256];
	nvmlDevice_t dev, mig;
	nvmlDeviceAttributes_t attr;
	unsigned int u, cur, pend;

	write_temp(path, sizeof(path), GOOD_TOP "gpus:\n"
	    GOOD_GPU(UUID_A, "00000001:00:00.0", "0")
	    "    mig_mode: enabled\n");
	assert_int_equal(setenv("FAKE_NVML_PROFILE", path, 1), 0);
	assert_int_equal(nv.nvmlInit(), NVML_SUCCESS);
	unlink(path);
	dev = handle(0);
	assert_int_equal(nv.nvmlDeviceGetMigMode(dev, &cur, &pend),
	    NVML_SUCCESS);
	assert_int_equal(cur, NVML_DEVICE_MIG_ENABLE);
	assert_int_equal(nv.nvmlDeviceGetMaxMigDeviceCount(dev, &u),
	    NVML_SUCCESS);
	assert_int_equal(u, 7);
	assert_int_equal(nv.nvmlDeviceGetMigDeviceHandleByIndex(dev, 0, &mig),
	    NVML_ERROR_NOT_FOUND);
	assert_int_equal(nv.nvmlDeviceGetMigDeviceHandleByIndex(dev, 7, &mig),
	    NVML_ERROR_INVALID_ARGUMENT);
	assert_int_equal(nv.nvmlDeviceIsMigDeviceHandle(dev, &u),
	    NVML_SUCCESS);
	assert_int_equal(u, 0);
	assert_int_equal(nv.nvmlDeviceGetDeviceHandleFromMigDeviceHandle(dev,
	    &mig), NVML_ERROR_INVALID_ARGUMENT);
	assert_int_equal(nv.nvmlDeviceGetGpuInstanceId(dev, &u),
	    NVML_ERROR_NOT_SUPPORTED);
	assert_int_equal(nv.nvmlDeviceGetComputeInstanceId(dev, &u),
	    NVML_ERROR_NOT_SUPPORTED);
	assert_int_equal(nv.nvmlDeviceGetAttributes(dev, &attr),
	    NVML_ERROR_NOT_SUPPORTED);
}

static void
test_topology(void **state)
{
	nvmlGpuTopologyLevel_t level = NVML_TOPOLOGY_SYSTEM;

	init_profile(dgx.file);
	assert_int_equal(nv.nvmlDeviceGetTopologyCommonAncestor(handle(0),
	    handle(0), &level), NVML_SUCCESS);
	assert_int_equal(level, 0);	/* INTERNAL */
	assert_int_equal(nv.nvmlDeviceGetTopologyCommonAncestor(handle(0),
	    handle(3), &level), NVML_SUCCESS);
	assert_int_equal(level, 40);	/* NODE */
	assert_int_equal(nv.nvmlDeviceGetTopologyCommonAncestor(handle(0),
	    handle(4), &level), NVML_SUCCESS);
	assert_int_equal(level, 50);	/* SYSTEM */
	assert_int_equal(nv.nvmlDeviceGetTopologyCommonAncestor(handle(0),
	    handle(4), NULL), NVML_ERROR_INVALID_ARGUMENT);
}

/* Levels from pcie_path, the remote types of links: a profile of ours. */
static void
test_pcie_path(void **state)
{
	static const struct { unsigned a, b; nvmlGpuTopologyLevel_t want; }
	    pairs[] = {
		{ 0, 1, NVML_TOPOLOGY_SINGLE }, { 0, 2, NVML_TOPOLOGY_MULTIPLE },
		{ 4, 6, NVML_TOPOLOGY_HOSTBRIDGE }, { 4, 7, NVML_TOPOLOGY_NODE },
		{ 0, 4, NVML_TOPOLOGY_SYSTEM }, { 3, 3, NVML_TOPOLOGY_INTERNAL },
	};
	nvmlGpuTopologyLevel_t level;
	nvmlIntNvLinkDeviceType_t type;

	init_profile("pcie-2s-8gpu.yaml");
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		assert_int_equal(nv.nvmlDeviceGetTopologyCommonAncestor(
		    handle(pairs[i].a), handle(pairs[i].b), &level),
		    NVML_SUCCESS);
		assert_int_equal(level, pairs[i].want);
	}
	assert_int_equal(nv.nvmlDeviceGetNvLinkRemoteDeviceType(handle(0), 0,
	    &type), NVML_ERROR_NOT_SUPPORTED);
	shutdown_all(state);
	init_profile(dgx.file);
	assert_int_equal(nv.nvmlDeviceGetNvLinkRemoteDeviceType(handle(0), 0,
	    &type), NVML_SUCCESS);
	assert_int_equal(type, NVML_NVLINK_DEVICE_TYPE_SWITCH);
	assert_int_equal(nv.nvmlDeviceGetNvLinkRemoteDeviceType(handle(0),
	    NVML_NVLINK_MAX_LINKS, &type), NVML_ERROR_INVALID_ARGUMENT);
	shutdown_all(state);
	init_profile("dgx1-v100.yaml");
	assert_int_equal(nv.nvmlDeviceGetNvLinkRemoteDeviceType(handle(0), 0,
	    &type), NVML_SUCCESS);
	assert_int_equal(type, NVML_NVLINK_DEVICE_TYPE_GPU);
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
test_event_timeout(void **state)
{
	unsigned long long types = 0;
	nvmlEventSet_t set = NULL;
	nvmlEventData_t data;
	nvmlDevice_t dev;
	long long t0;

	init_profile(nc6.file);
	dev = handle(0);
	assert_int_equal(nv.nvmlEventSetCreate(&set), NVML_SUCCESS);
	assert_int_equal(nv.nvmlDeviceGetSupportedEventTypes(dev, &types),
	    NVML_SUCCESS);
	assert_int_equal(types, nvmlEventTypeXidCriticalError |
	    nvmlEventTypeSingleBitEccError | nvmlEventTypeDoubleBitEccError);
	assert_int_equal(nv.nvmlDeviceRegisterEvents(dev, types, set),
	    NVML_SUCCESS);
	assert_int_equal(nv.nvmlDeviceRegisterEvents(dev,
	    nvmlEventTypePState, set), NVML_ERROR_NOT_SUPPORTED);
	t0 = now_ms();
	assert_int_equal(nv.nvmlEventSetWait(set, &data, 100),
	    NVML_ERROR_TIMEOUT);
	assert_true(now_ms() - t0 >= 100);
	assert_true(now_ms() - t0 < 2000);
	assert_int_equal(nv.nvmlEventSetWait(set, &data, 0),
	    NVML_ERROR_TIMEOUT);
	assert_int_equal(nv.nvmlEventSetWait(set, NULL, 0),
	    NVML_ERROR_INVALID_ARGUMENT);
	assert_int_equal(nv.nvmlEventSetWait((nvmlEventSet_t)(void *)&t0,
	    &data, 0), NVML_ERROR_INVALID_ARGUMENT);
	assert_int_equal(nv.nvmlEventSetFree(set), NVML_SUCCESS);
	assert_int_equal(nv.nvmlEventSetFree(set),
	    NVML_ERROR_INVALID_ARGUMENT);
}

static void
expect_xid(nvmlEventSet_t set, nvmlDevice_t dev, unsigned long long xid)
{
	nvmlEventData_t data;

	memset(&data, 0, sizeof(data));
	assert_int_equal(nv.nvmlEventSetWait(set, &data, 1000), NVML_SUCCESS);
	assert_ptr_equal(data.device, dev);
	assert_int_equal(data.eventType, nvmlEventTypeXidCriticalError);
	assert_int_equal(data.eventData, xid);
	assert_int_equal(data.gpuInstanceId, NO_INSTANCE);
	assert_int_equal(data.computeInstanceId, NO_INSTANCE);
}

/* The old ABI's nvmlEventData_t ends after eventData: every byte past it
 * must still be 0xAA. */
static void
check_untouched_past_v1(const nvmlEventData_t *data)
{
	const unsigned char *p = (const unsigned char *)data;
	size_t i;

	for (i = offsetof(nvmlEventData_t, eventData) +
	    sizeof(data->eventData); i < sizeof(*data); i++)
		if (p[i] != 0xAA)
			fail_msg("byte %zu past the v1 fields written", i);
}

/* xid-gpu.yaml: GPU 1 reports XIDs 79 and 48 once registered. */
static void
test_pending_xids(void **state)
{
	unsigned long long xid = nvmlEventTypeXidCriticalError;
	nvmlEventSet_t set = NULL, other = NULL;
	nvmlEventData_t data;

	init_profile("xid-gpu.yaml");
	assert_int_equal(nv.nvmlEventSetCreate(&set), NVML_SUCCESS);
	assert_int_equal(nv.nvmlEventSetCreate(&other), NVML_SUCCESS);
	assert_int_equal(nv.nvmlDeviceRegisterEvents(handle(0), xid, set),
	    NVML_SUCCESS);
	assert_int_equal(nv.nvmlEventSetWait(set, &data, 20),
	    NVML_ERROR_TIMEOUT);
	assert_int_equal(nv.nvmlDeviceRegisterEvents(handle(1), xid, set),
	    NVML_SUCCESS);
	/* Registering again delivers nothing twice. */
	assert_int_equal(nv.nvmlDeviceRegisterEvents(handle(1), xid, set),
	    NVML_SUCCESS);
	expect_xid(set, handle(1), 79);
	expect_xid(set, handle(1), 48);
	assert_int_equal(nv.nvmlEventSetWait(set, &data, 20),
	    NVML_ERROR_TIMEOUT);
	/* ECC alone does not get the XIDs; the v1 Wait writes v1 fields. */
	assert_int_equal(nv.nvmlDeviceRegisterEvents(handle(1),
	    nvmlEventTypeDoubleBitEccError, other), NVML_SUCCESS);
	assert_int_equal(nv.nvmlEventSetWait(other, &data, 0),
	    NVML_ERROR_TIMEOUT);
	assert_int_equal(nv.nvmlDeviceRegisterEvents(handle(1), xid, other),
	    NVML_SUCCESS);
	memset(&data, 0xAA, sizeof(data));
	assert_int_equal(nv.nvmlEventSetWaitV1(other,
	    (nvmlEventDataV1_t *)&data, 0), NVML_SUCCESS);
	assert_ptr_equal(data.device, handle(1));
	assert_int_equal(data.eventType, nvmlEventTypeXidCriticalError);
	assert_int_equal(data.eventData, 79);
	check_untouched_past_v1(&data);
	assert_int_equal(nv.nvmlEventSetFree(set), NVML_SUCCESS);
	assert_int_equal(nv.nvmlEventSetFree(other), NVML_SUCCESS);
}

struct waiter {
	nvmlEventSet_t set;
	nvmlEventData_t data;
	nvmlReturn_t rc;
};

static void *
wait_thread(void *arg)
{
	struct waiter *w = arg;

	w->rc = nv.nvmlEventSetWait(w->set, &w->data, 5000);
	return NULL;
}

/* The plugin waits on its own thread: an event queued by the main thread
 * while the waiter sleeps reaches it. */
static void
test_wait_from_thread(void **state)
{
	struct waiter w = { .set = NULL };
	struct timespec pause = { 0, 50000000L };	/* 50 ms */
	pthread_t thread;
	long long t0;

	init_profile("xid-gpu.yaml");
	assert_int_equal(nv.nvmlEventSetCreate(&w.set), NVML_SUCCESS);
	assert_int_equal(nv.nvmlDeviceRegisterEvents(handle(0),
	    nvmlEventTypeXidCriticalError, w.set), NVML_SUCCESS);
	t0 = now_ms();
	assert_int_equal(pthread_create(&thread, NULL, wait_thread, &w), 0);
	nanosleep(&pause, NULL);
	assert_int_equal(nv.nvmlDeviceRegisterEvents(handle(1),
	    nvmlEventTypeXidCriticalError, w.set), NVML_SUCCESS);
	assert_int_equal(pthread_join(thread, NULL), 0);
	assert_true(now_ms() - t0 < 4000);
	assert_int_equal(w.rc, NVML_SUCCESS);
	assert_ptr_equal(w.data.device, handle(1));
	assert_int_equal(w.data.eventData, 79);
	assert_int_equal(nv.nvmlEventSetFree(w.set), NVML_SUCCESS);
}

/*
 * The control channel: commands written to the FIFO named by
 * FAKE_NVML_CONTROL, in a temporary directory of each test's own, reach
 * a program using the library the way hardware events would.
 */
#define WAIT_MS 2000		/* how long an injected event may take */
#define FENCE_XID 424242ULL	/* marks "every line before has been run" */

static char control_dir[64];
static char control_path[128];

static int
control_setup(void **state)
{
	snprintf(control_dir, sizeof(control_dir), "%s/fakenvml-ctl-XXXXXX",
	    P_tmpdir);
	if (mkdtemp(control_dir) == NULL)
		return -1;
	snprintf(control_path, sizeof(control_path), "%s/control",
	    control_dir);
	return setenv("FAKE_NVML_CONTROL", control_path, 1);
}

static int
control_teardown(void **state)
{
	int rc = shutdown_all(state);

	unsetenv("FAKE_NVML_CONTROL");
	unlink(control_path);
	rmdir(control_dir);
	return rc;
}

/* Writes |text| to the FIFO in one write; the library must be reading. */
static void
control_send(const char *text)
{
	int fd = open(control_path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)),
	    (ssize_t)strlen(text));
	close(fd);
}

static void
control_sendf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
control_sendf(const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	control_send(text);
}

/* Asserts that the next event of |set| is this one, within WAIT_MS. */
static void
expect_event(nvmlEventSet_t set, nvmlDevice_t dev, unsigned long long type,
    unsigned long long data, unsigned int gi, unsigned int ci)
{
	nvmlEventData_t e;

	memset(&e, 0, sizeof(e));
	assert_int_equal(nv.nvmlEventSetWait(set, &e, WAIT_MS), NVML_SUCCESS);
	assert_ptr_equal(e.device, dev);
	assert_int_equal(e.eventType, type);
	assert_int_equal(e.eventData, data);
	assert_int_equal(e.gpuInstanceId, gi);
	assert_int_equal(e.computeInstanceId, ci);
}

/* Sends |text| and then a fence XID for |uuid| (registered for XIDs in
 * |set|), and waits for the fence: the channel runs lines in order, so
 * by then every line of |text| has been run. */
static void
control_fenced(const char *text, nvmlEventSet_t set, const char *uuid)
{
	nvmlDevice_t dev = NULL;

	assert_int_equal(nv.nvmlDeviceGetHandleByUUID(uuid, &dev),
	    NVML_SUCCESS);
	control_sendf("%sxid %s %llu\n", text, uuid, FENCE_XID);
	expect_event(set, dev, nvmlEventTypeXidCriticalError, FENCE_XID,
	    NO_INSTANCE, NO_INSTANCE);
}

/* A new event set with |dev| registered for |types|. */
static nvmlEventSet_t
event_set(nvmlDevice_t dev, unsigned long long types)
{
	nvmlEventSet_t set = NULL;

	assert_int_equal(nv.nvmlEventSetCreate(&set), NVML_SUCCESS);
	assert_int_equal(nv.nvmlDeviceRegisterEvents(dev, types, set),
	    NVML_SUCCESS);
	return set;
}

static void
assert_no_event(nvmlEventSet_t set)
{
	nvmlEventData_t e;

	assert_int_equal(nv.nvmlEventSetWait(set, &e, 20), NVML_ERROR_TIMEOUT);
}

/* A thread blocked in nvmlEventSetWait (5 s) while the test drives the
 * channel; it must come back well before its timeout. */
struct blocked {
	struct waiter w;
	pthread_t thread;
	long long t0;
};

static void
block_on(struct blocked *b, nvmlEventSet_t set)
{
	struct timespec pause = { 0, 50000000L };	/* 50 ms */

	memset(b, 0, sizeof(*b));
	b->w.set = set;
	b->t0 = now_ms();
	assert_int_equal(pthread_create(&b->thread, NULL, wait_thread,
	    &b->w), 0);
	nanosleep(&pause, NULL);
}

static nvmlReturn_t
unblocked(struct blocked *b)
{
	assert_int_equal(pthread_join(b->thread, NULL), 0);
	assert_true(now_ms() - b->t0 < 4000);
	return b->w.rc;
}

/* Polls a query of |dev| for up to WAIT_MS until it answers |want|. */
static nvmlReturn_t
poll_minor(nvmlDevice_t dev, nvmlReturn_t want)
{
	struct timespec pause = { 0, 1000000L };	/* 1 ms */
	long long end = now_ms() + WAIT_MS;
	unsigned int minor;
	nvmlReturn_t rc;

	while ((rc = nv.nvmlDeviceGetMinorNumber(dev, &minor)) != want &&
	    now_ms() < end)
		nanosleep(&pause, NULL);
	return rc;
}

/* Polls nvmlEventSetWait on |set| for up to WAIT_MS until it answers
 * |want| at once. */
static nvmlReturn_t
poll_wait(nvmlEventSet_t set, nvmlReturn_t want)
{
	long long end = now_ms() + WAIT_MS;
	nvmlEventData_t e;
	nvmlReturn_t rc;

	while ((rc = nv.nvmlEventSetWait(set, &e, 1)) != want &&
	    now_ms() < end)
		continue;
	return rc;
}

/* Calls nvmlInit with a control path that cannot be a FIFO. */
static void
check_bad_control(const char *path, const char *why)
{
	char err[1024];

	assert_int_equal(setenv("FAKE_NVML_CONTROL", path, 1), 0);
	assert_int_equal(init_capturing(err, sizeof(err)), NVML_ERROR_UNKNOWN);
	if (strstr(err, "fakenvml: FAKE_NVML_CONTROL") == NULL ||
	    strstr(err, path) == NULL || strstr(err, why) == NULL)
		fail_msg("wanted the path and '%s', got '%s'", why, err);
}

/* The library makes the FIFO (0600) at init, keeps it open for reading
 * until the last shutdown, and leaves it in place; unset, no FIFO. */
static void
test_control_fifo(void **state)
{
	char path[256];
	struct stat st;

	use_profile(nc6.file);
	assert_int_equal(stat(control_path, &st), -1);
	assert_int_equal(nv.nvmlInit(), NVML_SUCCESS);
	assert_int_equal(stat(control_path, &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
	/* Nobody reads it now: a writer that will not wait is refused. */
	assert_int_equal(open(control_path, O_WRONLY | O_NONBLOCK), -1);
	assert_int_equal(stat(control_path, &st), 0);
	/* An existing FIFO is used as it is. */
	assert_int_equal(nv.nvmlInit(), NVML_SUCCESS);
	control_send("wait-ok\n");
	assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
	unlink(control_path);
	assert_int_equal(unsetenv("FAKE_NVML_CONTROL"), 0);
	assert_int_equal(nv.nvmlInit(), NVML_SUCCESS);
	assert_int_equal(stat(control_path, &st), -1);
	assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
	/* What is in the way fails init, loudly. */
	write_temp(path, sizeof(path), "not a fifo\n");
	check_bad_control(path, "not a FIFO");
	unlink(path);
	snprintf(path, sizeof(path), "%s/no/such/dir", control_dir);
	check_bad_control(path, "No such file or directory");
}

/* An XID through the FIFO wakes a thread blocked in Wait, with the
 * device handle, XID and instance ids; only sets that registered that
 * GPU for XIDs get it; several lines may come in one write. */
static void
test_control_xid(void **state)
{
	const char *uuid = nc24.gpus[2].uuid;
	nvmlEventSet_t set, other, ecc;
	nvmlDevice_t dev = NULL;
	struct blocked b;

	init_profile(nc24.file);
	assert_int_equal(nv.nvmlDeviceGetHandleByUUID(uuid, &dev),
	    NVML_SUCCESS);
	set = event_set(dev, nvmlEventTypeXidCriticalError);
	other = event_set(handle(1), nvmlEventTypeXidCriticalError);
	ecc = event_set(dev, nvmlEventTypeSingleBitEccError |
	    nvmlEventTypeDoubleBitEccError);
	block_on(&b, set);
	control_sendf("xid %s 79\n", uuid);
	assert_int_equal(unblocked(&b), NVML_SUCCESS);
	assert_ptr_equal(b.w.data.device, dev);
	assert_int_equal(b.w.data.eventType, nvmlEventTypeXidCriticalError);
	assert_int_equal(b.w.data.eventData, 79);
	assert_int_equal(b.w.data.gpuInstanceId, NO_INSTANCE);
	assert_int_equal(b.w.data.computeInstanceId, NO_INSTANCE);
	control_sendf("xid %s 94 3 1\nxid %s 0x30\n\n# a comment\r\n"
	    "  xid\t%s  13  \r\n", uuid, uuid, uuid);
	expect_event(set, dev, nvmlEventTypeXidCriticalError, 94, 3, 1);
	expect_event(set, dev, nvmlEventTypeXidCriticalError, 48,
	    NO_INSTANCE, NO_INSTANCE);
	expect_event(set, dev, nvmlEventTypeXidCriticalError, 13,
	    NO_INSTANCE, NO_INSTANCE);
	control_sendf("ecc %s double\necc %s single\n", uuid, uuid);
	expect_event(ecc, dev, nvmlEventTypeDoubleBitEccError, 0,
	    NO_INSTANCE, NO_INSTANCE);
	expect_event(ecc, dev, nvmlEventTypeSingleBitEccError, 0,
	    NO_INSTANCE, NO_INSTANCE);
	assert_no_event(set);
	assert_no_event(other);
	assert_int_equal(nv.nvmlEventSetFree(set), NVML_SUCCESS);
	assert_int_equal(nv.nvmlEventSetFree(other), NVML_SUCCESS);
	assert_int_equal(nv.nvmlEventSetFree(ecc), NVML_SUCCESS);
}

/* A line is run only once its newline has come, however it is split. */
static void
test_control_partial(void **state)
{
	struct timespec pause = { 0, 50000000L };	/* 50 ms */
	const char *uuid = nc6.gpus[0].uuid;
	nvmlEventSet_t set;
	char head[64];

	init_profile(nc6.file);
	set = event_set(handle(0), nvmlEventTypeXidCriticalError);
	snprintf(head, sizeof(head), "xid %.12s", uuid);
	control_send(head);
	nanosleep(&pause, NULL);
	assert_no_event(set);
	control_sendf("%s 4", uuid + 12);
	nanosleep(&pause, NULL);
	assert_no_event(set);
	control_sendf("3\nxid %s 6", uuid);
	expect_event(set, handle(0), nvmlEventTypeXidCriticalError, 43,
	    NO_INSTANCE, NO_INSTANCE);
	control_send("2\n");
	expect_event(set, handle(0), nvmlEventTypeXidCriticalError, 62,
	    NO_INSTANCE, NO_INSTANCE);
	assert_int_equal(nv.nvmlEventSetFree(set), NVML_SUCCESS);
}

/* lost: every query of the GPU answers GPU_IS_LOST and a Wait on a set
 * that has it wakes with it; reset: back to normal. */
static void
test_control_lost_reset(void **state)
{
	const char *uuid = nc24.gpus[1].uuid;
	nvmlDevice_t dev = NULL, again = NULL;
	nvmlEventSet_t set;
	struct blocked b;
	char buf[96];

	init_profile(nc24.file);
	assert_int_equal(nv.nvmlDeviceGetHandleByUUID(uuid, &dev),
	    NVML_SUCCESS);
	set = event_set(dev, nvmlEventTypeXidCriticalError);
	block_on(&b, set);
	control_sendf("lost %s\n", uuid);
	assert_int_equal(unblocked(&b), NVML_ERROR_GPU_IS_LOST);
	assert_int_equal(poll_minor(dev, NVML_ERROR_GPU_IS_LOST),
	    NVML_ERROR_GPU_IS_LOST);
	assert_int_equal(nv.nvmlDeviceGetName(dev, buf, sizeof(buf)),
	    NVML_ERROR_GPU_IS_LOST);
	/* Still listed, under the same handle; the others are fine. */
	assert_int_equal(nv.nvmlDeviceGetHandleByUUID(uuid, &again),
	    NVML_SUCCESS);
	assert_ptr_equal(again, dev);
	assert_int_equal(nv.nvmlDeviceGetName(handle(0), buf, sizeof(buf)),
	    NVML_SUCCESS);
	assert_int_equal(nv.nvmlEventSetWait(set, &b.w.data, 0),
	    NVML_ERROR_GPU_IS_LOST);
	control_sendf("reset %s\n", uuid);
	assert_int_equal(poll_minor(dev, NVML_SUCCESS), NVML_SUCCESS);
	assert_int_equal(nv.nvmlDeviceGetName(dev, buf, sizeof(buf)),
	    NVML_SUCCESS);
	assert_string_equal(buf, "Tesla K80");
	assert_no_event(set);
	assert_int_equal(nv.nvmlEventSetFree(set), NVML_SUCCESS);
}

/* wait-error fails every Wait at once, waking one already waiting, until
 * wait-ok; events posted meanwhile stay queued. A full shutdown ends it.
 * |probe|, a set with no GPU, shows when a command has been run without
 * taking events from |set|. */
static void
test_control_wait_error(void **state)
{
	const char *uuid = nc6.gpus[0].uuid;
	nvmlEventSet_t set, probe = NULL;
	nvmlEventData_t e;
	struct blocked b;
	long long t0;

	init_profile(nc6.file);
	set = event_set(handle(0), nvmlEventTypeXidCriticalError);
	assert_int_equal(nv.nvmlEventSetCreate(&probe), NVML_SUCCESS);
	block_on(&b, set);
	control_send("wait-error NVML_ERROR_UNKNOWN\n");
	assert_int_equal(unblocked(&b), NVML_ERROR_UNKNOWN);
	t0 = now_ms();
	assert_int_equal(nv.nvmlEventSetWait(set, &e, 5000),
	    NVML_ERROR_UNKNOWN);
	assert_true(now_ms() - t0 < 4000);
	control_sendf("xid %s 31\nwait-error NVML_ERROR_GPU_IS_LOST\n", uuid);
	assert_int_equal(poll_wait(probe, NVML_ERROR_GPU_IS_LOST),
	    NVML_ERROR_GPU_IS_LOST);
	assert_int_equal(nv.nvmlEventSetWait(set, &e, 5000),
	    NVML_ERROR_GPU_IS_LOST);
	/* The GPU itself is fine. */
	assert_int_equal(poll_minor(handle(0), NVML_SUCCESS), NVML_SUCCESS);
	control_send("wait-ok\n");
	assert_int_equal(poll_wait(probe, NVML_ERROR_TIMEOUT),
	    NVML_ERROR_TIMEOUT);
	expect_event(set, handle(0), nvmlEventTypeXidCriticalError, 31,
	    NO_INSTANCE, NO_INSTANCE);
	assert_no_event(set);
	control_send("wait-error NVML_ERROR_UNKNOWN\n");
	assert_int_equal(poll_wait(probe, NVML_ERROR_UNKNOWN),
	    NVML_ERROR_UNKNOWN);
	assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
	init_profile(nc6.file);
	assert_int_equal(nv.nvmlDeviceRegisterEvents(handle(0),
	    nvmlEventTypeXidCriticalError, set), NVML_SUCCESS);
	assert_no_event(set);
	assert_int_equal(nv.nvmlEventSetFree(set), NVML_SUCCESS);
	assert_int_equal(nv.nvmlEventSetFree(probe), NVML_SUCCESS);
}

/* Bad lines: a message each on stderr, no effect, and the channel goes
 * on reading. */
static void
test_control_bad_commands(void **state)
{
	static const char *const want[] = {
		"fakenvml: control: unknown command \"frobnicate\"",
		("fakenvml: control: no GPU with UUID "
		    "\"GPU-00000000-0000-0000-0000-000000000000\""),
		"fakenvml: control: xid: bad XID \"abc\"",
		"fakenvml: control: xid: bad XID \"-1\"",
		"fakenvml: control: usage: xid UUID XID [GI CI]",
		"fakenvml: control: xid: bad GPU instance id \"0x100000000\"",
		"fakenvml: control: ecc: \"triple\" is not single or double",
		"fakenvml: control: wait-error: \"NVML_SUCCESS\" is not",
		"fakenvml: control: wait-error: \"BOGUS\" is not",
		"fakenvml: control: usage: lost UUID",
		"fakenvml: control: usage: wait-ok",
		"fakenvml: control: line longer than 511 bytes ignored",
	};
	const char *uuid = nc6.gpus[0].uuid;
	char text[2048], err[4096], *p = text;
	nvmlEventData_t e;
	nvmlEventSet_t set;
	FILE *tmp = tmpfile();
	nvmlReturn_t rc;
	int saved;
	size_t i, n;

	init_profile(nc6.file);
	set = event_set(handle(0), nvmlEventTypeXidCriticalError);
	p += sprintf(p, "frobnicate now\n"
	    "xid GPU-00000000-0000-0000-0000-000000000000 79\n"
	    "xid %s abc\nxid %s -1\nxid %s 79 1\nxid %s 79 0x100000000 0\n"
	    "ecc %s triple\nwait-error NVML_SUCCESS\nwait-error BOGUS\n"
	    "lost\nwait-ok now\n", uuid, uuid, uuid, uuid, uuid);
	p += sprintf(p, "xid %s 79 ", uuid);
	memset(p, '7', 600);
	sprintf(p + 600, "\nxid %s %llu\n", uuid, FENCE_XID);
	assert_non_null(tmp);
	saved = dup(STDERR_FILENO);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	control_send(text);
	/* The fence XID comes last: by then every line has been run. */
	rc = nv.nvmlEventSetWait(set, &e, WAIT_MS);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(tmp);
	n = fread(err, 1, sizeof(err) - 1, tmp);
	err[n] = '\0';
	fclose(tmp);
	assert_int_equal(rc, NVML_SUCCESS);
	assert_int_equal(e.eventData, FENCE_XID);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (strstr(err, want[i]) == NULL)
			fail_msg("wanted '%s' in '%s'", want[i], err);
	/* Nothing else happened. */
	assert_no_event(set);
	assert_int_equal(poll_minor(handle(0), NVML_SUCCESS), NVML_SUCCESS);
	assert_int_equal(nv.nvmlEventSetFree(set), NVML_SUCCESS);
}

/* The thread lives from the first init to the last shutdown of a cycle,
 * and a new cycle starts a new one; shutdown wakes a blocked waiter. */
static void
test_control_shutdown(void **state)
{
	const char *uuid = nc6.gpus[0].uuid;
	nvmlEventSet_t set;
	struct blocked b;

	init_profile(nc6.file);
	assert_int_equal(nv.nvmlInit(), NVML_SUCCESS);
	assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
	set = event_set(handle(0), nvmlEventTypeXidCriticalError);
	control_fenced("", set, uuid);
	/* Shut down with the thread idle in poll() and a waiter blocked. */
	block_on(&b, set);
	assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
	assert_int_equal(unblocked(&b), NVML_ERROR_UNINITIALIZED);
	assert_int_equal(open(control_path, O_WRONLY | O_NONBLOCK), -1);
	init_profile(nc6.file);
	assert_int_equal(nv.nvmlDeviceRegisterEvents(handle(0),
	    nvmlEventTypeXidCriticalError, set), NVML_SUCCESS);
	control_fenced("", set, uuid);
	/* Shut down with a command half read. */
	control_sendf("xid %s", uuid);
	assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
	init_profile(nc6.file);
	assert_int_equal(nv.nvmlEventSetFree(set), NVML_SUCCESS);
}

/* Resolves an entry point by its newest name, else its oldest. */
static void *
resolve(const char *newest, const char *oldest)
{
	void *p = dlsym(nv.dl, newest);

	if (p == NULL && oldest != NULL)
		p = dlsym(nv.dl, oldest);
	return p;
}

static int
load_library(void)
{
	nv.dl = dlopen(lib_path, RTLD_NOW | RTLD_LOCAL);
	if (nv.dl == NULL) {
		fprintf(stderr, "test_fakenvml: %s\n", dlerror());
		return -1;
	}
#define RESOLVE(name, newest, oldest) \
	nv.name = resolve(newest, oldest);
	GDP_NVML_SYMBOLS(RESOLVE)
#undef RESOLVE
	return 0;
}

/*
 * Event knobs for a driver with no usable events: no-events.yaml, and
 * event_wait: immediate-empty in a profile of our own.
 */
#define LONG_WAIT_MS 10000	/* a Wait that must not be waited out */

/* Waits on |set| by both names; each answers |want| at once. */
static void
check_immediate_wait(nvmlEventSet_t set, nvmlReturn_t want)
{
	nvmlEventData_t data, before;
	long long t0 = now_ms();

	memset(&data, 0x5A, sizeof(data));
	memcpy(&before, &data, sizeof(data));
	assert_int_equal(nv.nvmlEventSetWait(set, &data, LONG_WAIT_MS), want);
	assert_int_equal(nv.nvmlEventSetWaitV1(set,
	    (nvmlEventDataV1_t *)&data, LONG_WAIT_MS), want);
	assert_true(now_ms() - t0 < 1000);
	/* No event: nothing written, by either. */
	assert_memory_equal(&data, &before, sizeof(data));
}

static void
test_no_events(void **state)
{
	nvmlEventSet_t set = NULL;
	unsigned long long types = 1;
	unsigned int count = 0, i;

	init_profile("no-events.yaml");
	assert_int_equal(nv.nvmlDeviceGetCount(&count), NVML_SUCCESS);
	assert_int_equal(count, 2);
	assert_int_equal(nv.nvmlEventSetCreate(&set), NVML_SUCCESS);
	for (i = 0; i < count; i++) {
		assert_int_equal(nv.nvmlDeviceGetSupportedEventTypes(handle(i),
		    &types), NVML_SUCCESS);
		assert_int_equal(types, 0);
		assert_int_equal(nv.nvmlDeviceRegisterEvents(handle(i),
		    nvmlEventTypeXidCriticalError, set),
		    NVML_ERROR_NOT_SUPPORTED);
		assert_int_equal(nv.nvmlDeviceRegisterEvents(handle(i),
		    nvmlEventTypeSingleBitEccError, set),
		    NVML_ERROR_NOT_SUPPORTED);
		assert_int_equal(nv.nvmlDeviceRegisterEvents(handle(i), 0,
		    set), NVML_SUCCESS);
	}
	check_immediate_wait(set, NVML_ERROR_TIMEOUT);
	/* The usual checks still come first. */
	assert_int_equal(nv.nvmlEventSetWait(set, NULL, LONG_WAIT_MS),
	    NVML_ERROR_INVALID_ARGUMENT);
	assert_int_equal(nv.nvmlEventSetFree(set), NVML_SUCCESS);
}

/* immediate-empty: SUCCESS at once with nothing written; a queued event
 * (here pending_xids) still comes first; types may be narrowed. */
static void
test_event_wait_empty(void **state)
{
	nvmlEventSet_t set = NULL;
	unsigned long long types = 0;
	char path[256];

	write_temp(path, sizeof(path), GOOD_TOP
	    "event_wait: immediate-empty\nsupported_event_types: 0x8\n"
	    "gpus:\n" GOOD_GPU(UUID_A, "00000001:00:00.0", "0")
	    "    pending_xids: [79]\n");
	assert_int_equal(setenv("FAKE_NVML_PROFILE", path, 1), 0);
	assert_int_equal(nv.nvmlInit(), NVML_SUCCESS);
	unlink(path);
	assert_int_equal(nv.nvmlDeviceGetSupportedEventTypes(handle(0),
	    &types), NVML_SUCCESS);
	assert_int_equal(types, nvmlEventTypeXidCriticalError);
	assert_int_equal(nv.nvmlEventSetCreate(&set), NVML_SUCCESS);
	assert_int_equal(nv.nvmlDeviceRegisterEvents(handle(0),
	    nvmlEventTypeDoubleBitEccError, set), NVML_ERROR_NOT_SUPPORTED);
	check_immediate_wait(set, NVML_SUCCESS);
	assert_int_equal(nv.nvmlDeviceRegisterEvents(handle(0),
	    nvmlEventTypeXidCriticalError, set), NVML_SUCCESS);
	expect_xid(set, handle(0), 79);
	check_immediate_wait(set, NVML_SUCCESS);
	assert_int_equal(nv.nvmlEventSetFree(set), NVML_SUCCESS);
}

/*
 * Fault injection and call counts: FAKE_NVML_FAIL, FAKE_NVML_TRACE and
 * FAKE_NVML_HIDE. Counts run from process start, so each test learns
 * where a count stands from the trace before it aims a fault.
 */
static char trace_path[64];

static int
faults_setup(void **state)
{
	int fd;

	snprintf(trace_path, sizeof(trace_path), "%s/fakenvml-trace-XXXXXX",
	    P_tmpdir);
	fd = mkstemp(trace_path);
	if (fd < 0)
		return -1;
	close(fd);
	return setenv("FAKE_NVML_TRACE", trace_path, 1);
}

static int
faults_teardown(void **state)
{
	int rc = shutdown_all(state);

	unsetenv("FAKE_NVML_TRACE");
	unsetenv("FAKE_NVML_FAIL");
	unsetenv("FAKE_NVML_HIDE");
	unlink(trace_path);
	return rc;
}

/* The count that the trace at |path| gives |name|: 0 if it is not
 * there. Every line must be "SYMBOL COUNT". */
static unsigned long long
trace_count(const char *path, const char *name)
{
	unsigned long long count, found = 0;
	char line[128], sym[64], extra;
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%63s %llu%c", sym, &count, &extra) != 3 ||
		    extra != '\n' || strncmp(sym, "nvml", 4) != 0)
			fail_msg("bad trace line '%s'", line);
		if (strcmp(sym, name) == 0)
			found = count;
	}
	fclose(f);
	return found;
}

/* How often |name| has been called so far, learnt from the trace of one
 * more init and shutdown cycle. Call with the library shut down. */
static unsigned long long
calls_so_far(const char *name)
{
	use_profile(nc6.file);
	assert_int_equal(nv.nvmlInit(), NVML_SUCCESS);
	assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
	return trace_count(trace_path, name);
}

static void
setenvf(const char *name, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
setenvf(const char *name, const char *fmt, ...)
{
	char value[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	assert_int_equal(setenv(name, value, 1), 0);
}

/* SYMBOL:N fails the Nth call only, before it writes anything; N+ every
 * call from the Nth; counts outlive shutdown; v1 and v2 Waits are
 * counted apart; several specs in one variable. */
static void
test_fail_nth(void **state)
{
	unsigned long long mem = calls_so_far("nvmlDeviceGetMemoryInfo");
	unsigned long long name = calls_so_far("nvmlDeviceGetName");
	unsigned long long wait = calls_so_far("nvmlEventSetWait_v2");
	nvmlEventSet_t set = NULL;
	nvmlEventData_t data;
	nvmlMemory_t m;
	char buf[64];

	setenvf("FAKE_NVML_FAIL", "nvmlDeviceGetMemoryInfo:%llu:"
	    "NVML_ERROR_GPU_IS_LOST,nvmlDeviceGetName:%llu+:NVML_ERROR_UNKNOWN,"
	    "nvmlEventSetWait_v2:%llu:NVML_ERROR_IN_USE", mem + 2, name + 2,
	    wait + 1);
	init_profile(nc6.file);
	assert_int_equal(nv.nvmlDeviceGetMemoryInfo(handle(0), &m),
	    NVML_SUCCESS);
	memset(&m, 0x5A, sizeof(m));
	assert_int_equal(nv.nvmlDeviceGetMemoryInfo(handle(0), &m),
	    NVML_ERROR_GPU_IS_LOST);
	assert_int_equal(m.total, 0x5A5A5A5A5A5A5A5AULL);
	assert_int_equal(nv.nvmlDeviceGetMemoryInfo(handle(0), &m),
	    NVML_SUCCESS);
	assert_int_equal(m.total, 11441ULL << 20);
	assert_int_equal(nv.nvmlDeviceGetName(handle(0), buf, sizeof(buf)),
	    NVML_SUCCESS);
	assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
	/* A new cycle: the counts go on. */
	init_profile(nc6.file);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(nv.nvmlDeviceGetName(handle(0), buf, sizeof(buf)),
	    999);
	assert_int_equal(nv.nvmlDeviceGetName(handle(0), buf, sizeof(buf)),
	    NVML_ERROR_UNKNOWN);
	assert_string_equal(buf, "");
	assert_int_equal(nv.nvmlEventSetCreate(&set), NVML_SUCCESS);
	assert_int_equal(nv.nvmlEventSetWaitV1(set,
	    (nvmlEventDataV1_t *)&data, 0), NVML_ERROR_TIMEOUT);
	assert_int_equal(nv.nvmlEventSetWait(set, &data, 0),
	    NVML_ERROR_IN_USE);
	assert_int_equal(nv.nvmlEventSetWait(set, &data, 0),
	    NVML_ERROR_TIMEOUT);
	assert_int_equal(nv.nvmlEventSetFree(set), NVML_SUCCESS);
}

/* Init and shutdown can fail too; a failed init initialises nothing. */
static void
test_fail_init(void **state)
{
	unsigned long long init = calls_so_far("nvmlInit_v2");
	unsigned long long down = calls_so_far("nvmlShutdown");
	unsigned int count;

	/* calls_so_far made one more of each. */
	setenvf("FAKE_NVML_FAIL", "nvmlInit_v2:%llu:"
	    "NVML_ERROR_DRIVER_NOT_LOADED,nvmlShutdown:%llu:NVML_ERROR_UNKNOWN",
	    init + 2, down + 1);
	assert_int_equal(nv.nvmlInit(), NVML_ERROR_DRIVER_NOT_LOADED);
	assert_int_equal(nv.nvmlDeviceGetCount(&count),
	    NVML_ERROR_UNINITIALIZED);
	assert_int_equal(nv.nvmlInit(), NVML_SUCCESS);
	assert_int_equal(nv.nvmlShutdown(), NVML_ERROR_UNKNOWN);
	assert_int_equal(nv.nvmlDeviceGetCount(&count), NVML_SUCCESS);
	assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
}

struct counter {
	unsigned int calls;
};

static void *
count_thread(void *arg)
{
	struct counter *c = arg;
	unsigned int i, n;

	for (i = 0; i < c->calls; i++)
		(void)nv.nvmlDeviceGetCount(&n);
	return NULL;
}

#define COUNT_THREADS 4

/* Counting from several threads at once loses nothing. */
static void
test_count_threads(void **state)
{
	unsigned long long before = calls_so_far("nvmlDeviceGetCount_v2");
	struct counter c = { .calls = 2000 };
	pthread_t threads[COUNT_THREADS];
	size_t i;

	init_profile(nc6.file);
	for (i = 0; i < COUNT_THREADS; i++)
		assert_int_equal(pthread_create(&threads[i], NULL,
		    count_thread, &c), 0);
	for (i = 0; i < COUNT_THREADS; i++)
		assert_int_equal(pthread_join(threads[i], NULL), 0);
	assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
	assert_int_equal(trace_count(trace_path, "nvmlDeviceGetCount_v2"),
	    before + (unsigned long long)COUNT_THREADS * c.calls);
}

/* A malformed spec and what stderr must say about it. */
struct bad_fault {
	const char *var;
	const char *value;
	const char *message;
};

static const struct bad_fault bad_faults[] = {
	{ "FAKE_NVML_FAIL", "nvmlFrobnicate:1:NVML_ERROR_UNKNOWN",
	    "FAKE_NVML_FAIL: \"nvmlFrobnicate:1:NVML_ERROR_UNKNOWN\": "
	    "nvmlFrobnicate is not an entry point" },
	{ "FAKE_NVML_FAIL", "nvmlDeviceGetName:0:NVML_ERROR_UNKNOWN",
	    "\"nvmlDeviceGetName:0:NVML_ERROR_UNKNOWN\": '0' is not a call" },
	{ "FAKE_NVML_FAIL", "nvmlDeviceGetName:2x:NVML_ERROR_UNKNOWN",
	    "'2x' is not a call number" },
	{ "FAKE_NVML_FAIL", "nvmlDeviceGetName:+:NVML_ERROR_UNKNOWN",
	    "'+' is not a call number" },
	{ "FAKE_NVML_FAIL", "nvmlDeviceGetName:1:NVML_ERROR_LOST",
	    "NVML_ERROR_LOST is not an NVML error name" },
	{ "FAKE_NVML_FAIL", "nvmlDeviceGetName:1:NVML_SUCCESS",
	    "NVML_SUCCESS is not an NVML error name" },
	{ "FAKE_NVML_FAIL", "nvmlDeviceGetName:1",
	    "\"nvmlDeviceGetName:1\": not SYMBOL:N:ERROR" },
	{ "FAKE_NVML_FAIL", "nvmlDeviceGetName:1:NVML_ERROR_UNKNOWN:2",
	    "not SYMBOL:N:ERROR" },
	{ "FAKE_NVML_FAIL", "nvmlErrorString:1:NVML_ERROR_UNKNOWN",
	    "nvmlErrorString cannot fail" },
	{ "FAKE_NVML_FAIL", "nvmlDeviceGetName:1:NVML_ERROR_UNKNOWN,",
	    "FAKE_NVML_FAIL: \"\": not SYMBOL:N:ERROR" },
	{ "FAKE_NVML_FAIL", " nvmlDeviceGetName:1:NVML_ERROR_UNKNOWN",
	    "  nvmlDeviceGetName is not an entry point" },
	{ "FAKE_NVML_HIDE", "nvmlEventSetWait_v2,nvmlEventSetWait_v3",
	    "FAKE_NVML_HIDE: \"nvmlEventSetWait_v3\" is not an entry point" },
	{ "FAKE_NVML_HIDE", "nvmlEventSetWait_v2,",
	    "FAKE_NVML_HIDE: \"\" is not an entry point" },
};

static void
test_fail_malformed(void **state)
{
	char err[1024];
	unsigned int count;
	size_t i;

	use_profile(nc6.file);
	for (i = 0; i < sizeof(bad_faults) / sizeof(bad_faults[0]); i++) {
		const struct bad_fault *b = &bad_faults[i];

		assert_int_equal(setenv(b->var, b->value, 1), 0);
		assert_int_equal(init_capturing(err, sizeof(err)),
		    NVML_ERROR_UNKNOWN);
		if (strstr(err, b->message) == NULL ||
		    strncmp(err, "fakenvml: ", 10) != 0)
			fail_msg("case %zu: wanted '%s', got '%s'", i,
			    b->message, err);
		assert_int_equal(unsetenv(b->var), 0);
	}
	/* A bad list puts none of its good specs in force. */
	assert_int_equal(setenv("FAKE_NVML_FAIL",
	    "nvmlDeviceGetCount_v2:1+:NVML_ERROR_UNKNOWN,bad", 1), 0);
	assert_int_equal(init_capturing(err, sizeof(err)), NVML_ERROR_UNKNOWN);
	assert_int_equal(nv.nvmlDeviceGetCount(&count),
	    NVML_ERROR_UNINITIALIZED);
	assert_int_equal(unsetenv("FAKE_NVML_FAIL"), 0);
	assert_int_equal(nv.nvmlInit(), NVML_SUCCESS);
	assert_int_equal(nv.nvmlDeviceGetCount(&count), NVML_SUCCESS);
}

/* dlsym() by name, as the plugin binds; the name must be exported. */
static void *
must_dlsym(const char *name)
{
	void *p = dlsym(nv.dl, name);

	if (p == NULL)
		fail_msg("%s is not exported", name);
	return p;
}

/* Calls |name| through the type of the binding's |member|. */
#define BY_NAME(member, name) ((__typeof__(nv.member))must_dlsym(name))

/* Calls every entry point once by its exported name (and nvmlShutdown
 * twice, for the two inits), on azure-nc6.yaml. */
static void
call_every_entry_point(void)
{
	nvmlEventSet_t set = NULL;
	nvmlDevice_t dev = NULL, other = NULL;
	unsigned long long types;
	nvmlEventData_t data;
	nvmlPciInfoV1_t v1;
	nvmlPciInfo_t pci;
	nvmlEnableState_t on;
	nvmlGpuTopologyLevel_t level;
	nvmlIntNvLinkDeviceType_t type;
	nvmlMemory_t mem;
	nvmlDeviceAttributes_t attr;
	nvmlGpuInstanceProfileInfo_t gip;
	nvmlGpuInstanceProfileInfo_v2_t gip2 = { 0 };
	nvmlGpuInstanceInfo_t giinfo;
	nvmlComputeInstanceInfo_t ciinfo;
	nvmlComputeInstanceProfileInfo_t cip;
	nvmlComputeInstanceProfileInfo_v2_t cip2 = { 0 };
	nvmlGpuInstance_t gi;
	nvmlComputeInstance_t ci;
	unsigned int n, m;
	char buf[128];
	int a, b;

	use_profile(nc6.file);
	assert_int_equal(BY_NAME(nvmlInit, "nvmlInit_v2")(), NVML_SUCCESS);
	assert_int_equal(BY_NAME(nvmlInit, "nvmlInit")(), NVML_SUCCESS);
	BY_NAME(nvmlSystemGetDriverVersion, "nvmlSystemGetDriverVersion")(buf,
	    sizeof(buf));
	BY_NAME(nvmlSystemGetCudaDriverVersion,
	    "nvmlSystemGetCudaDriverVersion_v2")(&a);
	BY_NAME(nvmlSystemGetCudaDriverVersion,
	    "nvmlSystemGetCudaDriverVersion")(&a);
	BY_NAME(nvmlErrorString, "nvmlErrorString")(NVML_SUCCESS);
	BY_NAME(nvmlDeviceGetCount, "nvmlDeviceGetCount_v2")(&n);
	BY_NAME(nvmlDeviceGetCount, "nvmlDeviceGetCount")(&n);
	BY_NAME(nvmlDeviceGetHandleByIndex, "nvmlDeviceGetHandleByIndex")(0,
	    &dev);
	BY_NAME(nvmlDeviceGetHandleByIndex,
	    "nvmlDeviceGetHandleByIndex_v2")(0, &dev);
	BY_NAME(nvmlDeviceGetHandleByUUID, "nvmlDeviceGetHandleByUUID")(
	    nc6.gpus[0].uuid, &dev);
	assert_non_null(dev);
	BY_NAME(nvmlDeviceGetIndex, "nvmlDeviceGetIndex")(dev, &n);
	BY_NAME(nvmlDeviceGetName, "nvmlDeviceGetName")(dev, buf, sizeof(buf));
	BY_NAME(nvmlDeviceGetUUID, "nvmlDeviceGetUUID")(dev, buf, sizeof(buf));
	BY_NAME(nvmlDeviceGetMinorNumber, "nvmlDeviceGetMinorNumber")(dev, &n);
	BY_NAME(nvmlDeviceGetPciInfo, "nvmlDeviceGetPciInfo_v3")(dev, &pci);
	BY_NAME(nvmlDeviceGetPciInfo, "nvmlDeviceGetPciInfo_v2")(dev, &pci);
	BY_NAME(nvmlDeviceGetPciInfoV1, "nvmlDeviceGetPciInfo")(dev, &v1);
	BY_NAME(nvmlDeviceGetMemoryInfo, "nvmlDeviceGetMemoryInfo")(dev, &mem);
	BY_NAME(nvmlDeviceGetCudaComputeCapability,
	    "nvmlDeviceGetCudaComputeCapability")(dev, &a, &b);
	BY_NAME(nvmlDeviceGetNvLinkState, "nvmlDeviceGetNvLinkState")(dev, 0,
	    &on);
	BY_NAME(nvmlDeviceGetNvLinkRemotePciInfo,
	    "nvmlDeviceGetNvLinkRemotePciInfo_v2")(dev, 0, &pci);
	BY_NAME(nvmlDeviceGetNvLinkRemotePciInfo,
	    "nvmlDeviceGetNvLinkRemotePciInfo")(dev, 0, &pci);
	BY_NAME(nvmlDeviceGetNvLinkRemoteDeviceType,
	    "nvmlDeviceGetNvLinkRemoteDeviceType")(dev, 0, &type);
	BY_NAME(nvmlDeviceGetTopologyCommonAncestor,
	    "nvmlDeviceGetTopologyCommonAncestor")(dev, dev, &level);
	BY_NAME(nvmlDeviceGetMigMode, "nvmlDeviceGetMigMode")(dev, &n, &m);
	BY_NAME(nvmlDeviceGetMaxMigDeviceCount,
	    "nvmlDeviceGetMaxMigDeviceCount")(dev, &n);
	BY_NAME(nvmlDeviceGetMigDeviceHandleByIndex,
	    "nvmlDeviceGetMigDeviceHandleByIndex")(dev, 0, &other);
	BY_NAME(nvmlDeviceIsMigDeviceHandle, "nvmlDeviceIsMigDeviceHandle")(
	    dev, &n);
	BY_NAME(nvmlDeviceGetDeviceHandleFromMigDeviceHandle,
	    "nvmlDeviceGetDeviceHandleFromMigDeviceHandle")(dev, &other);
	BY_NAME(nvmlDeviceGetGpuInstanceId, "nvmlDeviceGetGpuInstanceId")(dev,
	    &n);
	BY_NAME(nvmlDeviceGetComputeInstanceId,
	    "nvmlDeviceGetComputeInstanceId")(dev, &n);
	BY_NAME(nvmlDeviceGetAttributes, "nvmlDeviceGetAttributes_v2")(dev,
	    &attr);
	BY_NAME(nvmlDeviceGetGpuInstanceProfileInfo,
	    "nvmlDeviceGetGpuInstanceProfileInfo")(dev, 0, &gip);
	BY_NAME(nvmlDeviceGetGpuInstanceProfileInfoV,
	    "nvmlDeviceGetGpuInstanceProfileInfoV")(dev, 0, &gip2);
	BY_NAME(nvmlDeviceGetGpuInstanceById,
	    "nvmlDeviceGetGpuInstanceById")(dev, 0, &gi);
	BY_NAME(nvmlGpuInstanceGetInfo, "nvmlGpuInstanceGetInfo")(NULL,
	    &giinfo);
	BY_NAME(nvmlGpuInstanceGetComputeInstanceById,
	    "nvmlGpuInstanceGetComputeInstanceById")(NULL, 0, &ci);
	BY_NAME(nvmlComputeInstanceGetInfo, "nvmlComputeInstanceGetInfo_v2")(
	    NULL, &ciinfo);
	BY_NAME(nvmlComputeInstanceGetInfo, "nvmlComputeInstanceGetInfo")(
	    NULL, &ciinfo);
	BY_NAME(nvmlGpuInstanceGetComputeInstanceProfileInfo,
	    "nvmlGpuInstanceGetComputeInstanceProfileInfo")(NULL, 0, 0, &cip);
	BY_NAME(nvmlGpuInstanceGetComputeInstanceProfileInfoV,
	    "nvmlGpuInstanceGetComputeInstanceProfileInfoV")(NULL, 0, 0,
	    &cip2);
	BY_NAME(nvmlEventSetCreate, "nvmlEventSetCreate")(&set);
	BY_NAME(nvmlDeviceGetSupportedEventTypes,
	    "nvmlDeviceGetSupportedEventTypes")(dev, &types);
	BY_NAME(nvmlDeviceRegisterEvents, "nvmlDeviceRegisterEvents")(dev,
	    nvmlEventTypeXidCriticalError, set);
	BY_NAME(nvmlEventSetWait, "nvmlEventSetWait_v2")(set, &data, 0);
	BY_NAME(nvmlEventSetWait, "nvmlEventSetWait")(set, &data, 0);
	assert_int_equal(BY_NAME(nvmlEventSetFree, "nvmlEventSetFree")(set),
	    NVML_SUCCESS);
	assert_int_equal(BY_NAME(nvmlShutdown, "nvmlShutdown")(), NVML_SUCCESS);
	assert_int_equal(BY_NAME(nvmlShutdown, "nvmlShutdown")(), NVML_SUCCESS);
}

/* Every entry point, called once, counts once under its own name; the
 * last shutdown rewrites the trace. */
static void
test_trace_every_entry_point(void **state)
{
	char before[4096], name[64];
	unsigned long long count, was;
	char line[128];
	size_t n = 0;
	FILE *f;

	(void)calls_so_far("nvmlInit_v2");
	f = fopen(trace_path, "r");
	assert_non_null(f);
	before[fread(before, 1, sizeof(before) - 1, f)] = '\0';
	fclose(f);
	call_every_entry_point();
	f = fopen(trace_path, "r");
	assert_non_null(f);
	for (; fgets(line, sizeof(line), f) != NULL; n++) {
		char *at;

		assert_int_equal(sscanf(line, "%63s %llu", name, &count), 2);
		snprintf(line, sizeof(line), "%s ", name);
		at = strstr(before, line);	/* "" or "NAME COUNT\n..." */
		was = at != NULL && (at == before || at[-1] == '\n') ?
		    strtoull(at + strlen(line), NULL, 10) : 0;
		if (count != was + (strcmp(name, "nvmlShutdown") ? 1 : 2))
			fail_msg("%s: %llu calls, then %llu", name, was, count);
	}
	fclose(f);
	assert_int_equal(n, 49);	/* what test_exports.sh counts */
}

/* A program that exits without shutting down still leaves the trace,
 * from the library's destructor. */
static void
test_trace_at_exit(void **state)
{
	unsigned long long before = calls_so_far("nvmlDeviceGetCount_v2");
	unsigned int count;
	int status = 0;
	pid_t pid;

	unlink(trace_path);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (nv.nvmlInit() != NVML_SUCCESS)
			_exit(2);
		(void)nv.nvmlDeviceGetCount(&count);
		(void)nv.nvmlDeviceGetCount(&count);
		exit(0);	/* no shutdown; the destructor writes */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(trace_count(trace_path, "nvmlDeviceGetCount_v2"),
	    before + 2);
}

/* FAKE_NVML_HIDE makes dlsym() miss those names, so the binding takes
 * the older one; it is read at each lookup. */
static void
test_hide(void **state)
{
	void *wait_v1 = dlsym(nv.dl, "nvmlEventSetWait");
	void *pci_v2 = dlsym(nv.dl, "nvmlDeviceGetPciInfo_v2");
	nvmlPciInfo_t pci;

	assert_non_null(wait_v1);
	assert_non_null(pci_v2);
	assert_int_equal(setenv("FAKE_NVML_HIDE",
	    "nvmlEventSetWait_v2,nvmlDeviceGetPciInfo_v3", 1), 0);
	assert_null(dlsym(nv.dl, "nvmlEventSetWait_v2"));
	assert_null(dlsym(nv.dl, "nvmlDeviceGetPciInfo_v3"));
	assert_ptr_equal(resolve("nvmlEventSetWait_v2", "nvmlEventSetWait"),
	    wait_v1);
	assert_ptr_equal(resolve("nvmlDeviceGetPciInfo_v3",
	    "nvmlDeviceGetPciInfo_v2"), pci_v2);
	assert_non_null(dlsym(nv.dl, "nvmlDeviceGetName"));
	/* Valid names: init works, and so does what is still bound. */
	init_profile(nc6.file);
	assert_int_equal(((__typeof__(nv.nvmlDeviceGetPciInfo))pci_v2)(
	    handle(0), &pci), NVML_SUCCESS);
	assert_string_equal(pci.busId, nc6.gpus[0].bus_id);
	assert_int_equal(unsetenv("FAKE_NVML_HIDE"), 0);
	assert_ptr_equal(dlsym(nv.dl, "nvmlEventSetWait_v2"),
	    (void *)nv.nvmlEventSetWait);
	assert_ptr_equal(dlsym(nv.dl, "nvmlDeviceGetPciInfo_v3"),
	    (void *)nv.nvmlDeviceGetPciInfo);
}

/* ---- MIG devices (mig.c) ---- */

#define A100_MIG "a100-sxm4-40gb-mig.yaml"
#define A100_MIG_GPU0 "GPU-e9a2177d-647a-ab4e-b537-f2429de439b0"
#define A100_MIG_0_0 "MIG-a42a4cc1-8d91-c887-bfc4-aec7668cb70c"
#define A100_MIG_0_3 "MIG-a8bde34f-504e-aa5f-f090-56477f25b385"

static nvmlDevice_t
mig_handle(nvmlDevice_t gpu, unsigned int j)
{
	nvmlDevice_t mig = NULL;

	assert_int_equal(nv.nvmlDeviceGetMigDeviceHandleByIndex(gpu, j, &mig),
	    NVML_SUCCESS);
	assert_non_null(mig);
	return mig;
}

/* Handles by index, and what a MIG handle answers as a device. */
static void
test_mig_handles(void **state)
{
	nvmlDevice_t gpu, mig, other = NULL;
	nvmlMemory_t mem;
	char buf[NVML_DEVICE_NAME_V2_BUFFER_SIZE];
	unsigned int u;

	init_profile(A100_MIG);
	gpu = handle(0);
	assert_int_equal(nv.nvmlDeviceGetMaxMigDeviceCount(gpu, &u),
	    NVML_SUCCESS);
	assert_int_equal(u, 7);
	mig = mig_handle(gpu, 0);
	assert_int_equal(nv.nvmlDeviceGetMigDeviceHandleByIndex(gpu, 4,
	    &other), NVML_ERROR_NOT_FOUND);
	assert_int_equal(nv.nvmlDeviceGetMigDeviceHandleByIndex(gpu, 7,
	    &other), NVML_ERROR_INVALID_ARGUMENT);
	assert_int_equal(nv.nvmlDeviceIsMigDeviceHandle(mig, &u),
	    NVML_SUCCESS);
	assert_int_equal(u, 1);
	assert_int_equal(nv.nvmlDeviceIsMigDeviceHandle(gpu, &u),
	    NVML_SUCCESS);
	assert_int_equal(u, 0);
	assert_int_equal(nv.nvmlDeviceGetDeviceHandleFromMigDeviceHandle(mig,
	    &other), NVML_SUCCESS);
	assert_ptr_equal(other, gpu);
	assert_int_equal(nv.nvmlDeviceGetUUID(mig, buf, sizeof(buf)),
	    NVML_SUCCESS);
	assert_string_equal(buf, A100_MIG_0_0);
	assert_int_equal(nv.nvmlDeviceGetName(mig, buf, sizeof(buf)),
	    NVML_SUCCESS);
	assert_string_equal(buf, "NVIDIA A100-SXM4-40GB MIG 3g.20gb");
	assert_int_equal(nv.nvmlDeviceGetMemoryInfo(mig, &mem), NVML_SUCCESS);
	assert_int_equal(mem.total, 19968ULL << 20);
	assert_int_equal(nv.nvmlDeviceGetMemoryInfo(gpu, &mem), NVML_SUCCESS);
	assert_int_equal(mem.total, 40960ULL << 20);
	/* GPU-only queries refuse it; a MIG UUID finds it. */
	assert_int_equal(nv.nvmlDeviceGetMinorNumber(mig, &u),
	    NVML_ERROR_INVALID_ARGUMENT);
	assert_int_equal(nv.nvmlDeviceGetHandleByUUID(A100_MIG_0_3, &other),
	    NVML_SUCCESS);
	assert_ptr_equal(other, mig_handle(gpu, 3));
}

/* Attributes, instance ids and GI/CI info agree with the tables. */
static void
test_mig_instances(void **state)
{
	nvmlDevice_t gpu, mig;
	nvmlDeviceAttributes_t a;
	nvmlGpuInstance_t gi = NULL, gi2 = NULL;
	nvmlComputeInstance_t ci = NULL;
	nvmlGpuInstanceInfo_t gii;
	nvmlComputeInstanceInfo_t cii;
	unsigned int u;

	init_profile(A100_MIG);
	gpu = handle(0);
	mig = mig_handle(gpu, 1);	/* 2g.10gb, gi 5 */
	assert_int_equal(nv.nvmlDeviceGetGpuInstanceId(mig, &u),
	    NVML_SUCCESS);
	assert_int_equal(u, 5);
	assert_int_equal(nv.nvmlDeviceGetComputeInstanceId(mig, &u),
	    NVML_SUCCESS);
	assert_int_equal(u, 0);
	assert_int_equal(nv.nvmlDeviceGetAttributes(mig, &a), NVML_SUCCESS);
	assert_int_equal(a.multiprocessorCount, 28);
	assert_int_equal(a.gpuInstanceSliceCount, 2);
	assert_int_equal(a.computeInstanceSliceCount, 2);
	assert_int_equal(a.memorySizeMB, 9856);
	assert_int_equal(a.sharedCopyEngineCount, 2);
	assert_int_equal(a.sharedDecoderCount, 1);
	assert_int_equal(nv.nvmlDeviceGetGpuInstanceById(gpu, 5, &gi),
	    NVML_SUCCESS);
	assert_int_equal(nv.nvmlDeviceGetGpuInstanceById(gpu, 6, &gi2),
	    NVML_ERROR_NOT_FOUND);
	assert_int_equal(nv.nvmlGpuInstanceGetInfo(gi, &gii), NVML_SUCCESS);
	assert_ptr_equal(gii.device, gpu);
	assert_int_equal(gii.id, 5);
	assert_int_equal(gii.profileId, 14);	/* 2g.10gb */
	assert_int_equal(gii.placement.start, 3);
	assert_int_equal(gii.placement.size, 2);
	assert_int_equal(nv.nvmlGpuInstanceGetComputeInstanceById(gi, 0, &ci),
	    NVML_SUCCESS);
	assert_int_equal(nv.nvmlComputeInstanceGetInfo(ci, &cii),
	    NVML_SUCCESS);
	assert_ptr_equal(cii.gpuInstance, gi);
	assert_int_equal(cii.id, 0);
	assert_int_equal(cii.profileId, NVML_COMPUTE_INSTANCE_PROFILE_2_SLICE);
	assert_int_equal(cii.placement.size, 2);
	assert_int_equal(nv.nvmlGpuInstanceGetComputeInstanceById(gi, 1, &ci),
	    NVML_ERROR_NOT_FOUND);
	/* Not a MIG device: no instance ids, no attributes. */
	assert_int_equal(nv.nvmlDeviceGetGpuInstanceId(gpu, &u),
	    NVML_ERROR_NOT_SUPPORTED);
	assert_int_equal(nv.nvmlDeviceGetAttributes(gpu, &a),
	    NVML_ERROR_NOT_SUPPORTED);
	assert_int_equal(nv.nvmlGpuInstanceGetInfo(NULL, &gii),
	    NVML_ERROR_INVALID_ARGUMENT);
}

/* GI and CI profile info, as go-nvlib walks them. */
static void
test_mig_profiles(void **state)
{
	nvmlGpuInstanceProfileInfo_t p;
	nvmlGpuInstanceProfileInfo_v2_t p2;
	nvmlComputeInstanceProfileInfo_t c;
	nvmlComputeInstanceProfileInfo_v2_t c2;
	nvmlGpuInstance_t gi = NULL;
	nvmlDevice_t gpu;

	init_profile(A100_MIG);
	gpu = handle(0);
	assert_int_equal(nv.nvmlDeviceGetGpuInstanceProfileInfo(gpu,
	    NVML_GPU_INSTANCE_PROFILE_1_SLICE, &p), NVML_SUCCESS);
	assert_int_equal(p.id, 19);
	assert_int_equal(p.sliceCount, 1);
	assert_int_equal(p.instanceCount, 7);
	assert_int_equal(p.memorySizeMB, 4864);
	assert_int_equal(nv.nvmlDeviceGetGpuInstanceProfileInfo(gpu,
	    NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV1, &p), NVML_SUCCESS);
	assert_int_equal(p.id, 20);
	assert_int_equal(nv.nvmlDeviceGetGpuInstanceProfileInfo(gpu,
	    NVML_GPU_INSTANCE_PROFILE_8_SLICE, &p), NVML_ERROR_NOT_SUPPORTED);
	assert_int_equal(nv.nvmlDeviceGetGpuInstanceProfileInfo(gpu,
	    NVML_GPU_INSTANCE_PROFILE_COUNT, &p), NVML_ERROR_INVALID_ARGUMENT);
	memset(&p2, 0, sizeof(p2));
	assert_int_equal(nv.nvmlDeviceGetGpuInstanceProfileInfoV(gpu,
	    NVML_GPU_INSTANCE_PROFILE_7_SLICE, &p2),
	    NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
	p2.version = nvmlGpuInstanceProfileInfo_v2;
	assert_int_equal(nv.nvmlDeviceGetGpuInstanceProfileInfoV(gpu,
	    NVML_GPU_INSTANCE_PROFILE_7_SLICE, &p2), NVML_SUCCESS);
	assert_string_equal(p2.name, "MIG 7g.40gb");
	assert_int_equal(p2.multiprocessorCount, 98);
	/* The 3g.20gb of gi 1: CI profiles of 1, 2 and 3 slices. */
	assert_int_equal(nv.nvmlDeviceGetGpuInstanceById(gpu, 1, &gi),
	    NVML_SUCCESS);
	assert_int_equal(nv.nvmlGpuInstanceGetComputeInstanceProfileInfo(gi,
	    NVML_COMPUTE_INSTANCE_PROFILE_1_SLICE,
	    NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED, &c), NVML_SUCCESS);
	assert_int_equal(c.sliceCount, 1);
	assert_int_equal(c.instanceCount, 3);
	assert_int_equal(c.multiprocessorCount, 14);
	assert_int_equal(nv.nvmlGpuInstanceGetComputeInstanceProfileInfo(gi,
	    NVML_COMPUTE_INSTANCE_PROFILE_3_SLICE, 0, &c), NVML_SUCCESS);
	assert_int_equal(c.id, NVML_COMPUTE_INSTANCE_PROFILE_3_SLICE);
	assert_int_equal(c.multiprocessorCount, 42);
	assert_int_equal(nv.nvmlGpuInstanceGetComputeInstanceProfileInfo(gi,
	    NVML_COMPUTE_INSTANCE_PROFILE_4_SLICE, 0, &c),
	    NVML_ERROR_NOT_SUPPORTED);
	assert_int_equal(nv.nvmlGpuInstanceGetComputeInstanceProfileInfo(gi,
	    NVML_COMPUTE_INSTANCE_PROFILE_COUNT, 0, &c),
	    NVML_ERROR_INVALID_ARGUMENT);
	assert_int_equal(nv.nvmlGpuInstanceGetComputeInstanceProfileInfo(gi,
	    0, 1, &c), NVML_ERROR_INVALID_ARGUMENT);
	memset(&c2, 0, sizeof(c2));
	c2.version = nvmlComputeInstanceProfileInfo_v2;
	assert_int_equal(nv.nvmlGpuInstanceGetComputeInstanceProfileInfoV(gi,
	    NVML_COMPUTE_INSTANCE_PROFILE_1_SLICE, 0, &c2), NVML_SUCCESS);
	assert_string_equal(c2.name, "MIG 1c.3g.20gb");
	/* MIG off: the profiles are still there; not MIG capable: none. */
	assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
	init_profile("a100-pcie-4x.yaml");
	assert_int_equal(nv.nvmlDeviceGetGpuInstanceProfileInfo(handle(0), 0,
	    &p), NVML_SUCCESS);
	assert_int_equal(nv.nvmlDeviceGetGpuInstanceById(handle(0), 0, &gi),
	    NVML_ERROR_INVALID_STATE);
	assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
	init_profile(nc6.file);
	assert_int_equal(nv.nvmlDeviceGetGpuInstanceProfileInfo(handle(0), 0,
	    &p), NVML_ERROR_NOT_SUPPORTED);
}

/* C < G: two compute instances in one GPU instance. */
static void
test_mig_c_lt_g(void **state)
{
	nvmlDevice_t gpu, a, b;
	nvmlDeviceAttributes_t at;
	nvmlGpuInstance_t gi = NULL;
	nvmlComputeInstance_t ci = NULL;
	nvmlComputeInstanceInfo_t cii;
	char buf[NVML_DEVICE_NAME_V2_BUFFER_SIZE];

	init_profile("mig-c-lt-g.yaml");
	gpu = handle(0);
	a = mig_handle(gpu, 1);
	b = mig_handle(gpu, 2);
	assert_int_equal(nv.nvmlDeviceGetAttributes(b, &at), NVML_SUCCESS);
	assert_int_equal(at.gpuInstanceSliceCount, 2);
	assert_int_equal(at.computeInstanceSliceCount, 1);
	assert_int_equal(at.multiprocessorCount, 14);
	assert_int_equal(at.memorySizeMB, 9856);
	assert_int_equal(nv.nvmlDeviceGetName(a, buf, sizeof(buf)),
	    NVML_SUCCESS);
	assert_string_equal(buf, "NVIDIA A100-SXM4-40GB MIG 1c.2g.10gb");
	assert_int_equal(nv.nvmlDeviceGetGpuInstanceById(gpu, 5, &gi),
	    NVML_SUCCESS);
	assert_int_equal(nv.nvmlGpuInstanceGetComputeInstanceById(gi, 1, &ci),
	    NVML_SUCCESS);
	assert_int_equal(nv.nvmlComputeInstanceGetInfo(ci, &cii),
	    NVML_SUCCESS);
	assert_int_equal(cii.profileId, NVML_COMPUTE_INSTANCE_PROFILE_1_SLICE);
	assert_int_equal(cii.placement.start, 1);
	assert_int_equal(cii.placement.size, 1);
}

/* Every shipped MIG profile loads, and its MIG memory rounds to the GB
 * its profile names, by NVIDIA's rule. */
static void
test_mig_shipped(void **state)
{
	static const char *const files[] = {
		"a100-sxm4-40gb-mig.yaml", "a100-sxm4-40gb-mig-relayout.yaml",
		"h100-80gb-mig.yaml", "h200-141gb-mig.yaml",
		"a100-sxm4-40gb-mig-single.yaml", "h100-80gb-mig-single.yaml",
		"h200-141gb-mig-single.yaml", "mig-no-devices.yaml",
		"mig-and-full-gpus.yaml", "mig-two-types.yaml",
		"mig-c-lt-g.yaml", "rtx-pro-6000-mig.yaml",
	};
	nvmlGpuInstanceProfileInfo_v2_t p;
	nvmlMemory_t mem;
	unsigned int count, i, k;
	size_t f;

	for (f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		init_profile(files[f]);
		assert_int_equal(nv.nvmlDeviceGetCount(&count), NVML_SUCCESS);
		for (i = 0; i < count; i++) {
			assert_int_equal(nv.nvmlDeviceGetMemoryInfo(handle(i),
			    &mem), NVML_SUCCESS);
			for (k = 0; k < NVML_GPU_INSTANCE_PROFILE_COUNT; k++) {
				double frac, gib;
				unsigned int gb, g;
				char want[64];

				memset(&p, 0, sizeof(p));
				p.version = nvmlGpuInstanceProfileInfo_v2;
				if (nv.nvmlDeviceGetGpuInstanceProfileInfoV(
				    handle(i), k, &p) != NVML_SUCCESS)
					continue;
				frac = ceil((double)p.memorySizeMB * 1048576.0 /
				    (double)mem.total * 8.0) / 8.0;
				gib = (double)((mem.total + (1ULL << 30) - 1) >>
				    30);
				gb = (unsigned int)round(frac * gib);
				assert_int_equal(sscanf(p.name, "MIG %ug.", &g),
				    1);
				snprintf(want, sizeof(want), "MIG %ug.%ugb", g,
				    gb);
				if (strncmp(p.name, want, strlen(want)) != 0)
					fail_msg("%s: %s rounds to %u GB",
					    files[f], p.name, gb);
			}
		}
		assert_int_equal(nv.nvmlShutdown(), NVML_SUCCESS);
	}
}

#define MIG_GPU(mode) GOOD_TOP "gpus:\n  - name: NVIDIA A100-SXM4-40GB\n" \
	"    uuid: " UUID_A "\n    memory_mib: 40960\n" \
	"    pci_bus_id: \"00000001:00:00.0\"\n    minor_number: 0\n" \
	"    compute_capability: \"8.0\"\n    mig_mode: " mode "\n" \
	"    mig_devices:\n"
#define MIG_DEV(profile, gi, ci, uuid) "      - profile: " profile "\n" \
	"        gi: " #gi "\n        ci: " #ci "\n        uuid: " uuid "\n"
#define MIG_U1 "MIG-11111111-2222-3333-4444-555555555555"
#define MIG_U2 "MIG-11111111-2222-3333-4444-666666666666"
#define MIG_U3 "MIG-11111111-2222-3333-4444-777777777777"

static const struct bad_profile bad_mig_profiles[] = {
	{ MIG_GPU("enabled") MIG_DEV("1g.6gb", 7, 0, MIG_U1),
	    ": gpus[0].mig_devices[0]: profile '1g.6gb' is not one of" },
	{ MIG_GPU("disabled") MIG_DEV("1g.5gb", 7, 0, MIG_U1),
	    ": gpus[0].mig_devices[0]: MIG devices need mig_mode: enabled" },
	{ MIG_GPU("enabled") MIG_DEV("2c.1g.5gb", 7, 0, MIG_U1),
	    ": gpus[0].mig_devices[0]: profile '2c.1g.5gb': no compute" },
	{ MIG_GPU("enabled") MIG_DEV("1g.5gb", 7, 0, MIG_U1)
	    MIG_DEV("1g.5gb", 7, 0, MIG_U2),
	    ": gpus[0].mig_devices[1]: gi 7 ci 0 given twice" },
	{ MIG_GPU("enabled") MIG_DEV("1g.5gb", 7, 0, MIG_U1)
	    MIG_DEV("1g.5gb", 8, 0, MIG_U1),
	    ": gpus[0].mig_devices[1]: uuid the same as [0]'s" },
	{ MIG_GPU("enabled") MIG_DEV("4g.20gb", 1, 0, MIG_U1)
	    MIG_DEV("4g.20gb", 2, 0, MIG_U2),
	    ": gpus[0].mig_devices[1]: the GPU instances need more than 7" },
	{ MIG_GPU("enabled") MIG_DEV("1g.5gb+me", 7, 0, MIG_U1)
	    MIG_DEV("1g.5gb+me", 8, 0, MIG_U2),
	    ": gpus[0].mig_devices[1]: more than 1 GPU instances of" },
	{ MIG_GPU("enabled") MIG_DEV("1c.2g.10gb", 5, 0, MIG_U1)
	    MIG_DEV("1c.2g.10gb", 5, 1, MIG_U2)
	    MIG_DEV("1c.2g.10gb", 5, 2, MIG_U3),
	    ": gpus[0].mig_devices[2]: gi 5's compute instances need more" },
	{ MIG_GPU("enabled") MIG_DEV("1g.5gb", 7, 0, MIG_U1)
	    MIG_DEV("2g.10gb", 7, 1, MIG_U2),
	    ": gpus[0].mig_devices[1]: gi 7 has another profile" },
	{ MIG_GPU("enabled") MIG_DEV("1g.5gb", 15, 0, MIG_U1),
	    ": gpus[0].mig_devices[0]: gi is 0..14" },
	{ MIG_GPU("enabled") "      - profile: 1g.5gb\n        gi: 7\n"
	    "        ci: 0\n        uuid: GPU-11111111-2222-3333-4444-5555"
	    "55555555\n", ":15: gpus[0].mig_devices[0].uuid: 'GPU-" },
	{ MIG_GPU("enabled") "      - profile: 1g.5gb\n        gi: 7\n"
	    "        uuid: " MIG_U1 "\n",
	    ":12: gpus[0].mig_devices[0].ci: missing" },
};

static void
test_mig_malformed(void **state)
{
	char path[256], err[2048], want[512];
	size_t i;

	for (i = 0; i < sizeof(bad_mig_profiles) / sizeof(bad_mig_profiles[0]);
	    i++) {
		write_temp(path, sizeof(path), bad_mig_profiles[i].text);
		assert_int_equal(setenv("FAKE_NVML_PROFILE", path, 1), 0);
		assert_int_equal(init_capturing(err, sizeof(err)),
		    NVML_ERROR_UNKNOWN);
		unlink(path);
		snprintf(want, sizeof(want), "fakenvml: %s%s", path,
		    bad_mig_profiles[i].where);
		if (strstr(err, want) == NULL)
			fail_msg("case %zu: wanted '%s', got '%s'", i, want,
			    err);
	}
}

/* mig-layout replaces the layout, says so through MigConfigChange, and
 * a MIG UUID in an xid line stands for its GPU, GI and CI. */
static void
test_control_mig(void **state)
{
	nvmlDevice_t gpu, mig, other = NULL;
	nvmlEventSet_t set;
	unsigned long long types = 0;
	unsigned int u;
	char buf[NVML_DEVICE_UUID_V2_BUFFER_SIZE];

	init_profile(A100_MIG);
	gpu = handle(0);
	assert_int_equal(nv.nvmlDeviceGetSupportedEventTypes(gpu, &types),
	    NVML_SUCCESS);
	assert_true(types & nvmlEventTypeMigConfigChange);
	set = event_set(gpu, nvmlEventTypeXidCriticalError |
	    nvmlEventTypeMigConfigChange);
	control_sendf("xid %s 43\n", A100_MIG_0_3);
	expect_event(set, gpu, nvmlEventTypeXidCriticalError, 43, 14, 0);
	control_sendf("mig-layout %s/a100-sxm4-40gb-mig-relayout.yaml\n",
	    profiles_dir);
	expect_event(set, gpu, nvmlEventTypeMigConfigChange, 0, NO_INSTANCE,
	    NO_INSTANCE);
	mig = mig_handle(gpu, 0);
	assert_int_equal(nv.nvmlDeviceGetUUID(mig, buf, sizeof(buf)),
	    NVML_SUCCESS);
	assert_string_equal(buf, "MIG-bdd5dabd-448f-b8c1-85d6-006a74d70880");
	assert_int_equal(nv.nvmlDeviceGetMigDeviceHandleByIndex(gpu, 1,
	    &other), NVML_ERROR_NOT_FOUND);
	/* GPU 1 kept its layout: no event; the same layout again: none. */
	control_sendf("mig-layout %s/a100-sxm4-40gb-mig-relayout.yaml\n",
	    profiles_dir);
	control_fenced("", set, A100_MIG_GPU0);
	assert_no_event(set);
	assert_int_equal(nv.nvmlEventSetFree(set), NVML_SUCCESS);
	/* A new cycle of the same profile keeps it; another forgets it. */
	assert_int_equal(shutdown_all(state), 0);
	init_profile(A100_MIG);
	assert_int_equal(nv.nvmlDeviceGetMigDeviceHandleByIndex(handle(0), 1,
	    &other), NVML_ERROR_NOT_FOUND);
	assert_int_equal(shutdown_all(state), 0);
	init_profile(nc6.file);
	assert_int_equal(shutdown_all(state), 0);
	init_profile(A100_MIG);
	(void)mig_handle(handle(0), 3);
	/* A 4-slice GPU has 4 MIG device slots. */
	assert_int_equal(shutdown_all(state), 0);
	init_profile("rtx-pro-6000-mig.yaml");
	assert_int_equal(nv.nvmlDeviceGetMaxMigDeviceCount(handle(0), &u),
	    NVML_SUCCESS);
	assert_int_equal(u, 4);
	assert_int_equal(nv.nvmlDeviceGetMigDeviceHandleByIndex(handle(0), 4,
	    &other), NVML_ERROR_INVALID_ARGUMENT);
}

#define T(f) cmocka_unit_test_teardown(f, shutdown_all)
#define C(f) cmocka_unit_test_setup_teardown(f, control_setup, \
	control_teardown)
#define F(f) cmocka_unit_test_setup_teardown(f, faults_setup, \
	faults_teardown)
#define P(e) cmocka_unit_test_prestate_setup_teardown(test_profile, NULL, \
	shutdown_all, (void *)&(e))

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		T(test_exports),
		T(test_uninitialized),
		T(test_error_strings),
		P(nc6), P(nc24), P(nd96), P(dgx), P(none),
		T(test_refcount),
		T(test_reread),
		T(test_buffer_sizes),
		T(test_bad_arguments),
		T(test_no_gpus),
		T(test_init_error),
		T(test_lost_gpu),
		T(test_missing_env),
		T(test_malformed),
		T(test_mig),
		T(test_mig_handles),
		T(test_mig_instances),
		T(test_mig_profiles),
		T(test_mig_c_lt_g),
		T(test_mig_shipped),
		T(test_mig_malformed),
		C(test_control_mig),
		T(test_topology),
		T(test_pcie_path),
		T(test_event_timeout),
		T(test_pending_xids),
		T(test_wait_from_thread),
		C(test_control_fifo),
		C(test_control_xid),
		C(test_control_partial),
		C(test_control_lost_reset),
		C(test_control_wait_error),
		C(test_control_bad_commands),
		C(test_control_shutdown),
		T(test_no_events),
		T(test_event_wait_empty),
		F(test_fail_nth),
		F(test_fail_init),
		F(test_count_threads),
		F(test_fail_malformed),
		F(test_trace_every_entry_point),
		F(test_trace_at_exit),
		F(test_hide),
	};
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: %s LIBRARY PROFILES_DIR\n", argv[0]);
		return 2;
	}
	lib_path = argv[1];
	profiles_dir = argv[2];
	if (load_library() != 0)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	dlclose(nv.dl);
	return rc;
}
