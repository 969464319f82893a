/*
 * strategies.c: one container's Allocate answer under NVIDIA's
 * device-list strategies (reference §3), a pure function of the views
 * and the settings in struct resources.
 *
 * In NVIDIA's order: with a cdi-* strategy the qualified CDI names
 * (k8s.device-plugin.nvidia.com/gpu=<id>, then imex-channel=<ch>) go in
 * an annotation (cdi-annotations, key <prefix>nvidia-device-plugin_<a
 * random UUID>) and/or the cdi_devices field (cdi-cri); then
 * NVIDIA_GDRCOPY/GDS/MOFED=enabled whatever the strategy; and if every
 * strategy is CDI, that is all. Otherwise envvar sets
 * NVIDIA_VISIBLE_DEVICES to the ids (and NVIDIA_IMEX_CHANNELS),
 * volume-mounts sets it to /var/run/nvidia-container-devices and mounts
 * /dev/null at <that>/<id> per device, and --pass-device-specs adds the
 * /dev nodes (a MIG device's parent and its two nvidia-cap nodes). A
 * replica is its device (its UUID or index, its nodes), given once however
 * many of its replicas a container gets; a replica shared by MPS adds
 * MPS's pipe directory and /dev/shm after the CDI names. Where
 * NVIDIA differs from itself run to run we pick one
 * answer: ids and nodes in request order, each /dev node once (NVIDIA
 * iterates a map and repeats a GPU's node for each of its replicas).
 *
 * Everything is built in the caller's arena; strings that live as long
 * as the views (ids, paths) are pointed at, not copied.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "resources/answer_int.h"

#define VOLUME_DIR "/var/run/nvidia-container-devices"
#define IMEX_DEV_DIR "/dev/nvidia-caps-imex-channels/channel"
#define MAX_ENVS 6               /* the ones a container can get */
#define MPS_DIR "/mps"                   /* MPS's pipes, in the container */

typedef V1beta1__ContainerAllocateResponse Answer;
typedef V1beta1__ContainerAllocateResponse__EnvsEntry EnvEntry;

/* printf into |a|; NULL (ENOMEM) when out of memory. */
__attribute__((format(printf, 2, 3)))
static char *
arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *s;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (s = arena_alloc(a, (size_t)n + 1)) == NULL)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

/* Sets env |key| (static) to |value|, replacing an earlier value. */
static int
set_env(struct arena *a, Answer *c, const char *key, char *value)
{
	EnvEntry *e;

	if (value == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_envs; i++)
		if (strcmp(c->envs[i]->key, key) == 0) {
			c->envs[i]->value = value;
			return 0;
		}
	if ((e = arena_alloc(a, sizeof(*e))) == NULL)
		return -ENOMEM;
	v1beta1__container_allocate_response__envs_entry__init(e);
	e->key = (char *)key;
	e->value = value;
	c->envs[c->n_envs++] = e;
	return 0;
}

/* Copies |n| bytes of |s| to |at| (no terminator); returns where they
 * end. Not sprintf: this runs per id of every Allocate. */
static char *
append(char *at, const char *s, size_t n)
{
	memcpy(at, s, n);
	return at + n;
}

static char *
append_uint(char *at, unsigned v)
{
	char digits[12];
	size_t n = 0;

	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) > 0);
	while (n > 0)
		*at++ = digits[--n];
	return at;
}

/*
 * Comma-joined: each view's id under the id strategy after |gpu_prefix|
 * (no views when NULL), then each IMEX channel after |imex_prefix| (none
 * when NULL).
 */
static char *
join_ids(struct arena *a, const struct pick *p, const char *gpu_prefix,
    const char *imex_prefix)
{
	const struct resources *all = p->r->all;
	size_t nv = gpu_prefix != NULL ? p->n : 0;
	size_t ni = imex_prefix != NULL ? all->n_imex : 0, len = 1;
	size_t gl = gpu_prefix != NULL ? strlen(gpu_prefix) : 0;
	size_t il = imex_prefix != NULL ? strlen(imex_prefix) : 0;
	char *out, *at;

	for (size_t i = 0; i < nv; i++)
		len += gl + resources_view_id_len(all,
		    &p->r->views[p->idx[i]]) + 1;
	len += ni * (il + 12);
	if ((out = at = arena_alloc(a, len)) == NULL)
		return NULL;
	for (size_t i = 0; i < nv + ni; i++) {
		if (i > 0)
			*at++ = ',';
		if (i < nv) {
			const struct view *v = &p->r->views[p->idx[i]];

			at = append(append(at, gpu_prefix, gl),
			    resources_view_id(all, v),
			    resources_view_id_len(all, v));
		} else {
			at = append_uint(append(at, imex_prefix, il),
			    all->imex[i - nv]);
		}
	}
	*at = '\0';
	return out;
}

