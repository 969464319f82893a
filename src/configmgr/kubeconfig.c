/*
 * kubeconfig.c: the current context of a kubeconfig, for kube.h
 * (kubeconfig.h).
 *
 * libyaml loads the whole document (a kubeconfig is small); the walk
 * goes current-context -> contexts[name].context -> clusters[] and
 * users[] by name, as kubectl resolves them. Relative file names are
 * taken from the kubeconfig's own directory, as kubectl does.
 */
#include "kubeconfig.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>
#include <yaml.h>

struct kcfg {
	yaml_document_t doc;
	const char *path;
	char dir[PATH_MAX];
	char *err;
};

static yaml_node_t *
map_get(struct kcfg *c, yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *p;
	yaml_node_t *k;

	if (map == NULL || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (p = map->data.mapping.pairs.start;
	    p < map->data.mapping.pairs.top; p++) {
		k = yaml_document_get_node(&c->doc, p->key);
		if (k != NULL && k->type == YAML_SCALAR_NODE &&
		    strcmp((const char *)k->data.scalar.value, key) == 0)
			return yaml_document_get_node(&c->doc, p->value);
	}
	return NULL;
}

static const char *
scalar(yaml_node_t *n)
{
	if (n == NULL || n->type != YAML_SCALAR_NODE)
		return NULL;
	return (const char *)n->data.scalar.value;
}

/* The |field| mapping of the item of list |list| called |name|. */
static yaml_node_t *
named(struct kcfg *c, const char *list, const char *name, const char *field)
{
	yaml_node_t *seq = map_get(c, yaml_document_get_root_node(&c->doc),
	    list), *item;
	yaml_node_item_t *i;
	const char *n;

	if (seq == NULL || seq->type != YAML_SEQUENCE_NODE)
		goto out_missing;
	for (i = seq->data.sequence.items.start;
	    i < seq->data.sequence.items.top; i++) {
		item = yaml_document_get_node(&c->doc, *i);
		n = scalar(map_get(c, item, "name"));
		if (n != NULL && strcmp(n, name) == 0 &&
		    map_get(c, item, field) != NULL)
			return map_get(c, item, field);
	}
out_missing:
	snprintf(c->err, KUBE_ERR_LEN, "KUBECONFIG %s: no %s entry named"
	    " '%s' with a '%s'", c->path, list, name, field);
	return NULL;
}

/* |file| as kubectl reads it: relative to the kubeconfig's directory. */
static int
kcfg_path(struct kcfg *c, const char *file, char *out, size_t size)
{
	int n = file[0] == '/' ? snprintf(out, size, "%s", file) :
	    snprintf(out, size, "%s/%s", c->dir, file);

	if (n < 0 || (size_t)n >= size) {
		snprintf(c->err, KUBE_ERR_LEN, "KUBECONFIG %s: the path %s is"
		    " too long", c->path, file);
		return -EINVAL;
	}
	return 0;
}

/* "https://HOST[:PORT][/]", HOST possibly "[v6]". */
static int
parse_server(struct kcfg *c, struct kube *k, const char *url)
{
	const char *host, *end, *port = "443";
	size_t hlen, plen = 3;

	if (strncmp(url, "https://", 8) != 0)
		goto out_bad;
	host = url + 8;
	if (host[0] == '[') {
		end = strchr(++host, ']');
		if (end == NULL)
			goto out_bad;
		hlen = (size_t)(end - host);
		end++;
	} else {
		hlen = strcspn(host, ":/");
		end = host + hlen;
	}
	if (*end == ':') {
		port = end + 1;
		plen = strcspn(port, "/");
		end = port + plen;
	}
	if (hlen == 0 || hlen >= sizeof(k->host) || plen == 0 ||
	    plen >= sizeof(k->port) ||
	    (*end != '\0' && strcmp(end, "/") != 0))
		goto out_bad;
	memcpy(k->host, host, hlen);
	k->host[hlen] = '\0';
	memcpy(k->port, port, plen);
	k->port[plen] = '\0';
	return 0;
out_bad:
	snprintf(c->err, KUBE_ERR_LEN, "KUBECONFIG %s: server '%s' is not"
	    " https://HOST[:PORT]", c->path, url);
	return -EINVAL;
}

static int
cluster_ca(struct kcfg *c, struct kube *k, yaml_node_t *cluster,
    const char *name)
{
	const char *file = scalar(map_get(c, cluster, "certificate-authority"));
	const char *data = scalar(map_get(c, cluster,
	    "certificate-authority-data"));
	size_t n;

	if (data != NULL) {
		mbedtls_base64_decode(NULL, 0, &n, (const unsigned char *)data,
		    strlen(data));
		k->ca_pem = malloc(n + 1);
		if (k->ca_pem == NULL)
			return -ENOMEM;
		if (mbedtls_base64_decode((unsigned char *)k->ca_pem, n, &n,
		    (const unsigned char *)data, strlen(data)) != 0) {
			snprintf(c->err, KUBE_ERR_LEN, "KUBECONFIG %s: cluster"
			    " %s: certificate-authority-data is not base64",
			    c->path, name);
			return -EINVAL;
		}
		k->ca_pem[n] = '\0';
		return 0;
	}
	if (file != NULL)
		return kcfg_path(c, file, k->ca_file, sizeof(k->ca_file));
	snprintf(c->err, KUBE_ERR_LEN, "KUBECONFIG %s: cluster %s has no"
	    " certificate-authority(-data) (an unverified server is not"
	    " supported)", c->path, name);
	return -EINVAL;
}

static int
user_token(struct kcfg *c, struct kube *k, yaml_node_t *user,
    const char *name)
{
	const char *tok = scalar(map_get(c, user, "token"));
	const char *file = scalar(map_get(c, user, "tokenFile"));

	if (tok != NULL) {
		k->token = strdup(tok);
		return k->token != NULL ? 0 : -ENOMEM;
	}
	if (file != NULL)
		return kcfg_path(c, file, k->token_file, sizeof(k->token_file));
	snprintf(c->err, KUBE_ERR_LEN, "KUBECONFIG %s: user %s has no token"
	    " or tokenFile (client certificates, exec and auth-provider are"
	    " not supported)", c->path, name);
	return -EINVAL;
}

static int
resolve(struct kcfg *c, struct kube *k)
{
	yaml_node_t *root = yaml_document_get_root_node(&c->doc);
	const char *ctx = scalar(map_get(c, root, "current-context"));
	const char *cname, *uname, *server;
	yaml_node_t *context, *cluster, *user;
	int rc;

	if (ctx == NULL || ctx[0] == '\0') {
		snprintf(c->err, KUBE_ERR_LEN, "KUBECONFIG %s: no"
		    " current-context", c->path);
		return -EINVAL;
	}
	context = named(c, "contexts", ctx, "context");
	if (context == NULL)
		return -EINVAL;
	cname = scalar(map_get(c, context, "cluster"));
	uname = scalar(map_get(c, context, "user"));
	cluster = named(c, "clusters", cname != NULL ? cname : "", "cluster");
	if (cluster == NULL)
		return -EINVAL;
	user = named(c, "users", uname != NULL ? uname : "", "user");
	if (user == NULL)
		return -EINVAL;
	server = scalar(map_get(c, cluster, "server"));
	rc = parse_server(c, k, server != NULL ? server : "");
	if (rc == 0)
		rc = cluster_ca(c, k, cluster, cname);
	if (rc == 0)
		rc = user_token(c, k, user, uname);
	return rc;
}

int
kubeconfig_load(struct kube *k, const char *path, int timeout_s, char *err)
{
	struct kcfg c = { .path = path, .err = err };
	yaml_parser_t parser;
	char tmp[PATH_MAX];
	FILE *f;
	int rc;

	memset(k, 0, sizeof(*k));
	k->timeout_s = timeout_s;
	snprintf(tmp, sizeof(tmp), "%s", path);
	snprintf(c.dir, sizeof(c.dir), "%s", dirname(tmp));
	f = fopen(path, "r");
	if (f == NULL) {
		rc = -errno;
		snprintf(err, KUBE_ERR_LEN, "KUBECONFIG %s: %s", path,
		    strerror(-rc));
		return rc;
	}
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &c.doc)) {
		snprintf(err, KUBE_ERR_LEN, "KUBECONFIG %s:%zu: %s", path,
		    parser.problem_mark.line + 1,
		    parser.problem != NULL ? parser.problem : "not YAML");
		rc = -EINVAL;
		goto out_parser;
	}
	rc = resolve(&c, k);
	yaml_document_delete(&c.doc);
	if (rc < 0)
		kube_free(k);
out_parser:
	yaml_parser_delete(&parser);
	fclose(f);
	return rc;
}
