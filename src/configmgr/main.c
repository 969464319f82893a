/*
 * gdp-config-manager: keeps the plugin's config file pointing at the
 * config its node's label names, and tells the plugin (SIGHUP) when that
 * changes. The equivalent of NVIDIA's config-manager, with its flags and
 * environment variables, for the Helm chart's init container (ONESHOT)
 * and sidecar; a separate small program so that the image carries no Go
 * runtime and the plugin itself never talks to the API server.
 *
 * The loop: get the node, apply its label, watch from its
 * resourceVersion and apply every change (in-cluster through the pod's
 * service account, or through KUBECONFIG); list again when the watch ends
 * or the API server says 410 Gone. Failures to reach the API server are
 * retried with a doubling delay (1 s to 30 s). A label that names no
 * config ends the program with status 1, leaving the link as it was, as
 * NVIDIA's does: the kubelet restarts the sidecar, and the plugin keeps
 * the config it has.
 */
#include "kube.h"
#include "kubeconfig.h"
#include "link.h"
#include "util/log.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define BACKOFF_FIRST_S 1
#define BACKOFF_MAX_S 30

enum opt {
	OPT_ONESHOT, OPT_KUBECONFIG, OPT_NODE_NAME, OPT_NODE_LABEL,
	OPT_SRCDIR, OPT_DST, OPT_DEFAULT, OPT_FALLBACKS, OPT_SEND_SIGNAL,
	OPT_SIGNAL, OPT_PROCESS, OPT_SA_DIR, OPT_TIMEOUT, OPT_COUNT
};

/* Each setting: its flag, its variable, its default (flag > env > default). */
static const struct {
	const char *flag;
	const char *env;
	const char *dflt;
} options[OPT_COUNT] = {
	[OPT_ONESHOT] = { "oneshot", "ONESHOT", "false" },
	[OPT_KUBECONFIG] = { "kubeconfig", "KUBECONFIG", "" },
	[OPT_NODE_NAME] = { "node-name", "NODE_NAME", "" },
	[OPT_NODE_LABEL] = { "node-label", "NODE_LABEL",
	    "nvidia.com/device-plugin.config" },
	[OPT_SRCDIR] = { "config-file-srcdir", "CONFIG_FILE_SRCDIR",
	    "/available-configs" },
	[OPT_DST] = { "config-file-dst", "CONFIG_FILE_DST",
	    "/config/config.yaml" },
	[OPT_DEFAULT] = { "default-config", "DEFAULT_CONFIG", "" },
	[OPT_FALLBACKS] = { "fallback-strategies", "FALLBACK_STRATEGIES", "" },
	[OPT_SEND_SIGNAL] = { "send-signal", "SEND_SIGNAL", "true" },
	[OPT_SIGNAL] = { "signal", "SIGNAL", "1" },
	[OPT_PROCESS] = { "process-to-signal", "PROCESS_TO_SIGNAL",
	    "nvidia-device-plugin" },
	[OPT_SA_DIR] = { "serviceaccount-dir", "SERVICEACCOUNT_DIR",
	    "/var/run/secrets/kubernetes.io/serviceaccount" },
	[OPT_TIMEOUT] = { "api-timeout", "API_TIMEOUT", "30" },
};

struct manager {
	const char *val[OPT_COUNT];
	bool oneshot;
	bool send_signal;
	int signal;
	int timeout_s;
	struct link_opts link;
	struct kube kube;
	bool fatal;		/* a config error: exit 1 */
};

static void
usage(FILE *f)
{
	int i;

	fprintf(f, "usage: gdp-config-manager [--FLAG=VALUE]...\n"
	    "flags (and their environment variables):\n");
	for (i = 0; i < OPT_COUNT; i++)
		fprintf(f, "  --%-22s %-20s default '%s'\n", options[i].flag,
		    options[i].env, options[i].dflt);
}

static int
parse_bool(const char *name, const char *s, bool *out)
{
	if (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0)
		*out = true;
	else if (strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0)
		*out = false;
	else {
		log_error("%s: '%s' is not true or false", name, s);
		return -EINVAL;
	}
	return 0;
}

static int
parse_args(struct manager *m, int argc, char **argv)
{
	struct option longopts[OPT_COUNT + 2];
	const char *env;
	char *end;
	int i, c;

	for (i = 0; i < OPT_COUNT; i++) {
		longopts[i] = (struct option){ options[i].flag,
		    required_argument, NULL, i };
		env = getenv(options[i].env);
		m->val[i] = env != NULL ? env : options[i].dflt;
	}
	longopts[OPT_COUNT] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[OPT_COUNT + 1] = (struct option){ NULL, 0, NULL, 0 };
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			exit(0);
		}
		if (c < 0 || c >= OPT_COUNT) {
			usage(stderr);
			return -EINVAL;
		}
		m->val[c] = optarg;
	}
	if (optind < argc) {
		log_error("unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	if (parse_bool("ONESHOT", m->val[OPT_ONESHOT], &m->oneshot) < 0 ||
	    parse_bool("SEND_SIGNAL", m->val[OPT_SEND_SIGNAL],
	    &m->send_signal) < 0)
		return -EINVAL;
	errno = 0;
	m->signal = (int)strtol(m->val[OPT_SIGNAL], &end, 10);
	if (errno != 0 || *end != '\0' || m->signal <= 0 || m->signal > 64) {
		log_error("SIGNAL: '%s' is not a signal number",
		    m->val[OPT_SIGNAL]);
		return -EINVAL;
	}
	errno = 0;
	m->timeout_s = (int)strtol(m->val[OPT_TIMEOUT], &end, 10);
	if (errno != 0 || *end != '\0' || m->timeout_s <= 0 ||
	    m->timeout_s > 3600) {
		log_error("API_TIMEOUT: '%s' is not a number of seconds"
		    " (1 to 3600)", m->val[OPT_TIMEOUT]);
		return -EINVAL;
	}
	return 0;
}

