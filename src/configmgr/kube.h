/*
 * kube.h: the two API server calls gdp-config-manager makes: get a node,
 * and watch it.
 *
 * In-cluster, as a pod's service account gives it (or from a kubeconfig,
 * kubeconfig.h): the API server
 * from KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT, the CA bundle
 * and the bearer token from a directory (normally
 * /var/run/secrets/kubernetes.io/serviceaccount). The token is read again
 * for every request, because the kubelet rotates it.
 *
 * Returns 0 or a negative errno, with a sentence in |err| (KUBE_ERR_LEN)
 * that names the request, the HTTP status and the API server's message:
 * -EACCES (401, 403), -ESTALE (410 Gone: list again), -ENOENT (404),
 * -EPROTO (any other answer, a bad body, TLS), -ECONNREFUSED,
 * -ETIMEDOUT (no data for timeout_s, after a watch's own end), -ENOMEM,
 * -EINVAL (a missing variable).
 */
#ifndef GDP_CONFIGMGR_KUBE_H
#define GDP_CONFIGMGR_KUBE_H

#include <limits.h>

#define KUBE_ERR_LEN 1024

struct kube {
	char host[256];
	char port[16];
	char ca_file[PATH_MAX];
	char token_file[PATH_MAX];
	int timeout_s;		/* the longest wait for an answer's data */
	char *ca_pem;		/* kubeconfig: the CA as PEM text, or NULL */
	char *token;		/* kubeconfig: the token itself, or NULL */
};

/* Frees what kubeconfig_load() put into |k|. */
void kube_free(struct kube *k);

/*
 * Fills |k| from the environment and the service account dir |sa_dir|;
 * every read waits at most |timeout_s| seconds (a watch: that long after
 * the API server should have ended it).
 */
int kube_in_cluster(struct kube *k, const char *sa_dir, int timeout_s,
    char *err);

/*
 * GETs /api/v1/nodes/|node|. *|value| gets a copy of its label |label|
 * (NULL when the node has none) and *|rv| its resourceVersion; both are
 * the caller's to free().
 */
int kube_get_node(const struct kube *k, const char *node, const char *label,
    char **value, char **rv, char *err);

/* Called with the label's value (NULL: none) for every change event. */
typedef int (*kube_label_cb)(const char *value, void *arg);

/*
 * Watches the node from resourceVersion *|rv| (updated as events come;
 * still the caller's) and calls |cb| for every ADDED or MODIFIED event;
 * an error |cb| returns ends the watch with it. *|events| counts the
 * events seen. Returns 0 when the server ends the stream.
 */
int kube_watch(const struct kube *k, const char *node, const char *label,
    char **rv, kube_label_cb cb, void *arg, int *events, char *err);

#endif /* GDP_CONFIGMGR_KUBE_H */
