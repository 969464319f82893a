/*
 * resources.h: what the node advertises, and how every request for it is
 * answered: the pure core of the plugin.
 *
 * Built once per discovery (and, once there is one, per configuration)
 * from the inventory: a table of resources (nvidia.com/gpu, later MIG
 * profiles and shared replicas), each with its views, the devices the
 * kubelet sees. A view names the physical GPU behind it (and, later, the
 * MIG instance or replica), so health that lives on the GPU reaches every
 * view of it, and a fault scoped to one MIG instance only the views that
 * use that instance (and the whole-GPU views that share its silicon).
 *
 * Allocate, GetPreferredAllocation and ListAndWatch answers are pure
 * functions of (views, request): no NVML, no socket, no clock, no file
 * system here (what is on the file system, such as which /dev control
 * nodes exist, is passed in). The answer is built in an arena that the
 * caller frees once it is sent; request ids are looked up in O(log n).
 *
 * Requests are bounded (docs/plugin.md) before any answer is built: the
 * device ids of one request, over all its container requests, at most
 * resource_max_ids() (twice the devices advertised, never fewer than
 * RESOURCES_MIN_MAX_IDS: a kubelet may still hold the list from before a
 * device change); as many container requests at most, each carrying at
 * least one id. The kubelet sends one container request with ids it took
 * from our list, so it never meets them; past them a request is refused
 * with EINVAL, and an answer stays a constant times the device count.
 */
#ifndef GDP_RESOURCES_H
#define GDP_RESOURCES_H

#include <stdbool.h>
#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

#include "config/file.h"
#include "config/flags.h"
#include "gpu/inventory.h"
#include "health/status.h"
#include "resources/arena.h"
#include "resources/topo.h"

/* The least resource_max_ids() is, whatever the device count. */
#define RESOURCES_MIN_MAX_IDS 256

/* gi/ci of a view that is not scoped to a MIG instance. */
#define RESOURCES_WHOLE HEALTH_WHOLE
#define RESOURCES_REASON_SIZE 256
#define RESOURCES_MPS_ROOT_MAX 1024
/* The largest message the kubelet takes from a plugin (grpc-go's
   default receive limit): a resource whose ListAndWatch message could be
   larger is refused at build (replicas.c). */
#define RESOURCES_MAX_LIST_BYTES ((size_t)4 << 20)

