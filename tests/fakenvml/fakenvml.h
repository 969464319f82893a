/*
 * fakenvml.h: the fake NVML library's internals, shared by its files.
 *
 * The fake stands in for libnvidia-ml.so.1 in tests and demos: a profile
 * (a YAML file named by FAKE_NVML_PROFILE) describes a machine, and the
 * exported NVML entry points answer from it. The entry points' types come
 * from src/nvml/nvml_types.h, the same header the real binding uses, so a
 * signature change there breaks this build instead of a test run.
 *
 * Each entry point is written as a hidden fake_SYMBOL (fake_nvmlInit_v2)
 * that starts with fake_enter*() (counting, injected faults: faults.c);
 * exports.c exports it under its NVML name. FAKE_ENTRY_POINTS below is
 * the one list of them.
 *
 * A device handle (nvmlDevice_t) is a pointer into a fixed array of
 * struct nvmlDevice_st, so a stale handle from an earlier init never
 * points at freed memory; it simply fails validation.
 */
#ifndef FAKENVML_H
#define FAKENVML_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "nvml/nvml_types.h"

/* Only the NVML API is exported; the build hides everything else. */
#define FAKE_API __attribute__((visibility("default")))

#define FAKE_MAX_GPUS 64
#define FAKE_MAX_NVSWITCHES 64
#define FAKE_MAX_PENDING_XIDS 8
#define FAKE_MAX_PCIE_HOPS 4		/* host bridge + up to 3 switches */
#define FAKE_PCIE_NAME_SIZE 32
#define FAKE_NAME_SIZE NVML_DEVICE_NAME_V2_BUFFER_SIZE
#define FAKE_UUID_SIZE NVML_DEVICE_UUID_V2_BUFFER_SIZE
#define FAKE_DRIVER_SIZE NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE
/* Every event type the fake reports as supported. */
#define FAKE_SUPPORTED_EVENTS \
	(nvmlEventTypeXidCriticalError | nvmlEventTypeSingleBitEccError | \
	    nvmlEventTypeDoubleBitEccError)
/* ...and, on a GPU in MIG mode, MIG layout changes too. */
#define FAKE_MIG_EVENTS nvmlEventTypeMigConfigChange
/* GPU and compute instance ids of an event that is not MIG-scoped. */
#define FAKE_NO_INSTANCE 0xFFFFFFFFu

/* A PCI address, parsed from NVML's "DDDDDDDD:BB:DD.F" form. */
struct fake_pci {
	unsigned int domain;
	unsigned int bus;
	unsigned int device;
	unsigned int function;
};

enum fake_mig {
	FAKE_MIG_UNSUPPORTED,	/* not MIG capable: GetMigMode NOT_SUPPORTED */
	FAKE_MIG_DISABLED,
	FAKE_MIG_ENABLED,
};

/* CUDA compute capability, "major.minor". */
struct fake_cc {
	int major;
	int minor;
};

/* A GPU's NVLinks: links 0..count-1 are active, the rest are down. */
struct fake_links {
	unsigned int count;
	struct fake_pci remote[NVML_NVLINK_MAX_LINKS];
};

/*
 * A GPU's place in the PCIe tree: the names of its upstream bridges, root
 * first (hop[0] the host bridge, then PCIe switches, nearest the GPU
 * last). count 0: not described, the common ancestor comes from NUMA.
 */
struct fake_pcie_path {
	unsigned int count;
	char hop[FAKE_MAX_PCIE_HOPS][FAKE_PCIE_NAME_SIZE];
};

/* MIG devices of a GPU: at most one per slice. */
#define FAKE_MAX_MIGS 7
#define FAKE_MIG_PROFILE_SIZE 32

/* One MIG device as a profile gives it (mig.c derives the rest). */
struct fake_mig_spec {
	char profile[FAKE_MIG_PROFILE_SIZE];	/* "1g.5gb", "1c.2g.10gb" */
	char uuid[FAKE_UUID_SIZE];		/* "MIG-..." */
	unsigned int gi, ci;			/* instance ids */
	unsigned int placement;			/* GI start slice */
	bool has_placement;			/* else derived */
};

