/*
 * spec.c: the CDI spec documents (JSON, with jansson) and writing them
 * atomically (see cdi.h).
 *
 * The gpu spec: kind k8s.device-plugin.nvidia.com/gpu; a device per
 * device of the resource given (the first: whole GPUs, or MIG devices;
 * a shared device once, never its replicas) and each whole GPU of the
 * other resources (which sharing may have moved there), named by
 * the device-id strategy: a full GPU with its
 * /dev/nvidia<minor> node and its DRM card and render nodes (and their
 * by-path links), a MIG device (MIG-<uuid>, or <gpu>:<mig> by index, as
 * nvidia-ctk names them) with its parent's node and its two
 * /dev/nvidia-caps nodes; then, as NVIDIA's spec has every MIG device
 * whatever the MIG strategy, every other MIG device of the inventory
 * (those other resources advertise, or none under none); the
 * common edits NVIDIA's toolkit gives (reference §9): env
 * NVIDIA_VISIBLE_DEVICES=void and NVIDIA_CTK_LIBCUDA_DIR, the control
 * nodes that exist, read-only bind mounts of the driver's files
 * (discover.c), and the createContainer hooks create-symlinks,
 * enable-cuda-compat, update-ldcache and disable-device-node-modification
 * run by --nvidia-cdi-hook-path, less those --cdi-disable-hooks names.
 * Host paths are the host driver root (or dev root) joined with the
 * container path; a device node's hostPath is written only when it
 * differs from its path.
 *
 * cdiVersion is the lowest the contents need, by the CDI project's own
 * rules: 0.5.0 when a device name does not start with a letter (index
 * names) or a device node has a hostPath, else 0.3.0 (no mount carries a
 * type, which would need 0.4.0; nothing here needs 0.6.0 or later).
 *
 * jansson allocates through util/alloc.h, like the rest of the daemon.
 */
#include "cdi/cdi.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cdi/cdi_int.h"
#include "util/alloc.h"

#define IMEX_NODE "/dev/nvidia-caps-imex-channels/channel"

/* What one spec is built from. */
struct build {
	const struct cdi_options *o;
	const struct resources *all;
	bool needs_050;
};

static void
use_our_allocator(void)
{
	json_set_alloc_funcs(gdp_malloc, gdp_free);
}

/* |root| joined with the container path |path|, into |out|. */
static int
host_path(const char *root, const char *path, char *out, size_t len)
{
	size_t rl = strlen(root);
	int n;

	while (rl > 0 && root[rl - 1] == '/')
		rl--;
	n = snprintf(out, len, "%.*s%s", (int)rl, root, path);
	return n < 0 || (size_t)n >= len ? -EINVAL : 0;
}

/* Appends |v| (a new reference; NULL is out of memory) to array |a|. */
static int
push(json_t *a, json_t *v)
{
	return v != NULL && json_array_append_new(a, v) == 0 ? 0 : -ENOMEM;
}

static json_t *
device_node(struct build *b, const char *path)
{
	char host[4096];
	json_t *n;

	if (host_path(b->all->dev_root, path, host, sizeof(host)) < 0)
		return NULL;
	n = json_pack("{ss}", "path", path);
	if (n != NULL && strcmp(host, path) != 0) {
		b->needs_050 = true;
		if (json_object_set_new(n, "hostPath", json_string(host)) < 0)
			return json_decref(n), NULL;
	}
	return n;
}

static json_t *
bind_mount(const struct cdi_options *o, const char *path, bool noexec)
{
	char host[4096];

	if (host_path(o->driver_root, path, host, sizeof(host)) < 0)
		return NULL;
	if (noexec)
		return json_pack("{sssss[sssss]}", "hostPath", host,
		    "containerPath", path, "options", "ro", "nosuid", "nodev",
		    "bind", "noexec");
	return json_pack("{sssss[ssss]}", "hostPath", host, "containerPath",
	    path, "options", "ro", "nosuid", "nodev", "bind");
}

static bool
hook_disabled(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *at = list; at != NULL && *at != '\0';) {
		size_t len = strcspn(at, ",");

		if ((len == 3 && strncmp(at, "all", 3) == 0) ||
		    (len == n && strncmp(at, name, n) == 0))
			return true;
		at += len + (at[len] == ',');
	}
	return false;
}

