/*
 * kubeconfig.h: the API server and credentials from a kubeconfig file
 * (KUBECONFIG), for running gdp-config-manager outside a pod.
 *
 * The subset a bearer-token user needs: the current context's cluster
 * (server https://HOST[:PORT], certificate-authority or
 * certificate-authority-data) and user (token or tokenFile). Client
 * certificates, exec and auth-provider plugins are refused by name: the
 * in-cluster service account is the main path (kube.h).
 */
#ifndef GDP_CONFIGMGR_KUBECONFIG_H
#define GDP_CONFIGMGR_KUBECONFIG_H

#include "kube.h"

/*
 * Fills |k| (host, port, the CA as a file or PEM text, the token as a
 * file or text) from the kubeconfig |path|. Returns 0, or -EINVAL with a
 * sentence in |err| (KUBE_ERR_LEN) naming the file and the key, -ENOENT
 * or -EIO for a file that cannot be read, -ENOMEM. What it allocates is
 * freed by kube_free().
 */
int kubeconfig_load(struct kube *k, const char *path, int timeout_s,
    char *err);

#endif /* GDP_CONFIGMGR_KUBECONFIG_H */