static int
check_settings(struct manager *m)
{
	if (m->val[OPT_NODE_NAME][0] == '\0') {
		log_error("NODE_NAME is not set (the chart sets it from the"
		    " downward API, spec.nodeName)");
		return -EINVAL;
	}
	m->link = (struct link_opts){ m->val[OPT_SRCDIR], m->val[OPT_DST],
	    m->val[OPT_DEFAULT], m->val[OPT_FALLBACKS] };
	return 0;
}

/*
 * Applies one label value: resolve, relink, signal when changed. A config
 * error marks the manager fatal; a missing process is only logged (the
 * plugin may be starting, and it reads the new link when it does).
 */
static int
apply_label(const char *label, void *arg)
{
	struct manager *m = arg;
	char target[PATH_MAX], err[LINK_ERR_LEN];
	bool changed = false;
	int rc, n;

	rc = link_resolve(&m->link, label, target, err);
	if (rc == 0)
		rc = link_update(&m->link, target, &changed, err);
	if (rc < 0) {
		log_error("%s", err);
		m->fatal = true;
		return rc;
	}
	if (!changed) {
		log_info("%s already points to %s", m->link.dst, target);
		return 0;
	}
	log_info("%s now points to %s (label %s='%s')", m->link.dst, target,
	    m->val[OPT_NODE_LABEL], label != NULL ? label : "");
	if (!m->send_signal)
		return 0;
	if (link_signal(m->val[OPT_PROCESS], m->signal, &n, err) < 0)
		log_warn("%s", err);
	else
		log_info("sent signal %d to %d process(es) named %s",
		    m->signal, n, m->val[OPT_PROCESS]);
	return 0;
}

/* Gets the node and applies its label; *|rv| gets its resourceVersion. */
static int
sync_node(struct manager *m, char **rv)
{
	char err[KUBE_ERR_LEN], *label = NULL;
	int rc;

	rc = kube_get_node(&m->kube, m->val[OPT_NODE_NAME],
	    m->val[OPT_NODE_LABEL], &label, rv, err);
	if (rc < 0) {
		log_error("%s", err);
		return rc;
	}
	rc = apply_label(label, m);
	free(label);
	return rc;
}

static void
sleep_s(int s)
{
	struct timespec ts = { s, 0 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Watches until the stream ends; 0 when it ends normally or with 410. */
static int
watch_node(struct manager *m, char **rv, int *events)
{
	char err[KUBE_ERR_LEN];
	int rc;

	*events = 0;
	rc = kube_watch(&m->kube, m->val[OPT_NODE_NAME],
	    m->val[OPT_NODE_LABEL], rv, apply_label, m, events, err);
	if (m->fatal)
		return rc;
	if (rc == -ESTALE) {
		log_info("%s; listing the node again", err);
		return 0;
	}
	if (rc < 0)
		log_error("%s", err);
	else
		log_info("the watch ended; listing the node again");
	return rc;
}

static int
run(struct manager *m)
{
	int backoff = BACKOFF_FIRST_S, events, rc;
	char *rv = NULL;

	for (;;) {
		free(rv);
		rv = NULL;
		rc = sync_node(m, &rv);
		if (rc == 0 && !m->fatal)
			rc = watch_node(m, &rv, &events);
		if (m->fatal)
			break;
		if (rc == 0 && events > 0) {
			backoff = BACKOFF_FIRST_S;
			continue;
		}
		/* An error, or a watch that ended with nothing in it. */
		log_info("retrying in %d s", backoff);
		sleep_s(backoff);
		backoff = backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S :
		    backoff * 2;
	}
	free(rv);
	return rc;
}

int
main(int argc, char **argv)
{
	struct manager m = { 0 };
	char err[KUBE_ERR_LEN], *rv = NULL;
	int rc;

	if (parse_args(&m, argc, argv) < 0 || check_settings(&m) < 0)
		return 1;
	if (m.val[OPT_KUBECONFIG][0] != '\0')
		rc = kubeconfig_load(&m.kube, m.val[OPT_KUBECONFIG],
		    m.timeout_s, err);
	else
		rc = kube_in_cluster(&m.kube, m.val[OPT_SA_DIR], m.timeout_s,
		    err);
	if (rc < 0) {
		log_error("%s", err);
		return 1;
	}
	log_info("gdp-config-manager: node %s, label %s, %s -> %s/...%s",
	    m.val[OPT_NODE_NAME], m.val[OPT_NODE_LABEL], m.link.dst,
	    m.link.srcdir, m.oneshot ? " (oneshot)" : "");
	if (m.oneshot) {
		rc = sync_node(&m, &rv);
		free(rv);
		kube_free(&m.kube);
		return rc < 0 ? 1 : 0;
	}
	run(&m);
	kube_free(&m.kube);
	return 1;
}