/*
 * A createContainer hook |name| with |args| (|nargs|), or NULL when
 * --cdi-disable-hooks leaves it out (*|err| stays 0) or memory ran out.
 * The hook binary's base name nvidia-ctk takes "hook" first.
 */
static json_t *
hook(const struct cdi_options *o, const char *name, char *const *args,
    size_t nargs, int *err)
{
	const char *path = o->hook_path != NULL ? o->hook_path :
	    CDI_DEFAULT_HOOK_PATH;
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	json_t *a, *h;

	*err = 0;
	if (hook_disabled(o->disable_hooks, name))
		return NULL;
	*err = -ENOMEM;
	if ((a = json_array()) == NULL || push(a, json_string(base)) < 0 ||
	    (strcmp(base, "nvidia-ctk") == 0 && push(a,
	    json_string("hook")) < 0) || push(a, json_string(name)) < 0)
		return json_decref(a), NULL;
	for (size_t i = 0; i < nargs; i++)
		if (push(a, json_string(args[i])) < 0)
			return json_decref(a), NULL;
	h = json_pack("{sssssO}", "hookName", "createContainer", "path",
	    path, "args", a);
	json_decref(a);
	if (h != NULL)
		*err = 0;
	return h;
}

/* Adds hook |name| with |args| to |hooks| unless disabled. */
static int
add_hook(const struct cdi_options *o, json_t *hooks, const char *name,
    char *const *args, size_t nargs)
{
	int err;
	json_t *h = hook(o, name, args, nargs, &err);

	if (h == NULL)
		return err;
	return push(hooks, h);
}

/* "--flag" then each of |l|, as one argument list (owned by |out|). */
static int
flag_args(const char *flag, const struct strlist *l, struct strlist *out)
{
	for (size_t i = 0; i < l->n; i++)
		if (strlist_add(out, flag) < 0 || strlist_add(out, l->v[i]) < 0)
			return -ENOMEM;
	return 0;
}

static int
add_hooks(const struct cdi_options *o, const struct driver_files *f,
    json_t *hooks)
{
	struct strlist args = { 0 };
	char ver[256];
	char *one[1] = { ver };
	int rc = 0;

	if (f->links.n > 0) {
		rc = flag_args("--link", &f->links, &args);
		if (rc == 0)
			rc = add_hook(o, hooks, "create-symlinks", args.v,
			    args.n);
		strlist_free(&args);
	}
	if (rc == 0 && f->libcuda_dir != NULL) {
		snprintf(ver, sizeof(ver), "--host-driver-version=%s",
		    o->driver_version);
		rc = add_hook(o, hooks, "enable-cuda-compat", one, 1);
	}
	if (rc == 0 && f->lib_dirs.n > 0) {
		rc = flag_args("--folder", &f->lib_dirs, &args);
		if (rc == 0)
			rc = add_hook(o, hooks, "update-ldcache", args.v,
			    args.n);
		strlist_free(&args);
	}
	if (rc == 0)
		rc = add_hook(o, hooks, "disable-device-node-modification",
		    NULL, 0);
	return rc;
}

static int
add_mounts(const struct cdi_options *o, const struct driver_files *f,
    json_t *mounts)
{
	const struct strlist *ro[] = { &f->libs, &f->firmware, &f->binaries };

	for (size_t k = 0; k < 3; k++)
		for (size_t i = 0; i < ro[k]->n; i++)
			if (push(mounts, bind_mount(o, ro[k]->v[i],
			    false)) < 0)
				return -ENOMEM;
	for (size_t i = 0; i < f->ipc.n; i++)
		if (push(mounts, bind_mount(o, f->ipc.v[i], true)) < 0)
			return -ENOMEM;
	return 0;
}

