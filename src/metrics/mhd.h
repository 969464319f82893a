/*
 * mhd.h: libmicrohttpd's entry points, loaded with dlopen(3) only when
 * the metrics endpoint is asked for.
 *
 * Debian's libmicrohttpd is built with GnuTLS, and linking it brings
 * GnuTLS, nettle, gmp, p11-kit, libidn2 and libunistring into every
 * process, with GnuTLS's start-up work: about 2.6 MB of resident memory
 * for a plugin that uses none of it (the idle plugin is about 3 MB).
 * Loaded on demand, a plugin without --metrics-address pays nothing.
 * The library's header still gives every type; only the calls go
 * through this table. Loaded before the system-call filter is installed.
 */
#ifndef GDP_METRICS_MHD_H
#define GDP_METRICS_MHD_H

#include <stddef.h>
#include <microhttpd.h>

/* The soname looked for; deploy/image/build.sh copies it into the image. */
#define METRICS_MHD_SONAME "libmicrohttpd.so.12"

struct metrics_mhd {
	struct MHD_Daemon *(*start_daemon)(unsigned int flags,
	    uint16_t port, MHD_AcceptPolicyCallback apc, void *apc_cls,
	    MHD_AccessHandlerCallback dh, void *dh_cls, ...);
	void (*stop_daemon)(struct MHD_Daemon *daemon);
	const union MHD_DaemonInfo *(*get_daemon_info)(
	    struct MHD_Daemon *daemon, enum MHD_DaemonInfoType info_type,
	    ...);
	enum MHD_Result (*run)(struct MHD_Daemon *daemon);
	enum MHD_Result (*get_timeout)(struct MHD_Daemon *daemon,
	    MHD_UNSIGNED_LONG_LONG *timeout);
	struct MHD_Response *(*create_response_from_buffer)(size_t size,
	    void *buffer, enum MHD_ResponseMemoryMode mode);
	enum MHD_Result (*add_response_header)(struct MHD_Response *response,
	    const char *header, const char *content);
	enum MHD_Result (*queue_response)(struct MHD_Connection *connection,
	    unsigned int status_code, struct MHD_Response *response);
	void (*destroy_response)(struct MHD_Response *response);
};

/*
 * Loads the library once (later calls return the same table). Returns
 * the table, or NULL with why in |err| (the library or a symbol is
 * missing).
 */
const struct metrics_mhd *metrics_mhd_load(char *err, size_t errlen);

#endif /* GDP_METRICS_MHD_H */
