/*
 * node.c: the label file's text for this node, from the plugin's
 * settings (see labels.h). The one place of the labels that reads a
 * clock and the DMI file, so that labels.c stays pure.
 */
#include "labels.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Each GPU's PCI class from <sysfs>/bus/pci/devices/<bdf>/class, as
   GFD reads it; -1 where unreadable. Returns GFD's mode. */
static const char *
mode_of(const struct inventory *inv, const char *sysfs_root)
{
	long classes[64];
	size_t n = inv->n < 64 ? inv->n : 64;

	for (size_t i = 0; i < n; i++) {
		char path[4200], text[32];
		char *end;

		snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/class",
		    sysfs_root, inv->gpus[i].sysfs_bdf);
		labels_read_trimmed(path, text, sizeof(text));
		classes[i] = strtol(text, &end, 16);
		if (text[0] == '\0' || *end != '\0')
			classes[i] = -1;
	}
	return labels_gpu_mode(classes, n);
}

int
labels_node_text(const struct config *cfg, const struct cfgfile *file,
    const struct inventory *inv, char **text)
{
	struct labels_input in = { inv, cfg->mig_strategy, file, NULL, NULL };
	struct label_set set;
	char path[4096], machine[256];
	int rc;

	*text = NULL;
	if (cfg->gfd_output_file == NULL || cfg->gfd_output_file[0] == '\0')
		return 0;
	if (cfg->gfd_machine_type_file != NULL &&
	    cfg->gfd_machine_type_file[0] != '\0')
		snprintf(path, sizeof(path), "%s", cfg->gfd_machine_type_file);
	else
		snprintf(path, sizeof(path), "%s/class/dmi/id/product_name",
		    cfg->sysfs_root);
	labels_read_trimmed(path, machine, sizeof(machine));
	in.machine = machine;
	in.mode = mode_of(inv, cfg->sysfs_root);
	if ((rc = labels_build(&in, &set)) < 0)
		return rc;
	*text = labels_text(&set, cfg->gfd_no_timestamp ? -1 :
	    (int64_t)time(NULL));
	label_set_free(&set);
	return *text == NULL ? -ENOMEM : 0;
}