/* The spec-wide edits: env, control nodes, mounts, hooks. */
static json_t *
common_edits(struct build *b, const struct driver_files *f)
{
	json_t *e = json_pack("{s[s]s[]s[]s[]}", "env",
	    "NVIDIA_VISIBLE_DEVICES=void", "deviceNodes", "mounts", "hooks");
	json_t *env, *nodes;
	char dir[4200];
	/* NVIDIA's order of the control nodes in a spec. */
	static const size_t order[RESOURCES_CONTROL_NODES] = { 3, 2, 1, 0 };

	if (e == NULL)
		return NULL;
	env = json_object_get(e, "env");
	nodes = json_object_get(e, "deviceNodes");
	if (f->libcuda_dir != NULL) {
		snprintf(dir, sizeof(dir), "NVIDIA_CTK_LIBCUDA_DIR=%s",
		    f->libcuda_dir);
		if (push(env, json_string(dir)) < 0)
			goto fail;
	}
	for (size_t i = 0; i < RESOURCES_CONTROL_NODES; i++)
		if (b->all->control_present[order[i]] && push(nodes,
		    device_node(b, resources_control_nodes[order[i]])) < 0)
			goto fail;
	if (add_mounts(b->o, f, json_object_get(e, "mounts")) < 0 ||
	    add_hooks(b->o, f, json_object_get(e, "hooks")) < 0)
		goto fail;
	return e;
fail:
	json_decref(e);
	return NULL;
}

/* One device: |name| with the single node |node|. */
static json_t *
device(struct build *b, const char *name, const char *node)
{
	json_t *n = device_node(b, node);

	if (n == NULL)
		return NULL;
	if (!isalpha((unsigned char)name[0]))
		b->needs_050 = true;
	return json_pack("{sss{s[o]}}", "name", name, "containerEdits",
	    "deviceNodes", n);
}

/*
 * A GPU's device: its /dev/nvidia<minor>, then its DRM card and render
 * nodes with a create-symlinks hook for their by-path links, as NVIDIA's
 * toolkit gives them.
 */
static json_t *
gpu_device(struct build *b, const struct view *v)
{
	json_t *d = device(b, resources_view_id(b->all, v), v->dev_path);
	const struct inventory *inv = b->o->inv;
	struct drm_node drm[2];
	char arg[2][1024];
	char *args[4] = { "--link", arg[0], "--link", arg[1] };
	json_t *edits, *nodes, *hooks;
	size_t n = 0;

	if (d == NULL || inv == NULL || b->o->dev_root_seen == NULL ||
	    v->gpu >= inv->n)
		return d;
	drm_nodes(b->o->dev_root_seen, inv->gpus[v->gpu].sysfs_bdf, &drm[0],
	    &drm[1]);
	edits = json_object_get(d, "containerEdits");
	nodes = json_object_get(edits, "deviceNodes");
	for (size_t i = 0; i < 2; i++) {
		if (drm[i].node[0] == '\0')
			continue;
		if (push(nodes, device_node(b, drm[i].node)) < 0)
			goto fail;
		snprintf(arg[n++], sizeof(arg[0]), "%s::%s", drm[i].target,
		    drm[i].link);
	}
	if (n == 0 || hook_disabled(b->o->disable_hooks, "create-symlinks"))
		return d;
	if ((hooks = json_array()) == NULL ||
	    json_object_set_new(edits, "hooks", hooks) < 0 ||
	    add_hook(b->o, hooks, "create-symlinks", args, 2 * n) < 0)
		goto fail;
	return d;
fail:
	json_decref(d);
	return NULL;
}

/* A MIG device |name|: its parent's node, then its two capability
 * nodes (|caps|), as nvidia-ctk gives them. */
static json_t *
mig_device(struct build *b, const char *name, const char *parent,
    const char (*caps)[40])
{
	json_t *d = device(b, name, parent);
	json_t *nodes = json_object_get(json_object_get(d, "containerEdits"),
	    "deviceNodes");

	for (size_t k = 0; d != NULL && k < 2; k++)
		if (push(nodes, device_node(b, caps[k])) < 0)
			return json_decref(d), NULL;
	return d;
}

static json_t *
view_device(struct build *b, const struct view *v)
{
	if (v->caps[0][0] != '\0')
		return mig_device(b, resources_view_id(b->all, v),
		    v->dev_path, v->caps);
	return gpu_device(b, v);
}

/* The devices already in the spec, by the id containers know. */
struct seen {
	const char **id;
	size_t n, cap;
};

static bool
seen_has(const struct seen *s, const char *id)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->id[i], id) == 0)
			return true;
	return false;
}

