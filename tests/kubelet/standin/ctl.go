// The ctl subcommand: a minimal HTTP client for the control socket.
//
// Shell tests talk to the stand-in with
//
//	gdp-kubelet ctl --control SOCK GET /node
//	gdp-kubelet ctl --control SOCK POST /allocate '{"resource": ..., "devices": [...]}'
//
// so they need neither curl nor socat. It prints the response body as it
// came (with a final newline) and exits 0 on HTTP 200, 1 on any other
// status or on a connection error, 2 on bad usage.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

func runCtl(args []string) int {
	fs := flag.NewFlagSet("gdp-kubelet ctl", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, usageText) }
	controlPath := fs.String("control", "", "control socket")
	dir := fs.String("dir", "", "the stand-in's --dir (the control socket is then DIR/../kubelet-control.sock)")
	timeoutMs := fs.Int("timeout-ms", 0, "give up after this many milliseconds (default: no limit)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	rest := fs.Args()
	if len(rest) < 2 || len(rest) > 3 {
		fs.Usage()
		return 2
	}
	sock := *controlPath
	if sock == "" && *dir != "" {
		sock = defaultControl(*dir)
	}
	if sock == "" {
		fmt.Fprintln(os.Stderr, "gdp-kubelet ctl: give --control SOCK or --dir DIR")
		return 2
	}
	method := strings.ToUpper(rest[0])
	path := rest[1]
	if !strings.HasPrefix(path, "/") {
		fmt.Fprintln(os.Stderr, "gdp-kubelet ctl: PATH must start with /")
		return 2
	}
	var body io.Reader
	if len(rest) == 3 {
		body = strings.NewReader(rest[2])
	}

	ctx := context.Background()
	if *timeoutMs > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*timeoutMs)*time.Millisecond)
		defer cancel()
	}
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
		DisableKeepAlives: true,
	}}
	req, err := http.NewRequestWithContext(ctx, method, "http://kubelet"+path, body)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gdp-kubelet ctl:", err)
		return 2
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gdp-kubelet ctl:", err)
		return 1
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gdp-kubelet ctl: reading the answer:", err)
		return 1
	}
	os.Stdout.Write(out)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		os.Stdout.Write([]byte{'\n'})
	}
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(os.Stderr, "gdp-kubelet ctl: HTTP %s\n", resp.Status)
		return 1
	}
	return 0
}
