// The client-suite subcommand: the conformance suite we run against our C
// test server (grpc-testserver, contract in tests/interop/README.md).
//
// This file holds the harness (running cases with a time limit, printing
// `ok - name` / `not ok - name: reason` and the final `N passed, M failed`)
// and the helpers the cases share: building Allocate requests, checking
// DEVICES, and reading the server's counters through the `stats` command.
// The cases themselves are in cases_*.go. All calls on the main connection
// go over one kubelet-like ClientConn, as the kubelet does.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	pb "gdp/dpapi"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

type suite struct {
	socket  string
	conn    *grpc.ClientConn // the main connection, shared by the cases
	dp      pb.DevicePluginClient
	passed  int
	failed  int
	verbose bool
}

// skipCase is returned by a case that does not apply here; it is reported
// as `ok - name # SKIP reason`.
type skipCase string

func (s skipCase) Error() string { return string(s) }

func runClientSuite(args []string) int {
	fs := flag.NewFlagSet("client-suite", flag.ContinueOnError)
	socket := fs.String("socket", "", "unix socket of grpc-testserver")
	verbose := fs.Bool("verbose", os.Getenv("GDP_PEER_VERBOSE") == "1",
		"print measurements as # lines (also GDP_PEER_VERBOSE=1)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *socket == "" || fs.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: gdp-go-peer client-suite --socket PATH")
		return 2
	}

	conn, err := dialPlugin(context.Background(), *socket)
	if err != nil {
		fmt.Printf("not ok - connect: %s\n0 passed, 1 failed\n", oneLine(err.Error()))
		return 1
	}
	defer conn.Close()
	s := &suite{socket: *socket, conn: conn, dp: pb.NewDevicePluginClient(conn), verbose: *verbose}

	const short, long = 30 * time.Second, 120 * time.Second
	s.run("a1 GetDevicePluginOptions values", short, s.caseOptions)
	s.run("a2 PreStartContainer returns an empty response", short, s.casePreStart)
	s.run("a3 GetPreferredAllocation ordering", short, s.casePreferred)
	s.run("b Allocate with two container requests", short, s.caseAllocateTwo)
	s.run("c error status with UTF-8, % and newline in the message", short, s.caseErrorStatus)
	s.run("d1 unknown method is UNIMPLEMENTED", short, s.caseUnknownMethod)
	s.run("d2 unknown service is UNIMPLEMENTED", short, s.caseUnknownService)
	s.run("e1 ListAndWatch initial list, pushes in order, end with OK", short, s.caseWatchPushEnd)
	s.run("e2 two ListAndWatch streams both get pushes", short, s.caseWatchTwoStreams)
	s.run("f 200 concurrent Allocate calls on one connection", long, s.caseConcurrent)
	s.run("g1 request just under 4 MiB succeeds", short, s.caseRequestUnderLimit)
	s.run("g2 request just over 4 MiB is RESOURCE_EXHAUSTED", short, s.caseRequestOverLimit)
	s.run("g3 response of about 4 MB arrives intact", short, s.caseLargeResponse)
	s.run("h1 client closes its connection mid-stream", short, s.caseVanishClose)
	s.run("h2 client process SIGKILLed mid-stream", short, s.caseVanishKill)
	s.run("i slow stream reader during a flood", long, s.caseSlowReader)
	s.run("j deadline expires during a slow call", short, s.caseDeadline)
	s.run("k1 :authority is the raw socket path", short, s.authorityCase(authorityRaw))
	s.run("k2 :authority is the percent-encoded socket path", short, s.authorityCase(authorityEncoded))
	s.run("k3 :authority is the percent-encoded path without its leading slash", short, s.authorityCase(authorityCoreStyle))
	s.run("l 50 connections at once, 10 calls each", long, s.caseManyConnections)
	s.run("m memory stays flat under sustained load", 5*long, s.caseMemoryFlat)

	fmt.Printf("%d passed, %d failed\n", s.passed, s.failed)
	if s.failed > 0 {
		return 1
	}
	return 0
}

// run runs one case and prints its result. A case that does not finish
// within limit fails (its goroutine is left behind).
func (s *suite) run(name string, limit time.Duration, fn func() error) {
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("panic: %v", r)
			}
		}()
		done <- fn()
	}()
	var err error
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case err = <-done:
	case <-timer.C:
		err = fmt.Errorf("case did not finish within %v", limit)
	}
	var skip skipCase
	switch {
	case err == nil:
		s.passed++
		fmt.Printf("ok - %s\n", name)
	case errors.As(err, &skip):
		s.passed++
		fmt.Printf("ok - %s # SKIP %s\n", name, oneLine(skip.Error()))
	default:
		s.failed++
		fmt.Printf("not ok - %s: %s\n", name, oneLine(err.Error()))
	}
}

// note prints a measurement as a `# ` line in verbose mode.
func (s *suite) note(format string, args ...interface{}) {
	if s.verbose {
		fmt.Printf("# "+format+"\n", args...)
	}
}

// oneLine keeps a reason on its line: the summary is parsed line by line.
func oneLine(s string) string {
	return strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(s)
}

// bounded returns a context that is cancelled after d but has no deadline,
// so calls made with it carry no grpc-timeout header, like the kubelet's
// Allocate, ListAndWatch and GetDevicePluginOptions calls. The limit only
// keeps a broken server from hanging the suite.
func bounded(d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	t := time.AfterFunc(d, cancel)
	return ctx, func() { t.Stop(); cancel() }
}

