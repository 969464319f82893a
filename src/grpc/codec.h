/*
 * codec.h: the byte-level parts of gRPC over HTTP/2, as pure functions.
 *
 * Message framing (a 1-byte compressed flag and a 4-byte big-endian length
 * before each message), reassembly of messages that DATA frames split or
 * pack together, grpc-message percent-encoding, grpc-timeout parsing and
 * formatting, and the status code table. Nothing here does I/O or knows
 * about nghttp2, so the unit tests and the fuzzer call these directly.
 *
 * Errors are negative errno values: -EMSGSIZE (message over the limit),
 * -EPROTO (compressed flag or bad byte), -EINVAL (bad text), -ENOMEM.
 * Memory comes from util/alloc.h; strings returned here are the caller's,
 * freed with gdp_free() (which is free()).
 */
#ifndef GDP_GRPC_CODEC_H
#define GDP_GRPC_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GRPC_PREFIX_LEN 5
/* The largest message grpc-go receives by default; ours too. */
#define GRPC_DEFAULT_MAX_MESSAGE ((uint32_t)4 << 20)

/* Status codes (grpc/grpc doc/statuscodes.md). */
enum grpc_code {
	GRPC_OK = 0,
	GRPC_CANCELLED = 1,
	GRPC_UNKNOWN = 2,
	GRPC_INVALID_ARGUMENT = 3,
	GRPC_DEADLINE_EXCEEDED = 4,
	GRPC_NOT_FOUND = 5,
	GRPC_ALREADY_EXISTS = 6,
	GRPC_PERMISSION_DENIED = 7,
	GRPC_RESOURCE_EXHAUSTED = 8,
	GRPC_FAILED_PRECONDITION = 9,
	GRPC_ABORTED = 10,
	GRPC_OUT_OF_RANGE = 11,
	GRPC_UNIMPLEMENTED = 12,
	GRPC_INTERNAL = 13,
	GRPC_UNAVAILABLE = 14,
	GRPC_DATA_LOSS = 15,
	GRPC_UNAUTHENTICATED = 16,
};

/* "OK", "CANCELLED", …; "UNKNOWN_CODE" outside 0..16. Static storage. */
const char *grpc_code_name(int code);

/* Writes the 5-byte prefix of an uncompressed message of |len| bytes. */
void grpc_prefix_write(uint8_t out[GRPC_PREFIX_LEN], uint32_t len);

/*
 * Reassembles length-prefixed messages from a byte stream fed in pieces of
 * any size. Initialise with grpc_reader_init(); release with
 * grpc_reader_reset(). A message longer than |max| is refused from its
 * prefix alone, before any of it is buffered.
 */
struct grpc_reader {
	uint32_t max;
	uint8_t prefix[GRPC_PREFIX_LEN];
	size_t prefix_got;
	uint8_t *msg;    /* owned; NULL between messages */
	uint32_t msg_len;
	uint32_t msg_got;
	bool failed;     /* sticky after an error */
};

/*
 * Called once per complete message. |msg| is valid only during the call.
 * Return 0 to go on, or a negative errno to stop feeding (passed back by
 * grpc_reader_feed()).
 */
typedef int (*grpc_reader_cb)(const uint8_t *msg, size_t len, void *arg);

void grpc_reader_init(struct grpc_reader *r, uint32_t max);
void grpc_reader_reset(struct grpc_reader *r);
/*
 * Feeds |len| bytes. Returns 0, -EMSGSIZE, -EPROTO (compressed flag set:
 * we advertise no compression), -ENOMEM, or the callback's error. After an
 * error the reader refuses everything until reset.
 */
int grpc_reader_feed(struct grpc_reader *r, const uint8_t *data, size_t len,
    grpc_reader_cb cb, void *arg);
/* True when no partial message is buffered (a clean end of stream). */
bool grpc_reader_idle(const struct grpc_reader *r);

/*
 * Percent-encodes |in| for grpc-message: bytes 0x20-0x7e except '%' are
 * kept, every other byte becomes %XX (upper-case hex). Returns a new string
 * the caller frees, or NULL on allocation failure.
 */
char *grpc_percent_encode(const char *in, size_t len);
/*
 * Decodes a grpc-message value. Never fails on bad input: a '%' not
 * followed by two hex digits is kept as it is. Returns a new NUL-terminated
 * string the caller frees, or NULL on allocation failure.
 */
char *grpc_percent_decode(const char *in, size_t len);

/*
 * Parses a grpc-timeout value (1-8 digits and a unit H M S m u n) into
 * nanoseconds, saturating at INT64_MAX. Returns 0 or -EINVAL.
 */
int grpc_timeout_parse(const char *s, size_t len, int64_t *ns);
/*
 * Formats |ns| (> 0) as a grpc-timeout value, using the smallest unit whose
 * count fits in 8 digits, rounding up. |buf| must hold 10 bytes.
 */
void grpc_timeout_format(int64_t ns, char buf[10]);

#endif /* GDP_GRPC_CODEC_H */