/*
 * The MIG devices of the inventory that no view has given yet (those
 * under --mig-strategy=none, or in resources after the first), as
 * NVIDIA's spec has every MIG device whatever the strategy; one whose
 * capability minors are unknown is left out.
 */
static int
unadvertised_migs(struct build *b, const struct seen *s, json_t *devices)
{
	const struct inventory *inv = b->o->inv;
	char name[32], caps[2][40];

	for (size_t i = 0; inv != NULL && i < inv->n; i++) {
		const struct gpu *g = &inv->gpus[i];

		for (size_t k = 0; g->mig_enabled && k < g->n_migs; k++) {
			const struct mig_device *m = &g->migs[k];
			char parent[32];

			if (m->gi_cap_minor < 0 || m->ci_cap_minor < 0 ||
			    seen_has(s, m->uuid))
				continue;
			snprintf(name, sizeof(name), "%u:%u", g->index,
			    m->index);
			snprintf(parent, sizeof(parent), "/dev/nvidia%u",
			    g->minor);
			snprintf(caps[0], sizeof(caps[0]),
			    "/dev/nvidia-caps/nvidia-cap%d", m->gi_cap_minor);
			snprintf(caps[1], sizeof(caps[1]),
			    "/dev/nvidia-caps/nvidia-cap%d", m->ci_cap_minor);
			if (push(devices, mig_device(b, b->all->id_strategy ==
			    ID_STRATEGY_INDEX ? name : m->uuid, parent,
			    (const char (*)[40])caps)) < 0)
				return -ENOMEM;
		}
	}
	return 0;
}

/* A device per device of |r| (its replicas are that one device), less
 * those already in the spec; only whole GPUs unless |migs|. */
static int
resource_devices(struct build *b, const struct resource *r, bool migs,
    struct seen *s, json_t *devices)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct view *v = &r->views[i];

		if (v->replica > 0 || (!migs && v->caps[0][0] != '\0') ||
		    seen_has(s, v->dev_id) || s->n == s->cap)
			continue;
		s->id[s->n++] = v->dev_id;
		if (push(devices, view_device(b, v)) < 0)
			return -ENOMEM;
	}
	return 0;
}

/*
 * A device per device of |r| (the first resource: whole GPUs, or MIG
 * devices), then the whole GPUs of the other resources (sharing can
 * move a GPU's replicas to one of their own, or leave some GPUs under
 * the first and share the rest), then the MIG devices not given yet.
 */
static int
all_devices(struct build *b, const struct resource *r, json_t *devices)
{
	const struct resources *all = r->all;
	struct seen s = { NULL, 0, 0 };
	int rc = 0;

	for (size_t k = 0; k < all->n; k++)
		s.cap += all->res[k].n_units;
	if ((s.id = gdp_calloc(s.cap + 1, sizeof(*s.id))) == NULL)
		return -ENOMEM;
	rc = resource_devices(b, r, true, &s, devices);
	for (size_t k = 0; rc == 0 && k < all->n; k++)
		if (&all->res[k] != r)
			rc = resource_devices(b, &all->res[k], false, &s,
			    devices);
	if (rc == 0)
		rc = unadvertised_migs(b, &s, devices);
	gdp_free(s.id);
	return rc;
}

/* The document: version, kind, |devices|, |edits| (both taken). */
static char *
document(struct build *b, const char *class, json_t *devices, json_t *edits)
{
	char kind[128];
	json_t *spec;
	char *text;

	snprintf(kind, sizeof(kind), "%s/%s", RESOURCES_CDI_VENDOR, class);
	spec = json_pack("{sssssoso}", "cdiVersion", b->needs_050 ? "0.5.0" :
	    "0.3.0", "kind", kind, "devices", devices, "containerEdits",
	    edits);
	if (spec == NULL)
		return NULL;
	text = json_dumps(spec, JSON_INDENT(2));
	json_decref(spec);
	return text;
}

