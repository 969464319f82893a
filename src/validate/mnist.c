/* mnist.c: loads the four MNIST idx files and checks they belong together
 * (28x28 images, as many labels as images, labels 0-9). Like TensorFlow's
 * read_data_sets, the first 5,000 training images are held out as its
 * validation set, so training draws from the remaining 55,000 and the
 * network sees the same data the article's job did. */
#include "validate/mnist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate/idx.h"

#define TF_VALIDATION_SIZE 5000

static int load_pair(const char *dir, const char *prefix, size_t skip,
    struct mnist_set *s, char *err, size_t errlen)
{
	char ipath[4096], lpath[4096];
	snprintf(ipath, sizeof(ipath), "%s/%s-images-idx3-ubyte", dir, prefix);
	snprintf(lpath, sizeof(lpath), "%s/%s-labels-idx1-ubyte", dir, prefix);
	struct idx_file im, lb;
	if (idx_read(ipath, 3, &im, err, errlen) != 0)
		return -1;
	if (idx_read(lpath, 1, &lb, err, errlen) != 0) {
		idx_free(&im);
		return -1;
	}
	int rc = -1;
	if (im.dims[1] != 28 || im.dims[2] != 28) {
		snprintf(err, errlen, "%s: images are %ux%u, want 28x28", ipath,
		    im.dims[1], im.dims[2]);
	} else if (im.dims[0] != lb.dims[0]) {
		snprintf(err, errlen, "%s: %u labels for %u images in %s", lpath,
		    lb.dims[0], im.dims[0], ipath);
	} else if (im.dims[0] <= skip) {
		snprintf(err, errlen, "%s: %u images, need more than %zu", ipath,
		    im.dims[0], skip);
	} else {
		rc = 0;
	}
	for (size_t i = 0; rc == 0 && i < lb.size; i++) {
		if (lb.data[i] >= MNIST_CLASSES) {
			snprintf(err, errlen, "%s: label %zu is %u, want 0-9",
			    lpath, i, lb.data[i]);
			rc = -1;
		}
	}
	if (rc == 0) {
		s->n = im.dims[0] - skip;
		s->images = malloc(s->n * MNIST_PIXELS * sizeof(float));
		s->labels = malloc(s->n);
		if (s->images == NULL || s->labels == NULL) {
			snprintf(err, errlen, "%s: out of memory", ipath);
			rc = -1;
		}
	}
	if (rc == 0) {
		const uint8_t *px = im.data + skip * MNIST_PIXELS;
		for (size_t i = 0; i < s->n * MNIST_PIXELS; i++)
			s->images[i] = (float)px[i] * (1.0f / 255.0f);
		memcpy(s->labels, lb.data + skip, s->n);
	}
	idx_free(&im);
	idx_free(&lb);
	return rc;
}

int mnist_load(const char *dir, struct mnist *m, char *err, size_t errlen)
{
	memset(m, 0, sizeof(*m));
	if (load_pair(dir, "train", TF_VALIDATION_SIZE, &m->train, err,
	    errlen) != 0 || load_pair(dir, "t10k", 0, &m->test, err,
	    errlen) != 0) {
		mnist_free(m);
		return -1;
	}
	return 0;
}

static void set_free(struct mnist_set *s)
{
	free(s->images);
	free(s->labels);
	s->images = NULL;
	s->labels = NULL;
}

void mnist_free(struct mnist *m)
{
	set_free(&m->train);
	set_free(&m->test);
}
