/*
 * nvml_types.h: the NVML types, constants and entry-point signatures this
 * project uses, declared here so that no vendor header is needed to build.
 *
 * These are public facts of NVML's C ABI (struct layouts, enum values,
 * symbol names and argument lists); the names follow NVML's own so that
 * they can be checked against its documentation. Both the dlopen binding
 * (src/nvml/nvml.c) and the fake library used by tests
 * (tests/fakenvml) include this file, so the two cannot drift apart.
 */
#ifndef GDP_NVML_TYPES_H
#define GDP_NVML_TYPES_H

typedef enum nvmlReturn_enum {
	NVML_SUCCESS = 0,
	NVML_ERROR_UNINITIALIZED = 1,
	NVML_ERROR_INVALID_ARGUMENT = 2,
	NVML_ERROR_NOT_SUPPORTED = 3,
	NVML_ERROR_NO_PERMISSION = 4,
	NVML_ERROR_ALREADY_INITIALIZED = 5,
	NVML_ERROR_NOT_FOUND = 6,
	NVML_ERROR_INSUFFICIENT_SIZE = 7,
	NVML_ERROR_INSUFFICIENT_POWER = 8,
	NVML_ERROR_DRIVER_NOT_LOADED = 9,
	NVML_ERROR_TIMEOUT = 10,
	NVML_ERROR_IRQ_ISSUE = 11,
	NVML_ERROR_LIBRARY_NOT_FOUND = 12,
	NVML_ERROR_FUNCTION_NOT_FOUND = 13,
	NVML_ERROR_CORRUPTED_INFOROM = 14,
	NVML_ERROR_GPU_IS_LOST = 15,
	NVML_ERROR_RESET_REQUIRED = 16,
	NVML_ERROR_OPERATING_SYSTEM = 17,
	NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18,
	NVML_ERROR_IN_USE = 19,
	NVML_ERROR_MEMORY = 20,
	NVML_ERROR_NO_DATA = 21,
	NVML_ERROR_VGPU_ECC_NOT_SUPPORTED = 22,
	NVML_ERROR_INSUFFICIENT_RESOURCES = 23,
	NVML_ERROR_FREQ_NOT_SUPPORTED = 24,
	NVML_ERROR_ARGUMENT_VERSION_MISMATCH = 25,
	NVML_ERROR_DEPRECATED = 26,
	NVML_ERROR_NOT_READY = 27,
	NVML_ERROR_GPU_NOT_FOUND = 28,
	NVML_ERROR_INVALID_STATE = 29,
	NVML_ERROR_UNKNOWN = 999,
} nvmlReturn_t;

typedef struct nvmlDevice_st *nvmlDevice_t;
typedef struct nvmlEventSet_st *nvmlEventSet_t;

typedef enum nvmlEnableState_enum {
	NVML_FEATURE_DISABLED = 0,
	NVML_FEATURE_ENABLED = 1,
} nvmlEnableState_t;

/* Buffer sizes NVML documents for its string queries. */
#define NVML_DEVICE_UUID_V2_BUFFER_SIZE 96
#define NVML_DEVICE_NAME_V2_BUFFER_SIZE 96
#define NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE 32
#define NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE 16
#define NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE 80
/* NVLink links per device in current drivers. */
#define NVML_NVLINK_MAX_LINKS 18

/* nvmlDeviceGetTopologyCommonAncestor: nearest first. */
typedef enum nvmlGpuTopologyLevel_enum {
	NVML_TOPOLOGY_INTERNAL = 0,     /* the same board */
	NVML_TOPOLOGY_SINGLE = 10,      /* one PCIe switch */
	NVML_TOPOLOGY_MULTIPLE = 20,    /* several PCIe switches */
	NVML_TOPOLOGY_HOSTBRIDGE = 30,  /* the same host bridge */
	NVML_TOPOLOGY_NODE = 40,        /* host bridges of one NUMA node */
	NVML_TOPOLOGY_SYSTEM = 50,      /* across the SMP interconnect */
} nvmlGpuTopologyLevel_t;

/* nvmlDeviceGetNvLinkRemoteDeviceType: what is at a link's far end. */
typedef enum nvmlIntNvLinkDeviceType_enum {
	NVML_NVLINK_DEVICE_TYPE_GPU = 0x00,
	NVML_NVLINK_DEVICE_TYPE_IBMNPU = 0x01,
	NVML_NVLINK_DEVICE_TYPE_SWITCH = 0x02,
	NVML_NVLINK_DEVICE_TYPE_UNKNOWN = 0xFF,
} nvmlIntNvLinkDeviceType_t;