// allocReq builds an AllocateRequest with one container request per list.
func allocReq(containers ...[]string) *pb.AllocateRequest {
	req := &pb.AllocateRequest{}
	for _, ids := range containers {
		req.ContainerRequests = append(req.ContainerRequests,
			&pb.ContainerAllocateRequest{DevicesIds: ids})
	}
	return req
}

// allocate sends one Allocate on dp, giving up after limit.
func allocate(dp pb.DevicePluginClient, limit time.Duration, containers ...[]string) (*pb.AllocateResponse, error) {
	ctx, cancel := bounded(limit)
	defer cancel()
	return dp.Allocate(ctx, allocReq(containers...))
}

// command sends a test-server command (`push:3`, `end:0`, ...) as the first
// id of an Allocate on the main connection.
func (s *suite) command(cmd string) error {
	if _, err := allocate(s.dp, 5*time.Second, []string{cmd}); err != nil {
		return fmt.Errorf("command %q: %v", cmd, err)
	}
	return nil
}

// checkDevices checks that resp has one container response per entry of
// want, each with envs["DEVICES"] equal to that entry.
func checkDevices(resp *pb.AllocateResponse, want ...string) error {
	got := resp.GetContainerResponses()
	if len(got) != len(want) {
		return fmt.Errorf("got %d container responses, want %d", len(got), len(want))
	}
	for i, w := range want {
		if d, ok := got[i].GetEnvs()["DEVICES"]; !ok || d != w {
			return fmt.Errorf("container %d: DEVICES = %q (present: %v), want %q", i, clip(d), ok, clip(w))
		}
	}
	return nil
}

// clip shortens long strings in error messages.
func clip(s string) string {
	if len(s) <= 80 {
		return s
	}
	return fmt.Sprintf("%s...(%d bytes)", s[:60], len(s))
}

// expectCode checks that err is a gRPC status with the given code.
func expectCode(err error, want codes.Code) (*status.Status, error) {
	if err == nil {
		return nil, fmt.Errorf("call succeeded, want %v", want)
	}
	st, ok := status.FromError(err)
	if !ok {
		return nil, fmt.Errorf("error is not a gRPC status: %v", err)
	}
	if st.Code() != want {
		return st, fmt.Errorf("got code %v (%d) message %q, want %v (%d)",
			st.Code(), st.Code(), st.Message(), want, want)
	}
	return st, nil
}

// counters is the test server's `stats` answer.
type counters map[string]int64

var counterNames = []string{
	"calls", "conns_open", "streams_open", "streams_closed_by_peer",
	"deadline_cancelled", "queued_bytes", "max_queued_bytes", "rss_kb",
	"sleepers", "sleepers_peak",
}

func (c counters) String() string {
	var parts []string
	for k, v := range c {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// statsOn asks the server behind dp for its counters.
func statsOn(dp pb.DevicePluginClient, limit time.Duration) (counters, error) {
	resp, err := allocate(dp, limit, []string{"stats"})
	if err != nil {
		return nil, fmt.Errorf("stats: %v", err)
	}
	if len(resp.GetContainerResponses()) == 0 {
		return nil, errors.New("stats: no container response")
	}
	envs := resp.GetContainerResponses()[0].GetEnvs()
	c := counters{}
	for _, name := range counterNames {
		v, ok := envs[name]
		if !ok {
			return nil, fmt.Errorf("stats: counter %q missing (envs: %v)", name, envs)
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("stats: counter %s=%q is not a decimal integer", name, v)
		}
		c[name] = n
	}
	return c, nil
}

func (s *suite) stats() (counters, error) { return statsOn(s.dp, 5*time.Second) }

// pollStats reads the counters until cond accepts them or within has
// passed; the error then names cond's last complaint and the counters.
func (s *suite) pollStats(within time.Duration, cond func(counters) error) (counters, error) {
	end := time.Now().Add(within)
	for {
		c, err := statsOn(s.dp, 2*time.Second)
		if err != nil {
			return nil, err
		}
		cerr := cond(c)
		if cerr == nil {
			return c, nil
		}
		if time.Now().After(end) {
			return c, fmt.Errorf("after %v: %v (stats: %v)", within, cerr, c)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// settledStats reads the counters once the open connections and streams
// have stopped changing. A ClientConn.Close returns before grpc-go has
// closed the socket, so connections from earlier cases may still be going
// away; a baseline taken in the middle of that would be off by one.
func (s *suite) settledStats() (counters, error) {
	var prev counters
	same := 0
	end := time.Now().Add(2 * time.Second)
	for {
		c, err := s.stats()
		if err != nil {
			return nil, err
		}
		if prev != nil && c["conns_open"] == prev["conns_open"] && c["streams_open"] == prev["streams_open"] {
			same++
		} else {
			same = 0
		}
		if same >= 3 || time.Now().After(end) {
			return c, nil
		}
		prev = c
		time.Sleep(30 * time.Millisecond)
	}
}

// want returns an error naming a counter whose value is not what a check
// expected; used inside pollStats conditions.
func want(c counters, name string, ok bool, expectation string) error {
	if ok {
		return nil
	}
	return fmt.Errorf("%s=%d, want %s", name, c[name], expectation)
}
