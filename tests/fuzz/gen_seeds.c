/*
 * gen_seeds.c: writes the seed corpus of fuzz_server.
 *
 * Each seed is the exact byte stream an HTTP/2 client writes for one
 * scenario (a plain unary call, a stream and a push, an unknown method, a
 * deadline, an oversized message, PING and WINDOW_UPDATE traffic), made
 * with nghttp2's client session. Usage: gen_seeds OUTDIR; the files are
 * named seed-<n>; tests/fuzz/README.md says how to rename them by hash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

struct body {
	const uint8_t *data;
	size_t len, off;
};

static ssize_t
read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
    uint32_t *flags, nghttp2_data_source *src, void *arg)
{
	struct body *b = src->ptr;
	size_t n = b->len - b->off;

	if (n > len)
		n = len;
	memcpy(buf, b->data + b->off, n);
	b->off += n;
	if (b->off == b->len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static void
call(nghttp2_session *s, const char *path, const char *timeout,
    struct body *b)
{
#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), 0 }
	nghttp2_nv nva[] = {
		NV(":method", "POST"), NV(":scheme", "http"),
		NV(":path", path), NV(":authority", "localhost"),
		NV("content-type", "application/grpc"), NV("te", "trailers"),
		NV("grpc-timeout", timeout ? timeout : ""),
	};
#undef NV
	nghttp2_data_provider dp = { .source.ptr = b,
		.read_callback = read_body };

	nghttp2_submit_request(s, NULL, nva, timeout ? 7 : 6, &dp, NULL);
}

static void
save(nghttp2_session *s, const char *dir, int n)
{
	char path[512];
	const uint8_t *out;
	ssize_t len;
	FILE *f;

	snprintf(path, sizeof(path), "%s/seed-%d", dir, n);
	f = fopen(path, "wb");
	if (f == NULL) {
		perror(path);
		exit(1);
	}
	while ((len = nghttp2_session_mem_send(s, &out)) > 0)
		fwrite(out, 1, (size_t)len, f);
	fclose(f);
}

static nghttp2_session *
session(void)
{
	nghttp2_session_callbacks *cb;
	nghttp2_session *s;

	nghttp2_session_callbacks_new(&cb);
	nghttp2_session_client_new(&s, cb, NULL);
	nghttp2_session_callbacks_del(cb);
	nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, NULL, 0);
	return s;
}

/* "\0" + 4-byte length + AllocateRequest{[{devices_ids:[id]}]} */
static struct body
allocate_body(const char *id, uint8_t *buf)
{
	size_t l = strlen(id);

	buf[0] = 0;
	buf[1] = buf[2] = buf[3] = 0;
	buf[4] = (uint8_t)(l + 4);
	buf[5] = 0x0a;
	buf[6] = (uint8_t)(l + 2);
	buf[7] = 0x0a;
	buf[8] = (uint8_t)l;
	memcpy(buf + 9, id, l);
	return (struct body){ buf, l + 9, 0 };
}

int
main(int argc, char **argv)
{
	static const uint8_t empty[5];
	static const uint8_t big[] = { 0, 0, 0x50, 0, 0 };
	uint8_t b1[64], b2[64], b3[64];
	struct body e1 = { empty, 5, 0 }, e2 = { empty, 5, 0 };
	struct body bb = { big, 5, 0 };
	struct body a1, a2, a3;
	nghttp2_session *s;
	uint8_t ping[8] = { 2, 4, 16, 16, 9, 14, 7, 7 };

	if (argc != 2)
		return 2;
	s = session();
	call(s, "/v1beta1.DevicePlugin/GetDevicePluginOptions", NULL, &e1);
	save(s, argv[1], 1);
	nghttp2_session_del(s);

	s = session();
	a1 = allocate_body("GPU-0", b1);
	call(s, "/v1beta1.DevicePlugin/Allocate", NULL, &a1);
	save(s, argv[1], 2);
	nghttp2_session_del(s);

	s = session();
	call(s, "/v1beta1.DevicePlugin/ListAndWatch", NULL, &e1);
	a2 = allocate_body("push:2", b2);
	call(s, "/v1beta1.DevicePlugin/Allocate", NULL, &a2);
	nghttp2_submit_ping(s, NGHTTP2_FLAG_NONE, ping);
	nghttp2_submit_window_update(s, NGHTTP2_FLAG_NONE, 0, 1 << 20);
	save(s, argv[1], 3);
	nghttp2_session_del(s);

	s = session();
	call(s, "/v1beta1.DevicePlugin/Nope", NULL, &e2);
	a3 = allocate_body("sleep:1", b3);
	call(s, "/v1beta1.DevicePlugin/Allocate", "1m", &a3);
	save(s, argv[1], 4);
	nghttp2_session_del(s);

	s = session();
	call(s, "/v1beta1.DevicePlugin/Allocate", NULL, &bb);
	save(s, argv[1], 5);
	nghttp2_session_del(s);
	return 0;
}