/* nvmlDeviceGetPciInfo_v2/_v3 and nvmlDeviceGetNvLinkRemotePciInfo_v2. */
typedef struct nvmlPciInfo_st {
	char busIdLegacy[NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE];
	unsigned int domain;
	unsigned int bus;
	unsigned int device;
	unsigned int pciDeviceId;
	unsigned int pciSubSystemId;
	char busId[NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE];
} nvmlPciInfo_t;

/* The original nvmlDeviceGetPciInfo (v1) layout. */
typedef struct nvmlPciInfoV1_st {
	char busId[NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE];
	unsigned int domain;
	unsigned int bus;
	unsigned int device;
	unsigned int pciDeviceId;
	unsigned int pciSubSystemId;
	unsigned int reserved0;
	unsigned int reserved1;
	unsigned int reserved2;
	unsigned int reserved3;
} nvmlPciInfoV1_t;

typedef struct nvmlMemory_st {
	unsigned long long total;
	unsigned long long free;
	unsigned long long used;
} nvmlMemory_t;

/* Event types (a bit mask). */
#define nvmlEventTypeSingleBitEccError 0x0000000000000001ULL
#define nvmlEventTypeDoubleBitEccError 0x0000000000000002ULL
#define nvmlEventTypePState 0x0000000000000004ULL
#define nvmlEventTypeXidCriticalError 0x0000000000000008ULL
#define nvmlEventTypeClock 0x0000000000000010ULL
#define nvmlEventTypeMigConfigChange 0x0000000000000100ULL

typedef struct nvmlEventData_st {
	nvmlDevice_t device;
	unsigned long long eventType;
	unsigned long long eventData;     /* the XID for XID events */
	unsigned int gpuInstanceId;       /* 0xFFFFFFFF: not MIG-scoped */
	unsigned int computeInstanceId;
} nvmlEventData_t;

/* The original nvmlEventSetWait (v1) layout: no instance ids. */
typedef struct nvmlEventDataV1_st {
	nvmlDevice_t device;
	unsigned long long eventType;
	unsigned long long eventData;
} nvmlEventDataV1_t;

#define NVML_DEVICE_MIG_DISABLE 0
#define NVML_DEVICE_MIG_ENABLE 1

/* ---- MIG ---- */
typedef struct nvmlGpuInstance_st *nvmlGpuInstance_t;
typedef struct nvmlComputeInstance_st *nvmlComputeInstance_t;

/* nvmlDeviceGetAttributes_v2: what a MIG device has of its GPU. */
typedef struct nvmlDeviceAttributes_st {
	unsigned int multiprocessorCount;
	unsigned int sharedCopyEngineCount;
	unsigned int sharedDecoderCount;
	unsigned int sharedEncoderCount;
	unsigned int sharedJpegCount;
	unsigned int sharedOfaCount;
	unsigned int gpuInstanceSliceCount;
	unsigned int computeInstanceSliceCount;
	unsigned long long memorySizeMB;
} nvmlDeviceAttributes_t;

/* GPU instance profiles (the |profile| of ...GpuInstanceProfileInfo). */
#define NVML_GPU_INSTANCE_PROFILE_1_SLICE 0x0
#define NVML_GPU_INSTANCE_PROFILE_2_SLICE 0x1
#define NVML_GPU_INSTANCE_PROFILE_3_SLICE 0x2
#define NVML_GPU_INSTANCE_PROFILE_4_SLICE 0x3
#define NVML_GPU_INSTANCE_PROFILE_7_SLICE 0x4
#define NVML_GPU_INSTANCE_PROFILE_8_SLICE 0x5
#define NVML_GPU_INSTANCE_PROFILE_6_SLICE 0x6
#define NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV1 0x7	/* +me */
#define NVML_GPU_INSTANCE_PROFILE_2_SLICE_REV1 0x8	/* +me */
#define NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV2 0x9	/* double memory */
#define NVML_GPU_INSTANCE_PROFILE_1_SLICE_GFX 0xA	/* +gfx */
#define NVML_GPU_INSTANCE_PROFILE_2_SLICE_GFX 0xB
#define NVML_GPU_INSTANCE_PROFILE_4_SLICE_GFX 0xC
#define NVML_GPU_INSTANCE_PROFILE_1_SLICE_NO_ME 0xD	/* -me */
#define NVML_GPU_INSTANCE_PROFILE_2_SLICE_NO_ME 0xE
#define NVML_GPU_INSTANCE_PROFILE_1_SLICE_ALL_ME 0xF	/* +me.all */
#define NVML_GPU_INSTANCE_PROFILE_2_SLICE_ALL_ME 0x10
#define NVML_GPU_INSTANCE_PROFILE_COUNT 0x11

