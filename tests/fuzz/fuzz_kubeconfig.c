/*
 * fuzz_kubeconfig.c: the config-manager's kubeconfig reader
 * (src/configmgr/kubeconfig.c) on arbitrary bytes, from a buffer.
 *
 * Beyond not crashing or leaking: a kubeconfig that is taken gives a
 * host, a port, exactly one CA (text or a file) and exactly one token
 * (text or a file), and file names relative to its directory are under
 * that directory; one that is refused leaves nothing allocated, and its
 * message names the file first and never prints a missing name as
 * "(null)".
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kubeconfig.h"

#define NAME "fuzz.kubeconfig"
#define DIR "/etc/kc"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
file_ok(const char *f)
{
	return f[0] == '/';
}

static void
check_ok(const struct kube *k)
{
	if (k->host[0] == '\0' || k->port[0] == '\0' || k->timeout_s != 7)
		abort();
	if ((k->ca_pem != NULL) == (k->ca_file[0] != '\0'))
		abort();
	if ((k->token != NULL) == (k->token_file[0] != '\0'))
		abort();
	if ((k->ca_file[0] != '\0' && !file_ok(k->ca_file)) ||
	    (k->token_file[0] != '\0' && !file_ok(k->token_file)))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[KUBE_ERR_LEN] = "";
	struct kube k;
	int rc;

	rc = kubeconfig_parse(&k, NAME, DIR, (const char *)data, size, 7,
	    err);
	if (rc == 0) {
		check_ok(&k);
		kube_free(&k);
		return 0;
	}
	if (rc != -EINVAL && rc != -ENOMEM)
		abort();
	if (k.ca_pem != NULL || k.token != NULL)
		abort();
	if (rc == -EINVAL && strncmp(err, "KUBECONFIG " NAME,
	    strlen("KUBECONFIG " NAME)) != 0)
		abort();
	if (strstr(err, "(null)") != NULL &&
	    memmem(data, size, "(null)", 6) == NULL)
		abort();
	return 0;
}