/* A GPU's MIG layout: its MIG devices in handle-index order. */
struct fake_mig_layout {
	unsigned int count;
	struct fake_mig_spec dev[FAKE_MAX_MIGS];
};

/* XIDs a GPU reports as soon as an event set registers it for XIDs. */
struct fake_xids {
	unsigned int count;
	unsigned long long xid[FAKE_MAX_PENDING_XIDS];
};

/* One GPU of the profile; nvmlDevice_t points at one of these. */
struct nvmlDevice_st {
	char name[FAKE_NAME_SIZE];
	char uuid[FAKE_UUID_SIZE];
	unsigned long long memory_mib;
	struct fake_pci pci;
	unsigned int pci_device_id;	/* (device << 16) | vendor */
	unsigned int pci_subsystem_id;
	unsigned int minor;
	int numa_node;			/* -1: no NUMA affinity */
	struct fake_cc cc;
	enum fake_mig mig;
	struct fake_links nvlinks;
	struct fake_pcie_path pcie_path;
	struct fake_xids pending_xids;	/* sent on XID registration */
	struct fake_mig_layout mig_layout;	/* as the profile gives it */
	atomic_bool lost;		/* every query answers GPU_IS_LOST */
};

/* A PCI device on the far side of an NVLink that is not a GPU. */
struct fake_nvswitch {
	struct fake_pci pci;
	unsigned int pci_device_id;
};

/* How nvmlEventSetWait behaves when no event is queued. */
enum fake_event_wait {
	FAKE_WAIT_BLOCK,	/* waits up to the timeout, as NVML does */
	FAKE_WAIT_TIMEOUT,	/* answers TIMEOUT at once, whatever the wait */
	FAKE_WAIT_EMPTY,	/* answers SUCCESS at once, writing nothing */
};

/* The whole machine, as a profile describes it. */
struct fake_machine {
	nvmlReturn_t init_error;	/* NVML_SUCCESS: init works */
	enum fake_event_wait event_wait;
	unsigned long long supported_events;	/* of FAKE_SUPPORTED_EVENTS */
	char driver_version[FAKE_DRIVER_SIZE];
	int cuda_driver_version;	/* 1000 * major + 10 * minor */
	unsigned int gpu_count;
	struct nvmlDevice_st gpus[FAKE_MAX_GPUS];
	unsigned int nvswitch_count;
	struct fake_nvswitch nvswitches[FAKE_MAX_NVSWITCHES];
};

/*
 * The exported entry points. Each is declared through the function type
 * that nvml_types.h gives its entry, so the compiler checks every
 * definition against the binding's view of it.
 */
#define FAKE_FN_TYPE(name, ret, args) typedef ret fake_##name##_t args;
GDP_NVML_FUNCTIONS(FAKE_FN_TYPE)
#undef FAKE_FN_TYPE

/*
 * Every exported entry point, X(SYMBOL, TYPE), by the file that defines
 * it: SYMBOL is the exported name, TYPE names its fake_TYPE_t. This one
 * list makes the symbol ids (FAKE_SYM_SYMBOL) that faults.c counts by,
 * the declarations of the implementations (fake_SYMBOL, hidden), and
 * exports.c's table of exported names.
 */
