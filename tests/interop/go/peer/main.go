// Command gdp-go-peer is the grpc-go side of our interop tests.
//
// grpc-go is the gRPC library the kubelet is built on, so this binary stands
// in for the kubelet when we test our C gRPC layer (see
// tests/interop/README.md for the contract):
//
//	client-suite --socket PATH   conformance suite against grpc-testserver
//	server --socket PATH [--dir DIR]
//	                             a kubelet-like Registration server that
//	                             grpc-testclient registers with
//	bench --socket PATH --concurrency C --duration SECONDS [--conns K]
//	                             Allocate load for the benchmarks
//
// "hold-stream" is internal: the suite runs it as a child process that opens
// a ListAndWatch stream and is then killed with SIGKILL.
package main

import (
	"fmt"
	"os"
)

const usageText = `usage:
  gdp-go-peer client-suite --socket PATH
  gdp-go-peer server --socket PATH [--dir DIR]
  gdp-go-peer bench --socket PATH --concurrency C --duration SECONDS [--conns K]
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usageText)
		os.Exit(2)
	}
	args := os.Args[2:]
	var rc int
	switch os.Args[1] {
	case "client-suite":
		rc = runClientSuite(args)
	case "server":
		rc = runServer(args)
	case "bench":
		rc = runBench(args)
	case "hold-stream":
		rc = runHoldStream(args)
	case "-h", "--help", "help":
		fmt.Print(usageText)
	default:
		fmt.Fprintf(os.Stderr, "gdp-go-peer: unknown subcommand %q\n%s", os.Args[1], usageText)
		rc = 2
	}
	os.Exit(rc)
}