/* One device as the kubelet sees it. */
struct view {
	char id[NVML_DEVICE_UUID_V2_BUFFER_SIZE];   /* as advertised */
	size_t id_len;           /* strlen(id), set by resource_index() */
	/* The device as containers know it (NVIDIA_VISIBLE_DEVICES, CDI):
	   |id|, or the UUID a replica "<uuid>::<n>" is of. Set, with its
	   length and |unit|, by resource_index(). */
	char dev_id[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
	size_t dev_id_len;
	/* A replica (replicas.c): n of "<uuid>::<n>", of |replicas| made of
	   its device in this resource, the views of one device in a row
	   from n 0. |replicas| 0: not a replica. */
	unsigned replica, replicas;
	size_t unit;             /* which device of its resource: 0, 1, ... */
	char index_id[16];       /* for --device-id-strategy=index */
	size_t gpu;              /* index into the inventory's gpus */
	unsigned gi, ci;         /* RESOURCES_WHOLE: the whole GPU */
	int numa_node;           /* -1: unknown */
	char dev_path[32];       /* /dev/nvidia<minor> (a MIG device's parent) */
	/* A MIG device's GPU and compute instance access nodes,
	   /dev/nvidia-caps/nvidia-cap<minor>; "" for a whole GPU. */
	char caps[2][40];
	bool healthy;
	char reason[RESOURCES_REASON_SIZE]; /* why not; "" when healthy */
};

/* How a resource's replicas are shared (config: sharing.*). */
enum share_kind { SHARE_NONE, SHARE_TIME_SLICING, SHARE_MPS };

/* One resource name and its own socket. */
struct resource {
	char name[128];          /* "nvidia.com/gpu" */
	char socket_name[160];   /* "nvidia-gpu.sock" */
	struct view *views;      /* owned, |n| entries */
	size_t n;
	size_t n_units;          /* distinct devices of |views| */
	size_t *by_id;           /* owned: view indexes sorted by id */
	const struct resources *all;
	bool changed;            /* health changed since the last publish */
	/* SHARE_NONE: no replica among |views|; else how they are shared,
	   and whether a request with a replica may carry only one id. */
	enum share_kind sharing;
	bool fail_requests_greater_than_one;
	/* Every device listed Unhealthy and refused whatever its health,
	   while set (resources_withhold(): an MPS daemon not ready). */
	bool withheld;
	char withheld_reason[RESOURCES_REASON_SIZE];
};

/* Control nodes passed with --pass-device-specs, when present. */
#define RESOURCES_CONTROL_NODES 4
extern const char *const resources_control_nodes[RESOURCES_CONTROL_NODES];

/*
 * The device-list strategies (--device-list-strategy), a set: NVIDIA's
 * four, any of them together (reference §3). No bit set is envvar.
 */
#define STRATEGY_ENVVAR          0x1u
#define STRATEGY_VOLUME_MOUNTS   0x2u
#define STRATEGY_CDI_ANNOTATIONS 0x4u
#define STRATEGY_CDI_CRI         0x8u
#define STRATEGY_CDI (STRATEGY_CDI_ANNOTATIONS | STRATEGY_CDI_CRI)

/* The CDI vendor and the class of full GPUs (src/cdi writes the spec). */
#define RESOURCES_CDI_VENDOR "k8s.device-plugin.nvidia.com"
#define RESOURCES_CDI_PREFIX "cdi.k8s.io/"
/* The IMEX channels a node may have: NVIDIA accepts [] or [0]. */
#define RESOURCES_MAX_IMEX 1

/*
 * Parses NVIDIA's --device-list-strategy value, a comma-separated list
 * ("envvar", "volume-mounts", "cdi-annotations", "cdi-cri"; repeats are
 * fine) into |out|. Returns 0, or -EINVAL with NVIDIA's message in |err|
 * ("invalid --device-list-strategy option: invalid strategy: X"); an
 * empty list is an error too.
 */
int strategies_parse(const char *list, unsigned *out, char *err,
    size_t errlen);

/*
 * Fills |buf| (|len| bytes) with random bytes; 0 or -errno. The one thing
 * an answer needs from outside: the cdi-annotations key names a random
 * UUID per container answer, as NVIDIA's does.
 */
typedef int (*resources_random_fn)(void *buf, size_t len);

struct resources_options {
	const char *resource_name;   /* "nvidia.com/gpu" */
	enum id_strategy id_strategy;
	/* none: every GPU whole; single: MIG devices as |resource_name|;
	   mixed: a resource per MIG profile (resources/mig.c). */
	enum mig_strategy mig_strategy;
	unsigned strategies;         /* STRATEGY_*; 0: envvar */
	bool pass_device_specs;
	bool gdrcopy, gds, mofed;    /* NVIDIA_GDRCOPY etc. =enabled */
	/* IMEX channel ids that exist on the node (checked by the caller). */
	unsigned imex[RESOURCES_MAX_IMEX];
	size_t n_imex;
	/* Prefix of the cdi-annotations key; NULL RESOURCES_CDI_PREFIX. */
	const char *cdi_annotation_prefix;
	resources_random_fn random;  /* NULL: getrandom(2) */
	const char *dev_root;        /* host prefix of /dev paths; NULL "/" */
	/* Which of resources_control_nodes exist on the host. */
	bool control_present[RESOURCES_CONTROL_NODES];
	/* The sharing in effect (config/effective.h's effective_sharing),
	   NULL: none; MPS when |sharing_mps|, else time-slicing. */
	const struct cfgfile_sharing *sharing;
	bool sharing_mps;
	const char *mps_root;        /* --mps-root, for MPS's mounts */
	enum allocation_policy policy; /* --shared-devices-allocation-policy */
};

struct resources {
	struct resource *res;        /* owned, |n| entries */
	size_t n;
	enum id_strategy id_strategy;
	unsigned strategies;         /* never 0: envvar is made explicit */
	bool pass_device_specs;
	bool gdrcopy, gds, mofed;
	unsigned imex[RESOURCES_MAX_IMEX];
	size_t n_imex;
	char cdi_annotation_prefix[128];
	resources_random_fn random;
	char dev_root[256];
	bool control_present[RESOURCES_CONTROL_NODES];
	size_t ngpus;                /* the inventory's GPU count */
	struct gdp_topo topo;        /* pair scores; n 0: none (> 16 GPUs) */
	enum allocation_policy policy;
	char mps_root[RESOURCES_MPS_ROOT_MAX];  /* "" without MPS */
};

/*
 * Sets which control nodes exist now (they come and go: nvidia-uvm
 * appears when its module loads, at the first CUDA call). Returns whether
 * that changed anything.
 */
bool resources_set_control_nodes(struct resources *r,
    const bool present[RESOURCES_CONTROL_NODES]);
/* The id |v| is known by under |r|'s device-id strategy, and its length. */
const char *resources_view_id(const struct resources *r,
    const struct view *v);
size_t resources_view_id_len(const struct resources *r,
    const struct view *v);

/*
 * The resources of |inv| (which must outlive the result: views point at
 * its GPUs by index) under |opts->mig_strategy| (reference §7, mig.c),
 * then shared as |opts->sharing| says (replicas.c: replicas
 * "<uuid>::<n>", renamed resources). An inventory with no GPU gives no
 * resource, nor does a resource that would have no device. Returns 0
 * and a new table (free with resources_free), or -ENOMEM, or -EINVAL
 * with a message in |err| (a resource name that cannot be a socket name,
 * a --dev-root or --mps-root too long; a MIG layout the strategy
 * refuses, in NVIDIA's words; a MIG device without its capability
 * minors; a sharing entry whose devices the node does not have or that
 * shares a device another entry shares, naming the config lines; a
 * resource whose ListAndWatch message could pass the kubelet's 4 MiB,
 * naming it and the size). |opts->sharing| is only read during the call.
 */
int resources_build(const struct inventory *inv,
    const struct resources_options *opts, struct resources **out,
    char *err, size_t errlen);
void resources_free(struct resources *r);
/*
 * (Re)builds the index resource_find() searches, after |r->views| was
 * filled or changed. Returns 0 or -ENOMEM.
 */
int resource_index(struct resource *r);
/*
 * Whether |a| and |b| give the same ListAndWatch message: the same views
 * in the same order, each with the same id, health and NUMA node. A
 * reload that keeps a resource's list sends nothing to its streams.
 */
bool resource_same_list(const struct resource *a, const struct resource *b);
/*
 * Whether |a| and |b| answer Allocate alike for what they share: the
 * same id and device-list strategies, extra envs (gdrcopy, gds, mofed),
 * IMEX channels, CDI annotation prefix, device specs, /dev root and
 * control nodes, and each view (by id) the same index and /dev node. A
 * reload that changes them changes answers, not what is advertised.
 */
bool resource_same_answers(const struct resource *a,
    const struct resource *b);
/* The view of |r| advertised as |id| (|len| bytes, no NUL needed). */
const struct view *resource_find(const struct resource *r, const char *id,
    size_t len);
/* The most device ids one request to |r| may carry (see the top). */
size_t resource_max_ids(const struct resource *r);
/*
 * Id comparisons made so far by look-ups and duplicate detection: a work
 * counter, for the tests that hold a request's work to O(m log m). The
 * answers are built on the loop thread only.
 */
extern unsigned long long resources_id_compares;

/*
 * The size in bytes of |r|'s ListAndWatch message with every device
 * Unhealthy (the largest it can be), as the kubelet receives it (less
 * the gRPC frame's 5 bytes).
 */
size_t resource_list_bytes(const struct resource *r);

/* ---- health ---- */

/*
 * Sets every view's health and reason from |snap| (health/status.h): its
 * GPU's, else that of the first MIG-scoped fault that touches it (a
 * whole-GPU view shares every instance). A view of a GPU the snapshot
 * does not have is unhealthy. Marks each resource whose views changed
 * (|changed|); returns whether any did.
 */
bool resources_set_health(struct resources *r,
    const struct health_snapshot *snap);

/*
 * Withholds every device of |r| (|withhold|: listed Unhealthy, refused
 * by Allocate with |reason|, never preferred), whatever its health, or
 * gives them back their own. For the MPS control daemon: a resource
 * shared with MPS is only usable while its daemon is ready. |reason| is
 * copied (NULL: "withheld"). Marks |r| changed and returns true when
 * that changes the state (withheld, or given back); the caller publishes
 * it (fleet_publish()).
 */
bool resources_withhold(struct resource *r, bool withhold,
    const char *reason);
/* Whether |v| of |r| is listed Healthy (its own health, not withheld). */
bool resource_view_healthy(const struct resource *r, const struct view *v);

/* ---- answers ---- */

/*
 * The ListAndWatch message of |r|: every view, its health and NUMA node.
 * Built in |a|; strings point into |r|, which must outlive the message.
 * Returns NULL with errno ENOMEM.
 */
ProtobufCMessage *resource_list(const struct resource *r, struct arena *a);

/*
 * The Allocate answer for |request| (a V1beta1__Raw__AllocateRequest,
 * proto/requests.proto): per container, what every strategy of |r->all|
 * adds, as reference §3 says (strategies.c): ids de-duplicated, in
 * request order; UUIDs, or indexes with --device-id-strategy=index. With
 * --pass-device-specs (and a strategy that is not CDI), the control nodes
 * that exist then each GPU's /dev node once, host paths under --dev-root.
 * Built in |a|. Returns the message, or NULL with errno and
 * a message in |msg|: EINVAL a request past the bounds (naming the
 * bound) or an id with a NUL byte or invalid UTF-8 (naming it, escaped),
 * ENOENT an unknown device id, ENODEV an unhealthy device (with its
 * reason), EIO no random bytes for a cdi-annotations key, ENOMEM.
 */
ProtobufCMessage *resource_allocate(const struct resource *r,
    const ProtobufCMessage *request, struct arena *a, char *msg,
    size_t msglen);

/*
 * The GetPreferredAllocation answer for |request| (a
 * V1beta1__Raw__PreferredAllocationRequest): per container, the
 * must-include ids first, then the available ids in GPU order, then
 * available ids we do not know, each once, up to the size asked. Built
 * in |a|. Returns NULL with errno and a message in |msg|: EINVAL as for
 * resource_allocate(), ENOMEM. A request answered all the same although
 * the kubelet should not send it sets RESOURCES_ODD_* bits in |*odd| (the
 * first container of each kind) and says what they were in |msg|; else
 * |*odd| is 0 and |msg| empty.
 */
#define RESOURCES_ODD_SIZE 1u     /* size <= 0, or more than the ids */
#define RESOURCES_ODD_MUST 2u     /* more must-include ids than the size */
#define RESOURCES_ODD_UNKNOWN 4u  /* an id that is not this resource's */
ProtobufCMessage *resource_preferred(const struct resource *r,
    const ProtobufCMessage *request, struct arena *a, char *msg,
    size_t msglen, unsigned *odd);

#endif /* GDP_RESOURCES_H */
