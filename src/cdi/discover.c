/*
 * discover.c: the NVIDIA driver's files under a driver root, found by the
 * rules NVIDIA's container toolkit uses for its CDI specs (reference §9):
 *
 * - libraries: every lib*.so.<driver version> (and libnvidia-nvvm70.so.*)
 *   in the folders the plugin loads NVML from (/usr/lib64,
 *   /usr/lib/{x86_64,aarch64}-linux-gnu, /lib64, /lib/{x86_64,aarch64}-
 *   linux-gnu), symbolic links followed, each file once; the links in
 *   those folders that lead to one of them (libcuda.so -> libcuda.so.1 ->
 *   libcuda.so.<version>) become create-symlinks arguments;
 * - GSP firmware: /lib/firmware/nvidia/<version>/gsp*.bin;
 * - binaries: nvidia-smi, nvidia-debugdump, nvidia-persistenced,
 *   nvidia-cuda-mps-control, nvidia-cuda-mps-server, nvidia-imex,
 *   nvidia-imex-ctl, the first of each in /usr/local/sbin,
 *   /usr/local/bin, /usr/sbin, /usr/bin, /sbin, /bin;
 * - IPC sockets: nvidia-persistenced's and nvidia-fabricmanager's (in
 *   /run or /var/run) and the MPS folder /tmp/nvidia-mps;
 * - per GPU, its DRM card and render nodes, named by the udev links
 *   /dev/dri/by-path/pci-<bus id>-{card,render} under the dev root.
 *
 * Links are followed with realpath(3) on the path as this process sees
 * it; a result outside the root (an absolute link meant for the host's
 * own root) is left out rather than guessed at. Folder listings are
 * sorted, so the same tree always gives the same spec.
 */
#include "cdi/cdi_int.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/alloc.h"

