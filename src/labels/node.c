/*
 * node.c: the label file's text for this node, from the plugin's
 * settings (see labels.h). The one place of the labels that reads a
 * clock and the DMI file, so that labels.c stays pure.
 */
#include "labels.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

int
labels_node_text(const struct config *cfg, const struct cfgfile *file,
    const struct inventory *inv, char **text)
{
	struct labels_input in = { inv, cfg->mig_strategy, file, NULL };
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
	labels_read_machine(path, machine, sizeof(machine));
	in.machine = machine;
	if ((rc = labels_build(&in, &set)) < 0)
		return rc;
	*text = labels_text(&set, cfg->gfd_no_timestamp ? -1 :
	    (int64_t)time(NULL));
	label_set_free(&set);
	return *text == NULL ? -ENOMEM : 0;
}