/* Compute instance profiles, and the one engine profile. */
#define NVML_COMPUTE_INSTANCE_PROFILE_1_SLICE 0x0
#define NVML_COMPUTE_INSTANCE_PROFILE_2_SLICE 0x1
#define NVML_COMPUTE_INSTANCE_PROFILE_3_SLICE 0x2
#define NVML_COMPUTE_INSTANCE_PROFILE_4_SLICE 0x3
#define NVML_COMPUTE_INSTANCE_PROFILE_7_SLICE 0x4
#define NVML_COMPUTE_INSTANCE_PROFILE_8_SLICE 0x5
#define NVML_COMPUTE_INSTANCE_PROFILE_6_SLICE 0x6
#define NVML_COMPUTE_INSTANCE_PROFILE_1_SLICE_REV1 0x7
#define NVML_COMPUTE_INSTANCE_PROFILE_COUNT 0x8
#define NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED 0x0
#define NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_COUNT 0x1

typedef struct nvmlGpuInstancePlacement_st {
	unsigned int start;
	unsigned int size;
} nvmlGpuInstancePlacement_t;

typedef struct nvmlGpuInstanceProfileInfo_st {
	unsigned int id;	/* the profile id (nvidia-smi's), not the index */
	unsigned int isP2pSupported;
	unsigned int sliceCount;
	unsigned int instanceCount;
	unsigned int multiprocessorCount;
	unsigned int copyEngineCount;
	unsigned int decoderCount;
	unsigned int encoderCount;
	unsigned int jpegCount;
	unsigned int ofaCount;
	unsigned long long memorySizeMB;
} nvmlGpuInstanceProfileInfo_t;

/* ..._v2, for nvmlDeviceGetGpuInstanceProfileInfoV: with a name. */
typedef struct nvmlGpuInstanceProfileInfo_v2_st {
	unsigned int version;	/* nvmlGpuInstanceProfileInfo_v2 */
	unsigned int id;
	unsigned int isP2pSupported;
	unsigned int sliceCount;
	unsigned int instanceCount;
	unsigned int multiprocessorCount;
	unsigned int copyEngineCount;
	unsigned int decoderCount;
	unsigned int encoderCount;
	unsigned int jpegCount;
	unsigned int ofaCount;
	unsigned long long memorySizeMB;
	char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE];
} nvmlGpuInstanceProfileInfo_v2_t;
#define nvmlGpuInstanceProfileInfo_v2 \
	((unsigned int)(sizeof(nvmlGpuInstanceProfileInfo_v2_t) | (2u << 24)))

typedef struct nvmlGpuInstanceInfo_st {
	nvmlDevice_t device;
	unsigned int id;
	unsigned int profileId;
	nvmlGpuInstancePlacement_t placement;
} nvmlGpuInstanceInfo_t;

typedef struct nvmlComputeInstancePlacement_st {
	unsigned int start;
	unsigned int size;
} nvmlComputeInstancePlacement_t;

typedef struct nvmlComputeInstanceProfileInfo_st {
	unsigned int id;
	unsigned int sliceCount;
	unsigned int instanceCount;
	unsigned int multiprocessorCount;
	unsigned int sharedCopyEngineCount;
	unsigned int sharedDecoderCount;
	unsigned int sharedEncoderCount;
	unsigned int sharedJpegCount;
	unsigned int sharedOfaCount;
} nvmlComputeInstanceProfileInfo_t;

typedef struct nvmlComputeInstanceProfileInfo_v2_st {
	unsigned int version;	/* nvmlComputeInstanceProfileInfo_v2 */
	unsigned int id;
	unsigned int sliceCount;
	unsigned int instanceCount;
	unsigned int multiprocessorCount;
	unsigned int sharedCopyEngineCount;
	unsigned int sharedDecoderCount;
	unsigned int sharedEncoderCount;
	unsigned int sharedJpegCount;
	unsigned int sharedOfaCount;
	char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE];
} nvmlComputeInstanceProfileInfo_v2_t;
#define nvmlComputeInstanceProfileInfo_v2 \
	((unsigned int)(sizeof(nvmlComputeInstanceProfileInfo_v2_t) | \
	    (2u << 24)))

