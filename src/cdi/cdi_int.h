/*
 * cdi_int.h: what spec.c needs from discover.c (private to src/cdi): the
 * driver's files under a driver root, as container paths ("/usr/lib/..."
 * relative to that root), sorted and each once.
 */
#ifndef GDP_CDI_INT_H
#define GDP_CDI_INT_H

#include <stddef.h>

struct strlist {
	char **v;                /* owned strings */
	size_t n, cap;
};

struct driver_files {
	struct strlist libs;     /* *.so.<version>, libnvidia-nvvm70.so.* */
	struct strlist lib_dirs; /* the folders they are in */
	struct strlist links;    /* create-symlinks: "<target>::<link>" */
	struct strlist firmware; /* /lib/firmware/nvidia/<version>/gsp*.bin */
	struct strlist binaries; /* nvidia-smi and the rest */
	struct strlist ipc;      /* persistenced, fabricmanager, MPS */
	char *libcuda_dir;       /* where libcuda.so.<version> is; or NULL */
};

/*
 * Finds the driver's files under |root| (a folder this process can read;
 * "/" for its own root) for driver |version|. A file that is not there is
 * left out; a symbolic link that leads out of |root| too. Returns 0, or
 * -ENOMEM. Free with driver_files_free (also after a failure).
 */
int driver_files_find(const char *root, const char *version,
    struct driver_files *out);
void driver_files_free(struct driver_files *f);

/* A GPU's DRM node: "/dev/dri/card1", its by-path link and target. */
struct drm_node {
	char node[80];           /* "" when the GPU has none */
	char link[128];          /* "/dev/dri/by-path/pci-<bdf>-card" */
	char target[64];         /* what the link says: "../card1" */
};

/*
 * The card and render nodes of the GPU at PCI |bdf| ("0000:3b:00.0"),
 * from the /dev/dri/by-path links under |dev_root| (as this process sees
 * it; "/" for its own). A node whose link or file is missing is "".
 */
void drm_nodes(const char *dev_root, const char *bdf, struct drm_node *card,
    struct drm_node *render);

int strlist_add(struct strlist *l, const char *s);
/* Sorts |l| and drops repeats. */
void strlist_sort_unique(struct strlist *l);
void strlist_free(struct strlist *l);

#endif /* GDP_CDI_INT_H */