#define FAKE_ENTRY_POINTS(X) \
	/* lib.c */ \
	X(nvmlInit_v2, nvmlInit) \
	X(nvmlInit, nvmlInit) \
	X(nvmlShutdown, nvmlShutdown) \
	X(nvmlSystemGetDriverVersion, nvmlSystemGetDriverVersion) \
	X(nvmlSystemGetCudaDriverVersion_v2, nvmlSystemGetCudaDriverVersion) \
	X(nvmlSystemGetCudaDriverVersion, nvmlSystemGetCudaDriverVersion) \
	/* errors.c */ \
	X(nvmlErrorString, nvmlErrorString) \
	/* device.c */ \
	X(nvmlDeviceGetCount_v2, nvmlDeviceGetCount) \
	X(nvmlDeviceGetCount, nvmlDeviceGetCount) \
	X(nvmlDeviceGetHandleByIndex_v2, nvmlDeviceGetHandleByIndex) \
	X(nvmlDeviceGetHandleByIndex, nvmlDeviceGetHandleByIndex) \
	X(nvmlDeviceGetHandleByUUID, nvmlDeviceGetHandleByUUID) \
	X(nvmlDeviceGetIndex, nvmlDeviceGetIndex) \
	X(nvmlDeviceGetName, nvmlDeviceGetName) \
	X(nvmlDeviceGetUUID, nvmlDeviceGetUUID) \
	X(nvmlDeviceGetMinorNumber, nvmlDeviceGetMinorNumber) \
	X(nvmlDeviceGetPciInfo_v3, nvmlDeviceGetPciInfo) \
	X(nvmlDeviceGetPciInfo_v2, nvmlDeviceGetPciInfo) \
	X(nvmlDeviceGetPciInfo, nvmlDeviceGetPciInfoV1) \
	X(nvmlDeviceGetMemoryInfo, nvmlDeviceGetMemoryInfo) \
	X(nvmlDeviceGetCudaComputeCapability, \
	    nvmlDeviceGetCudaComputeCapability) \
	/* topology.c */ \
	X(nvmlDeviceGetNvLinkState, nvmlDeviceGetNvLinkState) \
	X(nvmlDeviceGetNvLinkRemotePciInfo_v2, \
	    nvmlDeviceGetNvLinkRemotePciInfo) \
	X(nvmlDeviceGetNvLinkRemotePciInfo, nvmlDeviceGetNvLinkRemotePciInfo) \
	X(nvmlDeviceGetNvLinkRemoteDeviceType, \
	    nvmlDeviceGetNvLinkRemoteDeviceType) \
	X(nvmlDeviceGetTopologyCommonAncestor, \
	    nvmlDeviceGetTopologyCommonAncestor) \
	/* mig.c */ \
	X(nvmlDeviceGetMigMode, nvmlDeviceGetMigMode) \
	X(nvmlDeviceGetMaxMigDeviceCount, nvmlDeviceGetMaxMigDeviceCount) \
	X(nvmlDeviceGetMigDeviceHandleByIndex, \
	    nvmlDeviceGetMigDeviceHandleByIndex) \
	X(nvmlDeviceIsMigDeviceHandle, nvmlDeviceIsMigDeviceHandle) \
	X(nvmlDeviceGetDeviceHandleFromMigDeviceHandle, \
	    nvmlDeviceGetDeviceHandleFromMigDeviceHandle) \
	X(nvmlDeviceGetGpuInstanceId, nvmlDeviceGetGpuInstanceId) \
	X(nvmlDeviceGetComputeInstanceId, nvmlDeviceGetComputeInstanceId) \
	X(nvmlDeviceGetAttributes_v2, nvmlDeviceGetAttributes) \
	X(nvmlDeviceGetGpuInstanceProfileInfo, \
	    nvmlDeviceGetGpuInstanceProfileInfo) \
	X(nvmlDeviceGetGpuInstanceProfileInfoV, \
	    nvmlDeviceGetGpuInstanceProfileInfoV) \
	X(nvmlDeviceGetGpuInstanceById, nvmlDeviceGetGpuInstanceById) \
	X(nvmlGpuInstanceGetInfo, nvmlGpuInstanceGetInfo) \
	X(nvmlGpuInstanceGetComputeInstanceById, \
	    nvmlGpuInstanceGetComputeInstanceById) \
	X(nvmlComputeInstanceGetInfo_v2, nvmlComputeInstanceGetInfo) \
	X(nvmlComputeInstanceGetInfo, nvmlComputeInstanceGetInfo) \
	X(nvmlGpuInstanceGetComputeInstanceProfileInfo, \
	    nvmlGpuInstanceGetComputeInstanceProfileInfo) \
	X(nvmlGpuInstanceGetComputeInstanceProfileInfoV, \
	    nvmlGpuInstanceGetComputeInstanceProfileInfoV) \
	/* events.c */ \
	X(nvmlEventSetCreate, nvmlEventSetCreate) \
	X(nvmlDeviceGetSupportedEventTypes, nvmlDeviceGetSupportedEventTypes) \
	X(nvmlDeviceRegisterEvents, nvmlDeviceRegisterEvents) \
	X(nvmlEventSetWait_v2, nvmlEventSetWait) \
	X(nvmlEventSetWait, nvmlEventSetWait) \
	X(nvmlEventSetFree, nvmlEventSetFree)