typedef struct nvmlComputeInstanceInfo_st {
	nvmlDevice_t device;
	nvmlGpuInstance_t gpuInstance;
	unsigned int id;
	unsigned int profileId;
	nvmlComputeInstancePlacement_t placement;
} nvmlComputeInstanceInfo_t;

/*
 * Every entry point used, as function-pointer types. The binding looks
 * each up with dlsym (newest versioned name first); the fake library
 * defines them under the same names.
 */
#define GDP_NVML_FUNCTIONS(X) \
	X(nvmlInit, nvmlReturn_t, (void)) \
	X(nvmlShutdown, nvmlReturn_t, (void)) \
	X(nvmlErrorString, const char *, (nvmlReturn_t)) \
	X(nvmlSystemGetDriverVersion, nvmlReturn_t, (char *, unsigned int)) \
	X(nvmlSystemGetCudaDriverVersion, nvmlReturn_t, (int *)) \
	X(nvmlDeviceGetCount, nvmlReturn_t, (unsigned int *)) \
	X(nvmlDeviceGetHandleByIndex, nvmlReturn_t, \
	    (unsigned int, nvmlDevice_t *)) \
	X(nvmlDeviceGetHandleByUUID, nvmlReturn_t, \
	    (const char *, nvmlDevice_t *)) \
	X(nvmlDeviceGetIndex, nvmlReturn_t, (nvmlDevice_t, unsigned int *)) \
	X(nvmlDeviceGetName, nvmlReturn_t, \
	    (nvmlDevice_t, char *, unsigned int)) \
	X(nvmlDeviceGetUUID, nvmlReturn_t, \
	    (nvmlDevice_t, char *, unsigned int)) \
	X(nvmlDeviceGetMinorNumber, nvmlReturn_t, \
	    (nvmlDevice_t, unsigned int *)) \
	X(nvmlDeviceGetPciInfo, nvmlReturn_t, \
	    (nvmlDevice_t, nvmlPciInfo_t *)) \
	X(nvmlDeviceGetPciInfoV1, nvmlReturn_t, \
	    (nvmlDevice_t, nvmlPciInfoV1_t *)) \
	X(nvmlDeviceGetMemoryInfo, nvmlReturn_t, \
	    (nvmlDevice_t, nvmlMemory_t *)) \
	X(nvmlDeviceGetCudaComputeCapability, nvmlReturn_t, \
	    (nvmlDevice_t, int *, int *)) \
	X(nvmlDeviceGetMigMode, nvmlReturn_t, \
	    (nvmlDevice_t, unsigned int *, unsigned int *)) \
	X(nvmlDeviceGetNvLinkState, nvmlReturn_t, \
	    (nvmlDevice_t, unsigned int, nvmlEnableState_t *)) \
	X(nvmlDeviceGetNvLinkRemotePciInfo, nvmlReturn_t, \
	    (nvmlDevice_t, unsigned int, nvmlPciInfo_t *)) \
	X(nvmlDeviceGetNvLinkRemotePciInfoV1, nvmlReturn_t, \
	    (nvmlDevice_t, unsigned int, nvmlPciInfoV1_t *)) \
	X(nvmlDeviceGetNvLinkRemoteDeviceType, nvmlReturn_t, \
	    (nvmlDevice_t, unsigned int, nvmlIntNvLinkDeviceType_t *)) \
	X(nvmlDeviceGetTopologyCommonAncestor, nvmlReturn_t, \
	    (nvmlDevice_t, nvmlDevice_t, nvmlGpuTopologyLevel_t *)) \
	X(nvmlEventSetCreate, nvmlReturn_t, (nvmlEventSet_t *)) \
	X(nvmlDeviceGetSupportedEventTypes, nvmlReturn_t, \
	    (nvmlDevice_t, unsigned long long *)) \
	X(nvmlDeviceRegisterEvents, nvmlReturn_t, \
	    (nvmlDevice_t, unsigned long long, nvmlEventSet_t)) \
	X(nvmlEventSetWait, nvmlReturn_t, \
	    (nvmlEventSet_t, nvmlEventData_t *, unsigned int)) \
	X(nvmlEventSetWaitV1, nvmlReturn_t, \
	    (nvmlEventSet_t, nvmlEventDataV1_t *, unsigned int)) \
	X(nvmlEventSetFree, nvmlReturn_t, (nvmlEventSet_t)) \
	X(nvmlDeviceGetMaxMigDeviceCount, nvmlReturn_t, \
	    (nvmlDevice_t, unsigned int *)) \
	X(nvmlDeviceGetMigDeviceHandleByIndex, nvmlReturn_t, \
	    (nvmlDevice_t, unsigned int, nvmlDevice_t *)) \
	X(nvmlDeviceIsMigDeviceHandle, nvmlReturn_t, \
	    (nvmlDevice_t, unsigned int *)) \
	X(nvmlDeviceGetDeviceHandleFromMigDeviceHandle, nvmlReturn_t, \
	    (nvmlDevice_t, nvmlDevice_t *)) \
	X(nvmlDeviceGetGpuInstanceId, nvmlReturn_t, \
	    (nvmlDevice_t, unsigned int *)) \
	X(nvmlDeviceGetComputeInstanceId, nvmlReturn_t, \
	    (nvmlDevice_t, unsigned int *)) \
	X(nvmlDeviceGetAttributes, nvmlReturn_t, \
	    (nvmlDevice_t, nvmlDeviceAttributes_t *)) \
	X(nvmlDeviceGetGpuInstanceProfileInfo, nvmlReturn_t, \
	    (nvmlDevice_t, unsigned int, nvmlGpuInstanceProfileInfo_t *)) \
	X(nvmlDeviceGetGpuInstanceProfileInfoV, nvmlReturn_t, \
	    (nvmlDevice_t, unsigned int, nvmlGpuInstanceProfileInfo_v2_t *)) \
	X(nvmlDeviceGetGpuInstanceById, nvmlReturn_t, \
	    (nvmlDevice_t, unsigned int, nvmlGpuInstance_t *)) \
	X(nvmlGpuInstanceGetInfo, nvmlReturn_t, \
	    (nvmlGpuInstance_t, nvmlGpuInstanceInfo_t *)) \
	X(nvmlGpuInstanceGetComputeInstanceById, nvmlReturn_t, \
	    (nvmlGpuInstance_t, unsigned int, nvmlComputeInstance_t *)) \
	X(nvmlComputeInstanceGetInfo, nvmlReturn_t, \
	    (nvmlComputeInstance_t, nvmlComputeInstanceInfo_t *)) \
	X(nvmlGpuInstanceGetComputeInstanceProfileInfo, nvmlReturn_t, \
	    (nvmlGpuInstance_t, unsigned int, unsigned int, \
	    nvmlComputeInstanceProfileInfo_t *)) \
	X(nvmlGpuInstanceGetComputeInstanceProfileInfoV, nvmlReturn_t, \
	    (nvmlGpuInstance_t, unsigned int, unsigned int, \
	    nvmlComputeInstanceProfileInfo_v2_t *))

