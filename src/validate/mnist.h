/* mnist.h: the MNIST training and test sets as float pixels in [0, 1]
 * and byte labels. See mnist.c. */
#ifndef GDP_VALIDATE_MNIST_H
#define GDP_VALIDATE_MNIST_H

#include <stddef.h>
#include <stdint.h>

#define MNIST_PIXELS 784
#define MNIST_CLASSES 10

struct mnist_set {
	size_t n;         /* images */
	float *images;    /* n * MNIST_PIXELS, owned */
	uint8_t *labels;  /* n, owned, each < MNIST_CLASSES */
};

struct mnist {
	struct mnist_set train; /* TF's split: images 5000..59999 */
	struct mnist_set test;  /* all 10,000 t10k images */
};

/* Loads the four idx files from dir. Returns 0, or -1 with a message
 * naming the file at fault in err. Free with mnist_free. */
int mnist_load(const char *dir, struct mnist *m, char *err, size_t errlen);
void mnist_free(struct mnist *m);

#endif
