// Dialing a device plugin the way the kubelet does.
//
// The kubelet's device-plugin client (pkg/kubelet/cm/devicemanager/plugin/
// v1beta1/client.go) calls grpc.DialContext on the bare socket path with
// WithAuthority("localhost"), insecure credentials, WithBlock and a dialer
// that opens the unix socket, under a 10 s timeout. Every connection the
// peer makes goes through dialPlugin so that it looks the same on the wire;
// a case that needs to differ (another :authority, small windows) passes
// extra options, which override the defaults.
package main

import (
	"context"
	"net"
	"time"

	"google.golang.org/grpc"
)

// dialTimeout is the kubelet's connection timeout for plugin sockets.
const dialTimeout = 10 * time.Second

func unixDialer(ctx context.Context, addr string) (net.Conn, error) {
	return (&net.Dialer{}).DialContext(ctx, "unix", addr)
}

// dialPlugin opens a blocking, kubelet-like connection to the unix socket
// at path. Options in extra are applied after the defaults.
func dialPlugin(ctx context.Context, path string, extra ...grpc.DialOption) (*grpc.ClientConn, error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	opts := []grpc.DialOption{
		grpc.WithAuthority("localhost"),
		grpc.WithInsecure(),
		grpc.WithBlock(),
		grpc.WithContextDialer(unixDialer),
	}
	return grpc.DialContext(ctx, path, append(opts, extra...)...)
}
