/*
 * listen.h: a listening unix socket at a path that may hold leftovers.
 *
 * Used by grpc_server_listen(). What a crashed instance or a container
 * runtime left at the path is cleared first; what someone still uses is
 * not (see listen.c for each case and why). The socket file is made
 * owner-only (0600) whatever the umask.
 */
#ifndef GDP_GRPC_LISTEN_H
#define GDP_GRPC_LISTEN_H

/*
 * Clears |path| of leftovers, then binds a non-blocking, close-on-exec
 * unix stream socket there with mode 0600 and listens. Returns the socket
 * (the caller's to close; the file is the caller's to unlink), or:
 * -ENAMETOOLONG (|path| does not fit a unix socket address); -EADDRINUSE
 * (a socket at |path| accepts connections: another process serves on it,
 * and it is left alone); -ENOTEMPTY (a directory that is not empty is at
 * |path|, left alone); or the errno of lstat, unlink, rmdir, socket,
 * connect (the liveness probe), bind, chmod or listen (-EACCES, -ENOENT
 * for a missing directory, -EMFILE, ...).
 */
int grpc_listen_unix(const char *path);

#endif /* GDP_GRPC_LISTEN_H */