static const char *const lib_dirs[] = {
	"/usr/lib64", "/usr/lib/x86_64-linux-gnu",
	"/usr/lib/aarch64-linux-gnu", "/lib64", "/lib/x86_64-linux-gnu",
	"/lib/aarch64-linux-gnu",
};
static const char *const bin_dirs[] = {
	"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin",
	"/sbin", "/bin",
};
static const char *const binaries[] = {
	"nvidia-smi", "nvidia-debugdump", "nvidia-persistenced",
	"nvidia-cuda-mps-control", "nvidia-cuda-mps-server", "nvidia-imex",
	"nvidia-imex-ctl",
};
/* Each entry: where to look, first found wins. */
static const char *const ipc[][2] = {
	{ "/run/nvidia-persistenced/socket",
	  "/var/run/nvidia-persistenced/socket" },
	{ "/run/nvidia-fabricmanager/socket",
	  "/var/run/nvidia-fabricmanager/socket" },
	{ "/tmp/nvidia-mps", NULL },
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

int
strlist_add(struct strlist *l, const char *s)
{
	char *copy;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 8;
		char **v = gdp_realloc(l->v, cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	if ((copy = gdp_strdup(s)) == NULL)
		return -ENOMEM;
	l->v[l->n++] = copy;
	return 0;
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
strlist_sort_unique(struct strlist *l)
{
	size_t n = 0;

	if (l->n == 0)
		return;
	qsort(l->v, l->n, sizeof(*l->v), str_cmp);
	for (size_t i = 1; i < l->n; i++) {
		if (strcmp(l->v[i], l->v[n]) == 0)
			gdp_free(l->v[i]);
		else
			l->v[++n] = l->v[i];
	}
	l->n = n + 1;
}

static bool
strlist_has(const struct strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return true;
	return false;
}

void
strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		gdp_free(l->v[i]);
	gdp_free(l->v);
	memset(l, 0, sizeof(*l));
}

void
driver_files_free(struct driver_files *f)
{
	strlist_free(&f->libs);
	strlist_free(&f->lib_dirs);
	strlist_free(&f->links);
	strlist_free(&f->firmware);
	strlist_free(&f->binaries);
	strlist_free(&f->ipc);
	gdp_free(f->libcuda_dir);
	f->libcuda_dir = NULL;
}

/* Where |path| (a container path) is seen: |root| joined with it. */
static bool
seen_path(const char *root, const char *path, char *out, size_t len)
{
	int n = snprintf(out, len, "%s%s", strcmp(root, "/") ? root : "",
	    path);

	return n >= 0 && (size_t)n < len;
}

/*
 * |path| under |root| with every link followed, as a container path in
 * |out|; false when it is not there or leads out of |root|.
 */
static bool
resolve(const char *root, const char *path, char *out, size_t len)
{
	char seen[PATH_MAX], real[PATH_MAX], rroot[PATH_MAX];
	size_t rl;

	if (!seen_path(root, path, seen, sizeof(seen)) ||
	    realpath(seen, real) == NULL || realpath(root, rroot) == NULL)
		return false;
	rl = strcmp(rroot, "/") ? strlen(rroot) : 0;
	if (strncmp(real, rroot, rl) != 0 || (real[rl] != '/' &&
	    real[rl] != '\0'))
		return false;
	return snprintf(out, len, "%s", real[rl] ? real + rl : "/") <
	    (int)len;
}

/* Folder |dir| under |root|, its entry names sorted; -ENOMEM. */
static int
list_dir(const char *root, const char *dir, struct strlist *names)
{
	char seen[PATH_MAX];
	struct dirent *e;
	DIR *d;
	int rc = 0;

	if (!seen_path(root, dir, seen, sizeof(seen)) ||
	    (d = opendir(seen)) == NULL)
		return 0;
	while (rc == 0 && (e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			rc = strlist_add(names, e->d_name);
	closedir(d);
	strlist_sort_unique(names);
	return rc;
}

static bool
is_library(const char *name, const char *version)
{
	size_t n = strlen(name), v = strlen(version);

	if (strncmp(name, "lib", 3) != 0)
		return false;
	if (fnmatch("libnvidia-nvvm70.so.*", name, 0) == 0)
		return true;
	return n > v + 4 && strcmp(name + n - v, version) == 0 &&
	    strncmp(name + n - v - 4, ".so.", 4) == 0;
}

/* A regular file at container path |path| under |root|? */
static bool
is_file(const char *root, const char *path)
{
	char seen[PATH_MAX];
	struct stat st;

	return seen_path(root, path, seen, sizeof(seen)) &&
	    stat(seen, &st) == 0 && S_ISREG(st.st_mode);
}

/* The libraries of one folder; its links come in a second pass. */
static int
find_libs(const char *root, const char *dir, const char *version,
    struct driver_files *f)
{
	struct strlist names = { 0 };
	char path[PATH_MAX], real[PATH_MAX];
	int rc = list_dir(root, dir, &names);

	for (size_t i = 0; rc == 0 && i < names.n; i++) {
		if (!is_library(names.v[i], version))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, names.v[i]);
		if (!resolve(root, path, real, sizeof(real)) ||
		    !is_file(root, real))
			continue;
		rc = strlist_add(&f->libs, real);
		if (rc == 0 && f->libcuda_dir == NULL &&
		    strncmp(names.v[i], "libcuda.so.", 11) == 0) {
			*strrchr(real, '/') = '\0';
			f->libcuda_dir = gdp_strdup(real);
			rc = f->libcuda_dir == NULL ? -ENOMEM : 0;
		}
	}
	strlist_free(&names);
	return rc;
}

/* The links of the (resolved) folder |dir| that lead to a library. */
static int
find_links(const char *root, const char *dir, struct driver_files *f)
{
	struct strlist names = { 0 };
	char path[PATH_MAX], seen[PATH_MAX], real[PATH_MAX], target[PATH_MAX];
	char arg[2 * PATH_MAX + 4];
	struct stat st;
	int rc = list_dir(root, dir, &names);

	for (size_t i = 0; rc == 0 && i < names.n; i++) {
		ssize_t n;

		snprintf(path, sizeof(path), "%s/%s", dir, names.v[i]);
		if (!seen_path(root, path, seen, sizeof(seen)) ||
		    lstat(seen, &st) < 0 || !S_ISLNK(st.st_mode) ||
		    !resolve(root, path, real, sizeof(real)) ||
		    !strlist_has(&f->libs, real))
			continue;
		n = readlink(seen, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		snprintf(arg, sizeof(arg), "%s::%s", target, path);
		rc = strlist_add(&f->links, arg);
	}
	strlist_free(&names);
	return rc;
}

static int
find_all_libs(const char *root, const char *version, struct driver_files *f)
{
	char real[PATH_MAX];
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < COUNT(lib_dirs); i++)
		rc = find_libs(root, lib_dirs[i], version, f);
	strlist_sort_unique(&f->libs);
	for (size_t i = 0; rc == 0 && i < f->libs.n; i++) {
		snprintf(real, sizeof(real), "%s", f->libs.v[i]);
		*strrchr(real, '/') = '\0';
		rc = strlist_add(&f->lib_dirs, real[0] ? real : "/");
	}
	strlist_sort_unique(&f->lib_dirs);
	for (size_t i = 0; rc == 0 && i < f->lib_dirs.n; i++)
		rc = find_links(root, f->lib_dirs.v[i], f);
	strlist_sort_unique(&f->links);
	return rc;
}

static int
find_firmware(const char *root, const char *version, struct driver_files *f)
{
	struct strlist names = { 0 };
	char dir[PATH_MAX], path[PATH_MAX + 256];
	int rc;

	snprintf(dir, sizeof(dir), "/lib/firmware/nvidia/%s", version);
	rc = list_dir(root, dir, &names);
	for (size_t i = 0; rc == 0 && i < names.n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names.v[i]);
		if (fnmatch("gsp*.bin", names.v[i], 0) == 0 &&
		    is_file(root, path))
			rc = strlist_add(&f->firmware, path);
	}
	strlist_free(&names);
	return rc;
}

static int
find_binaries(const char *root, struct driver_files *f)
{
	char path[PATH_MAX];
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < COUNT(binaries); i++)
		for (size_t j = 0; j < COUNT(bin_dirs); j++) {
			snprintf(path, sizeof(path), "%s/%s", bin_dirs[j],
			    binaries[i]);
			if (is_file(root, path)) {
				rc = strlist_add(&f->binaries, path);
				break;
			}
		}
	return rc;
}

static int
find_ipc(const char *root, struct driver_files *f)
{
	char seen[PATH_MAX];
	struct stat st;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < COUNT(ipc); i++)
		for (size_t j = 0; j < 2 && ipc[i][j] != NULL; j++)
			if (seen_path(root, ipc[i][j], seen, sizeof(seen)) &&
			    lstat(seen, &st) == 0) {
				rc = strlist_add(&f->ipc, ipc[i][j]);
				break;
			}
	return rc;
}

