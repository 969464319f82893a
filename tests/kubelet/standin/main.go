// Command gdp-kubelet is a kubelet stand-in for the device plugin's tests.
//
// There is no kubelet on the test machines (no Kubernetes node software in
// Debian 12), so this program plays the part of the kubelet's device
// manager as a device plugin sees it: it serves v1beta1.Registration on
// DIR/kubelet.sock, dials plugins back, reads their ListAndWatch streams,
// calls Allocate and GetPreferredAllocation like pod admission does, and
// restarts like a kubelet does (see tests/kubelet/README.md and
// shared/reference/deviceplugin-api.md §2). It is built on grpc-go, the
// library the kubelet uses.
//
//	gdp-kubelet --dir DIR [--control SOCK]
//	gdp-kubelet ctl [--control SOCK | --dir DIR] [--timeout-ms N] METHOD PATH [BODY]
//
// The first form runs the stand-in (prints "ready" once kubelet.sock and
// the control socket listen; exits 0 on SIGTERM, SIGINT or POST /stop);
// the second is a small HTTP client for the control socket, so shell tests
// need no curl.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

const usageText = `usage:
  gdp-kubelet --dir DIR [--control SOCK] [--watch-delay-ms N]
  gdp-kubelet ctl [--control SOCK | --dir DIR] [--timeout-ms N] METHOD PATH [BODY]
`

// defaultControl is DIR/../kubelet-control.sock: beside the device-plugins
// folder, not in it, so the kubelet's socket cleanup leaves it alone.
func defaultControl(dir string) string {
	return filepath.Join(filepath.Dir(filepath.Clean(dir)), "kubelet-control.sock")
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "ctl" {
		os.Exit(runCtl(os.Args[2:]))
	}
	os.Exit(runKubelet(os.Args[1:]))
}

func runKubelet(args []string) int {
	fs := flag.NewFlagSet("gdp-kubelet", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, usageText) }
	dir := fs.String("dir", "", "the device-plugins folder (like /var/lib/kubelet/device-plugins)")
	controlPath := fs.String("control", "", "control socket (default DIR/../kubelet-control.sock)")
	watchDelay := fs.Int("watch-delay-ms", 0, "wait this long after a Register before opening ListAndWatch (a loaded kubelet)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dir == "" || fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gdp-kubelet:", err)
		return 1
	}
	if *controlPath == "" {
		*controlPath = defaultControl(abs)
	}
	logger := log.New(os.Stderr, "gdp-kubelet: ", log.Ltime|log.Lmicroseconds)

	k := newKubelet(abs, logger)
	k.watchDelay = time.Duration(*watchDelay) * time.Millisecond
	if err := k.start(); err != nil {
		logger.Printf("start: %v", err)
		return 1
	}

	if err := os.Remove(*controlPath); err != nil && !os.IsNotExist(err) {
		logger.Printf("control socket: %v", err)
		return 1
	}
	lis, err := net.Listen("unix", *controlPath)
	if err != nil {
		logger.Printf("control socket: %v", err)
		return 1
	}

	exit := make(chan struct{})
	var once sync.Once
	stop := func() { once.Do(func() { close(exit) }) }
	c := &control{k: k, stop: stop}
	httpSrv := &http.Server{Handler: c.handler()}
	go func() {
		if err := httpSrv.Serve(lis); err != nil && err != http.ErrServerClosed {
			logger.Printf("control: serve: %v", err)
		}
	}()

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		s := <-sigs
		logger.Printf("got %v, stopping", s)
		stop()
	}()

	logger.Printf("ready: dir=%s control=%s", abs, *controlPath)
	fmt.Println("ready")

	<-exit
	k.shutdown()
	httpSrv.Close() // closes the listener, which unlinks the control socket
	if err := os.Remove(*controlPath); err != nil && !os.IsNotExist(err) {
		logger.Printf("stop: %v", err)
	}
	logger.Printf("stopped")
	return 0
}