/* FAKE_SYM_nvmlInit_v2, ...: an entry point's id, for faults.c. */
enum fake_sym {
#define FAKE_SYM_ID(sym, type) FAKE_SYM_##sym,
	FAKE_ENTRY_POINTS(FAKE_SYM_ID)
#undef FAKE_SYM_ID
	FAKE_SYM_COUNT
};

/* The implementations, fake_nvmlInit_v2 and so on; exports.c exports
 * each under its NVML name. */
#define FAKE_IMPL(sym, type) fake_##type##_t fake_##sym;
FAKE_ENTRY_POINTS(FAKE_IMPL)
#undef FAKE_IMPL

/* lib.c: the loaded machine, valid while the library is initialised. */
extern struct fake_machine fake_machine;

/* mig.c */
/* Checks every GPU's MIG layout of |m| against the built-in profile
 * tables; 0, or -EINVAL after a message naming |path|. */
int fake_mig_check(const char *path, const struct fake_machine *m);
/* Builds the MIG devices of fake_machine (checked) at a cycle's start. */
void fake_mig_load(void);
/* Whether GPU |dev| is in MIG mode now. */
bool fake_mig_enabled(nvmlDevice_t dev);
/* Whether |dev| is one of the MIG device handles (valid or stale). */
bool fake_is_mig_handle(nvmlDevice_t dev);
/* Checks an initialised library and a valid GPU or MIG device handle,
 * whose GPU is not lost. */
nvmlReturn_t fake_enter_any(enum fake_sym sym, nvmlDevice_t dev);
/* Name, UUID and memory of a MIG handle that fake_enter_any passed. */
nvmlReturn_t fake_mig_name(nvmlDevice_t mig, char *buf, unsigned int len);
nvmlReturn_t fake_mig_uuid(nvmlDevice_t mig, char *buf, unsigned int len);
unsigned long long fake_mig_memory_mib(nvmlDevice_t mig);
/* The MIG device with |uuid|: 0 and its GPU and instance ids, or -ENOENT.
 * Needs only a loaded machine. */
int fake_mig_by_uuid(const char *uuid, nvmlDevice_t *mig,
    nvmlDevice_t *gpu, unsigned int *gi, unsigned int *ci);
/* Replaces GPU |gpu|'s layout (mode and devices) from the control
 * thread; 0, or -EINVAL after a message. Posts MigConfigChange when the
 * layout changed. */
int fake_mig_relayout(unsigned int gpu, enum fake_mig mode,
    const struct fake_mig_layout *layout, const char *path);

/* Returns NVML_SUCCESS when nvmlInit has been called more often than
 * nvmlShutdown, else NVML_ERROR_UNINITIALIZED. */
nvmlReturn_t fake_check_init(void);
/* Checks an initialised library and a valid, not lost, handle. */
nvmlReturn_t fake_check_device(nvmlDevice_t dev);
/* What every entry point does first: counts the call of |sym|, then
 * answers the error FAKE_NVML_FAIL gives it, else fake_check_init()'s. */
nvmlReturn_t fake_enter(enum fake_sym sym);
/* The same, then fake_check_device(dev)'s answer. */
nvmlReturn_t fake_enter_device(enum fake_sym sym, nvmlDevice_t dev);
/* The index of a handle known to be valid. */
unsigned int fake_device_index(nvmlDevice_t dev);
/* device.c: the GPU whose UUID is |uuid|, or NULL. Needs a loaded
 * machine, not an initialised library (the control thread calls it). */
nvmlDevice_t fake_device_by_uuid(const char *uuid);
/* Copies |s| into the caller's |buf| of |length| bytes, NVML style:
 * INVALID_ARGUMENT for a NULL buffer, INSUFFICIENT_SIZE if it won't fit. */