/*
 * The symbol names tried for each entry point, newest first. Where NVML
 * has versioned variants of the same signature, the unversioned name is
 * the oldest; where the old ABI has another layout (PCI info, NVLink
 * remote PCI info, event data) it is an entry point of its own (…V1), and
 * src/nvml/nvml.c converts.
 */
#define GDP_NVML_SYMBOLS(X) \
	X(nvmlInit, "nvmlInit_v2", "nvmlInit") \
	X(nvmlShutdown, "nvmlShutdown", NULL) \
	X(nvmlErrorString, "nvmlErrorString", NULL) \
	X(nvmlSystemGetDriverVersion, "nvmlSystemGetDriverVersion", NULL) \
	X(nvmlSystemGetCudaDriverVersion, "nvmlSystemGetCudaDriverVersion_v2", \
	    "nvmlSystemGetCudaDriverVersion") \
	X(nvmlDeviceGetCount, "nvmlDeviceGetCount_v2", "nvmlDeviceGetCount") \
	X(nvmlDeviceGetHandleByIndex, "nvmlDeviceGetHandleByIndex_v2", \
	    "nvmlDeviceGetHandleByIndex") \
	X(nvmlDeviceGetHandleByUUID, "nvmlDeviceGetHandleByUUID", NULL) \
	X(nvmlDeviceGetIndex, "nvmlDeviceGetIndex", NULL) \
	X(nvmlDeviceGetName, "nvmlDeviceGetName", NULL) \
	X(nvmlDeviceGetUUID, "nvmlDeviceGetUUID", NULL) \
	X(nvmlDeviceGetMinorNumber, "nvmlDeviceGetMinorNumber", NULL) \
	X(nvmlDeviceGetPciInfo, "nvmlDeviceGetPciInfo_v3", \
	    "nvmlDeviceGetPciInfo_v2") \
	X(nvmlDeviceGetPciInfoV1, "nvmlDeviceGetPciInfo", NULL) \
	X(nvmlDeviceGetMemoryInfo, "nvmlDeviceGetMemoryInfo", NULL) \
	X(nvmlDeviceGetCudaComputeCapability, \
	    "nvmlDeviceGetCudaComputeCapability", NULL) \
	X(nvmlDeviceGetMigMode, "nvmlDeviceGetMigMode", NULL) \
	X(nvmlDeviceGetNvLinkState, "nvmlDeviceGetNvLinkState", NULL) \
	X(nvmlDeviceGetNvLinkRemotePciInfo, \
	    "nvmlDeviceGetNvLinkRemotePciInfo_v2", NULL) \
	X(nvmlDeviceGetNvLinkRemotePciInfoV1, \
	    "nvmlDeviceGetNvLinkRemotePciInfo", NULL) \
	X(nvmlDeviceGetNvLinkRemoteDeviceType, \
	    "nvmlDeviceGetNvLinkRemoteDeviceType", NULL) \
	X(nvmlDeviceGetTopologyCommonAncestor, \
	    "nvmlDeviceGetTopologyCommonAncestor", NULL) \
	X(nvmlEventSetCreate, "nvmlEventSetCreate", NULL) \
	X(nvmlDeviceGetSupportedEventTypes, \
	    "nvmlDeviceGetSupportedEventTypes", NULL) \
	X(nvmlDeviceRegisterEvents, "nvmlDeviceRegisterEvents", NULL) \
	X(nvmlEventSetWait, "nvmlEventSetWait_v2", NULL) \
	X(nvmlEventSetWaitV1, "nvmlEventSetWait", NULL) \
	X(nvmlEventSetFree, "nvmlEventSetFree", NULL) \
	X(nvmlDeviceGetMaxMigDeviceCount, "nvmlDeviceGetMaxMigDeviceCount", \
	    NULL) \
	X(nvmlDeviceGetMigDeviceHandleByIndex, \
	    "nvmlDeviceGetMigDeviceHandleByIndex", NULL) \
	X(nvmlDeviceIsMigDeviceHandle, "nvmlDeviceIsMigDeviceHandle", NULL) \
	X(nvmlDeviceGetDeviceHandleFromMigDeviceHandle, \
	    "nvmlDeviceGetDeviceHandleFromMigDeviceHandle", NULL) \
	X(nvmlDeviceGetGpuInstanceId, "nvmlDeviceGetGpuInstanceId", NULL) \
	X(nvmlDeviceGetComputeInstanceId, "nvmlDeviceGetComputeInstanceId", \
	    NULL) \
	X(nvmlDeviceGetAttributes, "nvmlDeviceGetAttributes_v2", NULL) \
	X(nvmlDeviceGetGpuInstanceProfileInfo, \
	    "nvmlDeviceGetGpuInstanceProfileInfo", NULL) \
	X(nvmlDeviceGetGpuInstanceProfileInfoV, \
	    "nvmlDeviceGetGpuInstanceProfileInfoV", NULL) \
	X(nvmlDeviceGetGpuInstanceById, "nvmlDeviceGetGpuInstanceById", NULL) \
	X(nvmlGpuInstanceGetInfo, "nvmlGpuInstanceGetInfo", NULL) \
	X(nvmlGpuInstanceGetComputeInstanceById, \
	    "nvmlGpuInstanceGetComputeInstanceById", NULL) \
	X(nvmlComputeInstanceGetInfo, "nvmlComputeInstanceGetInfo_v2", \
	    "nvmlComputeInstanceGetInfo") \
	X(nvmlGpuInstanceGetComputeInstanceProfileInfo, \
	    "nvmlGpuInstanceGetComputeInstanceProfileInfo", NULL) \
	X(nvmlGpuInstanceGetComputeInstanceProfileInfoV, \
	    "nvmlGpuInstanceGetComputeInstanceProfileInfoV", NULL)

#endif /* GDP_NVML_TYPES_H */
