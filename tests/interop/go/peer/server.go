// The server subcommand: a kubelet-like v1beta1.Registration server for our
// C test client (grpc-testclient) to register with.
//
// It follows the contract's "peers' server role": for an ordinary resource
// it does what the kubelet's Register handler does (version check with the
// kubelet's own error text, a blocking dial back to the plugin's socket with
// :authority localhost, GetDevicePluginOptions, and only then Empty); two
// reserved resource names let the tests ask for a given error status or a
// slow answer. It runs on a default grpc.NewServer(), as the kubelet does.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	pb "gdp/dpapi"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const (
	supportedVersion = "v1beta1"
	statusPrefix     = "status.example.com/"
	sleepPrefix      = "sleep.example.com/"
	// The message for status.example.com/<code>: non-ASCII, a % and a
	// multi-byte symbol, to test the client's grpc-message decoding.
	requestedFailure = "requested failure: ünïcödé 100% ✓"
)

type registration struct {
	pb.UnimplementedRegistrationServer
	dir string // where plugin endpoints live
}

func (r *registration) Register(ctx context.Context, req *pb.RegisterRequest) (*pb.Empty, error) {
	name := req.GetResourceName()
	switch {
	case strings.HasPrefix(name, statusPrefix):
		code, err := strconv.ParseUint(strings.TrimPrefix(name, statusPrefix), 10, 32)
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "bad status code in %q", name)
		}
		return nil, status.Error(codes.Code(code), requestedFailure)
	case strings.HasPrefix(name, sleepPrefix):
		ms, err := strconv.ParseUint(strings.TrimPrefix(name, sleepPrefix), 10, 31)
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "bad sleep in %q", name)
		}
		t := time.NewTimer(time.Duration(ms) * time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
			return &pb.Empty{}, nil
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}

	// The kubelet's checks. Its errors are plain Go errors, which grpc-go
	// sends as UNKNOWN with the text as grpc-message.
	if req.GetVersion() != supportedVersion {
		return nil, fmt.Errorf("requested API version %q is not supported by kubelet. Supported version is %q",
			req.GetVersion(), []string{supportedVersion})
	}
	endpoint := filepath.Join(r.dir, req.GetEndpoint())
	// Current kubelets dial with the Register call's context under a 10 s
	// timeout, before answering.
	conn, err := dialPlugin(ctx, endpoint)
	if err != nil {
		return nil, fmt.Errorf("failed to dial device plugin: %v", err)
	}
	defer conn.Close()
	if _, err := pb.NewDevicePluginClient(conn).GetDevicePluginOptions(ctx, &pb.Empty{}); err != nil {
		return nil, fmt.Errorf("failed to get device plugin options: %v", err)
	}
	return &pb.Empty{}, nil
}

func runServer(args []string) int {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	socket := fs.String("socket", "", "unix socket to serve Registration on")
	dir := fs.String("dir", "", "where plugin endpoints are (default: the socket's directory)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *socket == "" || fs.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: gdp-go-peer server --socket PATH [--dir DIR]")
		return 2
	}
	if *dir == "" {
		*dir = filepath.Dir(*socket)
	}

	// Like the kubelet: remove whatever is left at the path, then listen.
	if err := os.Remove(*socket); err != nil && !os.IsNotExist(err) {
		fmt.Fprintln(os.Stderr, "server:", err)
		return 1
	}
	lis, err := net.Listen("unix", *socket)
	if err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		return 1
	}
	srv := grpc.NewServer()
	pb.RegisterRegistrationServer(srv, &registration{dir: *dir})

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	fmt.Println("ready")

	rc := 0
	select {
	case <-sigs:
	case err := <-served:
		fmt.Fprintln(os.Stderr, "server: serve:", err)
		rc = 1
	}
	srv.Stop() // closes the listener, which unlinks the socket
	if err := os.Remove(*socket); err != nil && !os.IsNotExist(err) {
		fmt.Fprintln(os.Stderr, "server:", err)
		rc = 1
	}
	return rc
}