int
driver_files_find(const char *root, const char *version,
    struct driver_files *f)
{
	int rc;

	memset(f, 0, sizeof(*f));
	if (version == NULL || version[0] == '\0')
		version = "unknown";
	rc = find_all_libs(root, version, f);
	if (rc == 0)
		rc = find_firmware(root, version, f);
	if (rc == 0)
		rc = find_binaries(root, f);
	if (rc == 0)
		rc = find_ipc(root, f);
	return rc;
}

/* One of a GPU's DRM nodes: the by-path link |kind| ("card", "render"). */
static void
drm_node(const char *dev_root, const char *bdf, const char *kind,
    const char *prefix, struct drm_node *out)
{
	char seen[PATH_MAX], target[64];
	const char *base;
	struct stat st;
	ssize_t n;

	memset(out, 0, sizeof(*out));
	snprintf(out->link, sizeof(out->link), "/dev/dri/by-path/pci-%s-%s",
	    bdf, kind);
	if (!seen_path(dev_root, out->link, seen, sizeof(seen)) ||
	    (n = readlink(seen, target, sizeof(target) - 1)) <= 0)
		return;
	target[n] = '\0';
	base = strrchr(target, '/') != NULL ? strrchr(target, '/') + 1 :
	    target;
	if (strncmp(base, prefix, strlen(prefix)) != 0)
		return;
	snprintf(out->node, sizeof(out->node), "/dev/dri/%s", base);
	if (!seen_path(dev_root, out->node, seen, sizeof(seen)) ||
	    stat(seen, &st) < 0 || !S_ISCHR(st.st_mode)) {
		out->node[0] = '\0';
		return;
	}
	snprintf(out->target, sizeof(out->target), "%s", target);
}

void
drm_nodes(const char *dev_root, const char *bdf, struct drm_node *card,
    struct drm_node *render)
{
	drm_node(dev_root, bdf, "card", "card", card);
	drm_node(dev_root, bdf, "render", "renderD", render);
}
