/* idx.h: a checked reader for the MNIST idx files (unsigned-byte data,
 * one or three dimensions). See idx.c. */
#ifndef GDP_VALIDATE_IDX_H
#define GDP_VALIDATE_IDX_H

#include <stddef.h>
#include <stdint.h>

struct idx_file {
	uint32_t ndims;   /* 1 (labels) or 3 (images) */
	uint32_t dims[3]; /* dims[0] is the item count */
	size_t size;      /* bytes in data: the product of dims */
	uint8_t *data;    /* owned; free with idx_free */
};

/* Reads path and checks that it holds an idx file of unsigned bytes with
 * want_dims dimensions and exactly the data its header promises. Returns 0,
 * or -1 with a message naming path in err. */
int idx_read(const char *path, uint32_t want_dims, struct idx_file *out,
    char *err, size_t errlen);
void idx_free(struct idx_file *f);

#endif
