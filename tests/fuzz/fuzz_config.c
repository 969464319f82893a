/*
 * fuzz_config.c: the config file parser (src/config/file.c, sharing.c)
 * on arbitrary bytes, then what start-up does with a file that parsed:
 * its values through the flags' precedence chain, the checks across
 * sources and the effective config as JSON.
 *
 * Beyond not crashing or leaking: every message must name the file
 * first (operators find the line from it), and the JSON must come out
 * whenever the configuration is good.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/effective.h"
#include "config/file.h"
#include "config/flags.h"
#include "util/alloc.h"

#define NAME "fuzz.yaml"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_lines(char **lines, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strncmp(lines[i], NAME ":", strlen(NAME) + 1) != 0 &&
		    strcmp(lines[i], "(more not shown)") != 0)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_layer layer = { cfgfile_lookup, NULL };
	char arg0[] = "gpu-device-plugin", *argv[] = { arg0, NULL };
	struct cfgfile *cf = NULL;
	struct config cfg;
	char err[2048], *json;
	int rc;

	rc = cfgfile_parse(NAME, (const char *)data, size, &cf);
	if (cf == NULL)
		return 0;       /* out of memory */
	layer.arg = cf;
	if (rc == 0 && config_parse_layered(&cfg, 1, argv, &layer, err,
	    sizeof(err)) == 0 && effective_check(&cfg, cf) == 0) {
		json = effective_json(&cfg, cf, size % 2 == 0);
		if (json == NULL)
			abort();
		gdp_free(json);
	}
	check_lines(cf->errors, cf->n_errors);
	check_lines(cf->warnings, cf->n_warnings);
	cfgfile_free(cf);
	return 0;
}