nvmlReturn_t fake_copy_string(const char *s, char *buf, unsigned int length);
/* Formats |pci| the way NVML does: "%08X:%02X:%02X.%X". */
void fake_pci_format(const struct fake_pci *pci, char *buf, size_t size);
/* Fills an nvmlPciInfo_t for |pci| with the given PCI ids. */
void fake_pci_info(const struct fake_pci *pci, unsigned int device_id,
    unsigned int subsystem_id, nvmlPciInfo_t *out);

/* exports.c: the entry points by name, and FAKE_NVML_HIDE. */
/* The name |sym| is exported as. */
const char *fake_symbol_name(enum fake_sym sym);
/* Finds the entry point exported as the |len| bytes at |name|; 0 or
 * -ENOENT. */
int fake_symbol_by_name(const char *name, size_t len, enum fake_sym *sym);
/* Checks that FAKE_NVML_HIDE names only entry points; 0, or -EINVAL after
 * a message on stderr. */
int fake_hide_check(void);

/* faults.c: FAKE_NVML_FAIL and FAKE_NVML_TRACE. */
/* Counts a call of |sym| and returns the error FAKE_NVML_FAIL gives this
 * call, or NVML_SUCCESS. Safe from any thread. */
nvmlReturn_t fake_fault(enum fake_sym sym);
/* Reads FAKE_NVML_FAIL; call at the first init of a cycle. 0, or -EINVAL
 * after a message naming the bad spec (and then no fault is in force). */
int fake_faults_load(void);
/* Writes the call counts to FAKE_NVML_TRACE, if it is set. */
void fake_trace_write(void);

/* errors.c: the NVML return codes by name. */
/* Finds |name| ("NVML_ERROR_GPU_IS_LOST"); 0 or -ENOENT. */
int fake_error_by_name(const char *name, nvmlReturn_t *code);

/* profile.c: loads |path| into |m|; 0, or -EINVAL/-ENOENT/-ENOMEM after
 * printing the file, line, key and reason to stderr. */
int fake_profile_load(const char *path, struct fake_machine *m);
/* Parses "DDDDDDDD:BB:DD.F" (hex, either case); 0 or -EINVAL. */
int fake_pci_parse(const char *s, struct fake_pci *pci);

/* events.c */
/* Queues an event for every event set that registered |dev| for |type|,
 * with GPU and compute instance ids |gi|, |ci| (FAKE_NO_INSTANCE when not
 * MIG-scoped), and wakes the waiters. Safe from any thread. Returns the
 * number of sets it reached. */
int fake_event_post(nvmlDevice_t dev, unsigned long long type,
    unsigned long long data, unsigned int gi, unsigned int ci);
/* Makes every nvmlEventSetWait fail with |rc| at once, waking those
 * already waiting; NVML_SUCCESS makes Wait work again. */
void fake_events_set_wait_error(nvmlReturn_t rc);
/* |on|: every event wait blocks until this is called with 0 (or shutdown). */
void fake_events_set_hang(int on);
/* Wakes every waiter to look again: call after a GPU's lost flag changes. */
void fake_events_wake(void);
/* Forgets every event set's registrations and queue and the wait error,
 * and wakes the waiters (at full shutdown). */
void fake_events_reset(void);

/* control.c: the run-time control channel, the FIFO FAKE_NVML_CONTROL. */
/* Opens the FIFO (making it if missing) and starts the thread reading it;
 * does nothing when the variable is unset or empty. NVML_SUCCESS, or
 * NVML_ERROR_UNKNOWN after a message on stderr. Call at the first init of
 * a cycle, with the machine loaded. */
nvmlReturn_t fake_control_start(void);
/* Applies the last mig-layout again if it was given over the profile
 * just loaded (FAKE_NVML_PROFILE unchanged); call at a cycle's start. */
void fake_control_reapply(void);
/* Stops the thread (if running), joins it and closes the FIFO. */
void fake_control_stop(void);

#endif /* FAKENVML_H */