int
cdi_gpu_spec(const struct cdi_options *o, const struct resource *r,
    char **json, char *err, size_t errlen)
{
	struct build b = { o, r->all, false };
	struct driver_files f;
	json_t *devices, *edits = NULL;
	int rc;

	use_our_allocator();
	*json = NULL;
	rc = driver_files_find(o->driver_root_seen, o->driver_version, &f);
	devices = json_array();
	if (rc == 0 && devices != NULL)
		rc = all_devices(&b, r, devices);
	if (rc == 0 && devices != NULL)
		edits = common_edits(&b, &f);
	if (rc == 0 && edits != NULL)
		*json = document(&b, "gpu", devices, edits);
	else
		json_decref(devices);
	driver_files_free(&f);
	if (*json != NULL)
		return 0;
	snprintf(err, errlen, "out of memory (or a path too long) for the "
	    "CDI spec");
	return -ENOMEM;
}

int
cdi_imex_spec(const struct resources *all, char **json, char *err,
    size_t errlen)
{
	struct build b = { NULL, all, false };
	json_t *devices = json_array(), *edits = json_object();
	char name[16], node[64];
	int rc = devices != NULL && edits != NULL ? 0 : -ENOMEM;

	use_our_allocator();
	*json = NULL;
	for (size_t i = 0; rc == 0 && i < all->n_imex; i++) {
		snprintf(name, sizeof(name), "%u", all->imex[i]);
		snprintf(node, sizeof(node), IMEX_NODE "%u", all->imex[i]);
		rc = push(devices, device(&b, name, node));
	}
	if (rc == 0) {
		*json = document(&b, "imex-channel", devices, edits);
		devices = edits = NULL;
	}
	json_decref(devices);
	json_decref(edits);
	if (*json != NULL)
		return 0;
	snprintf(err, errlen, "out of memory for the IMEX CDI spec");
	return -ENOMEM;
}

/* All of |len| bytes of |s| to |fd|. */
static int
write_all(int fd, const char *s, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, s, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
write_temp(const char *tmp, const char *json)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0644);
	int rc;

	if (fd < 0)
		return -errno;
	/* 0644 whatever the umask: runtimes read it as another user. */
	rc = fchmod(fd, 0644) < 0 ? -errno : 0;
	if (rc == 0)
		rc = write_all(fd, json, strlen(json));
	if (rc == 0)
		rc = write_all(fd, "\n", 1);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

int
cdi_write(const char *dir, const char *class, const char *json, char *err,
    size_t errlen)
{
	char path[4096], tmp[4096 + 32];
	int rc;

	if (snprintf(path, sizeof(path), "%s/%s-%s.json", dir,
	    RESOURCES_CDI_VENDOR, class) >= (int)sizeof(path)) {
		snprintf(err, errlen, "CDI spec directory %s: path too long",
		    dir);
		return -ENAMETOOLONG;
	}
	if (json == NULL) {
		if (unlink(path) < 0 && errno != ENOENT) {
			rc = -errno;
			snprintf(err, errlen, "cannot remove %s: %s", path,
			    strerror(-rc));
			return rc;
		}
		return 0;
	}
	/* Not *.json, so no runtime loads it half written. */
	snprintf(tmp, sizeof(tmp), "%s/.%s-%s.json.%ld.tmp", dir,
	    RESOURCES_CDI_VENDOR, class, (long)getpid());
	rc = write_temp(tmp, json);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		(void)unlink(tmp);
		snprintf(err, errlen, "unable to create cdi spec file %s: %s",
		    path, strerror(-rc));
	}
	return rc;
}

int
cdi_update(const struct cdi_options *o, const struct resource *r,
    char *err, size_t errlen)
{
	const char *dir = o->spec_dir != NULL ? o->spec_dir : CDI_DEFAULT_DIR;
	char *json = NULL;
	int rc;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "unable to create cdi spec file: "
		    "cannot make the folder %s: %s", dir, strerror(-rc));
		return rc;
	}
	rc = cdi_gpu_spec(o, r, &json, err, errlen);
	if (rc == 0)
		rc = cdi_write(dir, "gpu", json, err, errlen);
	gdp_free(json);
	json = NULL;
	if (rc == 0 && r->all->n_imex > 0)
		rc = cdi_imex_spec(r->all, &json, err, errlen);
	if (rc == 0)
		rc = cdi_write(dir, "imex-channel", json, err, errlen);
	gdp_free(json);
	return rc;
}