/* A random (version 4) UUID, as NVIDIA's annotation key carries one. */
static char *
random_uuid(struct arena *a, const struct resources *all)
{
	unsigned char b[16];

	if (all->random(b, sizeof(b)) < 0) {
		errno = EIO;
		return NULL;
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	return arena_printf(a, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
	    b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static int
cdi_annotation(struct arena *a, Answer *c, const struct pick *p)
{
	const struct resources *all = p->r->all;
	V1beta1__ContainerAllocateResponse__AnnotationsEntry *e =
	    arena_alloc(a, sizeof(*e));
	char *uuid;

	c->annotations = arena_alloc(a, sizeof(*c->annotations));
	if (e == NULL || c->annotations == NULL)
		return -ENOMEM;
	if ((uuid = random_uuid(a, all)) == NULL)
		return -errno;
	v1beta1__container_allocate_response__annotations_entry__init(e);
	e->key = arena_printf(a, "%snvidia-device-plugin_%s",
	    all->cdi_annotation_prefix, uuid);
	e->value = join_ids(a, p, RESOURCES_CDI_VENDOR "/gpu=",
	    RESOURCES_CDI_VENDOR "/imex-channel=");
	if (e->key == NULL || e->value == NULL)
		return -ENOMEM;
	c->annotations[0] = e;
	c->n_annotations = 1;
	return 0;
}

static int
cdi_devices(struct arena *a, Answer *c, const struct pick *p)
{
	const struct resources *all = p->r->all;
	size_t n = p->n + all->n_imex;

	c->cdi_devices = arena_array(a, n, sizeof(*c->cdi_devices));
	if (c->cdi_devices == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		V1beta1__CDIDevice *d = arena_alloc(a, sizeof(*d));

		if (d == NULL)
			return -ENOMEM;
		v1beta1__cdidevice__init(d);
		d->name = i < p->n ? arena_printf(a, RESOURCES_CDI_VENDOR
		    "/gpu=%s", resources_view_id(all,
		    &p->r->views[p->idx[i]])) :
		    arena_printf(a, RESOURCES_CDI_VENDOR "/imex-channel=%u",
		    all->imex[i - p->n]);
		if (d->name == NULL)
			return -ENOMEM;
		c->cdi_devices[c->n_cdi_devices++] = d;
	}
	return 0;
}

/* Appends a mount of |host_path| at |container_path| (room is made by
 * strategy_answer()). */
static int
add_mount_of(struct arena *a, Answer *c, char *container_path,
    char *host_path)
{
	V1beta1__Mount *m = arena_alloc(a, sizeof(*m));

	if (m == NULL || container_path == NULL || host_path == NULL)
		return -ENOMEM;
	v1beta1__mount__init(m);
	m->container_path = container_path;
	m->host_path = host_path;
	c->mounts[c->n_mounts++] = m;
	return 0;
}

static int
add_mount(struct arena *a, Answer *c, char *container_path)
{
	return add_mount_of(a, c, container_path, "/dev/null");
}

/*
 * MPS (reference §3), when the container gets a replica shared by it:
 * CUDA_MPS_PIPE_DIRECTORY=/mps/<resource>/pipe, that directory from
 * <mps-root>/<resource>/pipe, and /dev/shm from <mps-root>/shm, where
 * the resource's MPS control daemon has its pipes and shared memory.
 */
static int
mps(struct arena *a, Answer *c, const struct pick *p)
{
	const struct resources *all = p->r->all;
	char *pipe;
	bool shared = false;

	for (size_t i = 0; i < p->n; i++)
		shared |= p->r->views[p->idx[i]].replicas > 0;
	if (p->r->sharing != SHARE_MPS || !shared)
		return 0;
	pipe = arena_printf(a, MPS_DIR "/%s/pipe", p->r->name);
	if (set_env(a, c, "CUDA_MPS_PIPE_DIRECTORY", pipe) < 0 ||
	    add_mount_of(a, c, pipe, arena_printf(a, "%s/%s/pipe",
	    all->mps_root, p->r->name)) < 0 ||
	    add_mount_of(a, c, "/dev/shm", arena_printf(a, "%s/shm",
	    all->mps_root)) < 0)
		return -ENOMEM;
	return 0;
}

/* volume-mounts: /dev/null at VOLUME_DIR/<id> per device and channel. */
static int
volume_mounts(struct arena *a, Answer *c, const struct pick *p)
{
	const struct resources *all = p->r->all;

	if (set_env(a, c, "NVIDIA_VISIBLE_DEVICES", VOLUME_DIR) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < p->n; i++)
		if (add_mount(a, c, arena_printf(a, VOLUME_DIR "/%s",
		    resources_view_id(all, &p->r->views[p->idx[i]]))) < 0)
			return -ENOMEM;
	for (size_t i = 0; i < all->n_imex; i++)
		if (add_mount(a, c, arena_printf(a, VOLUME_DIR "/imex/%u",
		    all->imex[i])) < 0)
			return -ENOMEM;
	return 0;
}

static int
add_spec(struct arena *a, Answer *c, const char *dev_root, char *path)
{
	V1beta1__DeviceSpec *s = arena_alloc(a, sizeof(*s));
	char *host = path != NULL ? arena_printf(a, "%s%s", dev_root, path) :
	    NULL;

	if (s == NULL || host == NULL)
		return -ENOMEM;
	v1beta1__device_spec__init(s);
	s->container_path = path;
	s->host_path = host;
	s->permissions = "rw";
	c->devices[c->n_devices++] = s;
	return 0;
}

/* Whether |c| has the node |path| already (a GPU instance's capability
 * node is shared by its compute instances). */
static bool
has_spec(const Answer *c, const char *path)
{
	for (size_t i = 0; i < c->n_devices; i++)
		if (strcmp(c->devices[i]->container_path, path) == 0)
			return true;
	return false;
}

/* A MIG device's two capability nodes after its parent's, each once. */
static int
cap_specs(struct arena *a, Answer *c, const char *dev_root,
    const struct view *v)
{
	for (size_t k = 0; k < 2; k++)
		if (v->caps[k][0] != '\0' && !has_spec(c, v->caps[k]) &&
		    add_spec(a, c, dev_root, (char *)v->caps[k]) < 0)
			return -ENOMEM;
	return 0;
}

/*
 * --pass-device-specs: the control nodes that exist, each GPU's node once
 * (the first view that names it, so in request order) with a MIG
 * device's capability nodes after it, then the IMEX channels.
 */
static int
device_specs(struct arena *a, Answer *c, const struct pick *p)
{
	const struct resources *all = p->r->all;
	bool *seen = arena_array(a, all->ngpus + 1, sizeof(*seen));

	c->devices = arena_array(a, RESOURCES_CONTROL_NODES + 3 * p->n +
	    all->n_imex, sizeof(*c->devices));
	if (c->devices == NULL || seen == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < RESOURCES_CONTROL_NODES; i++)
		if (all->control_present[i] && add_spec(a, c, all->dev_root,
		    (char *)resources_control_nodes[i]) < 0)
			return -ENOMEM;
	for (size_t i = 0; i < p->n; i++) {
		const struct view *v = &p->r->views[p->idx[i]];

		bool first = v->gpu >= all->ngpus || !seen[v->gpu];

		if (v->gpu < all->ngpus)
			seen[v->gpu] = true;
		if ((first && add_spec(a, c, all->dev_root,
		    (char *)v->dev_path) < 0) ||
		    cap_specs(a, c, all->dev_root, v) < 0)
			return -ENOMEM;
	}
	for (size_t i = 0; i < all->n_imex; i++)
		if (add_spec(a, c, all->dev_root, arena_printf(a,
		    IMEX_DEV_DIR "%u", all->imex[i])) < 0)
			return -ENOMEM;
	return 0;
}

/* NVIDIA_GDRCOPY, NVIDIA_GDS, NVIDIA_MOFED: whatever the strategy. */
static int
feature_envs(struct arena *a, Answer *c, const struct resources *all)
{
	if (all->gdrcopy && set_env(a, c, "NVIDIA_GDRCOPY", "enabled") < 0)
		return -ENOMEM;
	if (all->gds && set_env(a, c, "NVIDIA_GDS", "enabled") < 0)
		return -ENOMEM;
	if (all->mofed && set_env(a, c, "NVIDIA_MOFED", "enabled") < 0)
		return -ENOMEM;
	return 0;
}

/* The strategies that are not CDI: envvar, volume-mounts, device specs. */
static int
classic(struct arena *a, Answer *c, const struct pick *p)
{
	const struct resources *all = p->r->all;

	if ((all->strategies & STRATEGY_ENVVAR) &&
	    (set_env(a, c, "NVIDIA_VISIBLE_DEVICES",
	    join_ids(a, p, "", NULL)) < 0 || (all->n_imex > 0 &&
	    set_env(a, c, "NVIDIA_IMEX_CHANNELS", join_ids(a, p, NULL,
	    "")) < 0)))
		return -ENOMEM;
	if ((all->strategies & STRATEGY_VOLUME_MOUNTS) &&
	    volume_mounts(a, c, p) < 0)
		return -ENOMEM;
	if (all->pass_device_specs && device_specs(a, c, p) < 0)
		return -ENOMEM;
	return 0;
}

Answer *
strategy_answer(struct arena *a, const struct pick *p)
{
	const struct resources *all = p->r->all;
	Answer *c = arena_alloc(a, sizeof(*c));
	int rc;

	errno = ENOMEM;
	if (c == NULL)
		return NULL;
	v1beta1__container_allocate_response__init(c);
	c->envs = arena_array(a, MAX_ENVS, sizeof(*c->envs));
	/* MPS's two, then volume-mounts' one per device and channel. */
	c->mounts = arena_array(a, 2 + p->n + all->n_imex,
	    sizeof(*c->mounts));
	if (c->envs == NULL || c->mounts == NULL)
		return NULL;
	if ((all->strategies & STRATEGY_CDI_ANNOTATIONS) &&
	    (rc = cdi_annotation(a, c, p)) < 0) {
		errno = -rc;
		return NULL;
	}
	if ((all->strategies & STRATEGY_CDI_CRI) && cdi_devices(a, c, p) < 0)
		return NULL;
	if (mps(a, c, p) < 0 || feature_envs(a, c, all) < 0)
		return NULL;
	if ((all->strategies & ~STRATEGY_CDI) != 0 && classic(a, c, p) < 0)
		return NULL;
	return c;
}
