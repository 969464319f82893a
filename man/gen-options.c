/*
 * gen-options.c: writes gpu-device-plugin(8) at build time: the
 * hand-written parts given as arguments, with the OPTIONS list between
 * them generated from the settings table (config_usage_mdoc()), the one
 * table --help prints too. A program linking the config code rather than
 * a hidden flag of the daemon: the daemon's command line stays NVIDIA's
 * plus what it documents.
 *
 * Usage: gen-options HEAD TAIL > gpu-device-plugin.8
 */
#include <stdio.h>

#include "config/flags.h"

/* Copies the file |path| to stdout; 0, or -1 with a message. */
static int
copy(const char *path)
{
	char buf[4096];
	size_t n;
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		perror(path);
		return -1;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		if (fwrite(buf, 1, n, stdout) != n)
			break;
	if (ferror(f) || ferror(stdout)) {
		fprintf(stderr, "gen-options: copying %s failed\n", path);
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: gen-options HEAD TAIL\n");
		return 2;
	}
	if (copy(argv[1]) < 0)
		return 1;
	config_usage_mdoc(stdout);
	if (copy(argv[2]) < 0 || fflush(stdout) != 0)
		return 1;
	return 0;
}
