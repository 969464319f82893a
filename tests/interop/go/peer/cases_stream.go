// Suite cases about the server-streaming ListAndWatch call: the initial
// device list, pushes arriving in order, a clean end, two streams at once
// (case e), clients that vanish mid-stream (case h) and a reader that stops
// reading while the server floods the stream (case i).
//
// The kubelet keeps one ListAndWatch open per plugin for as long as the
// plugin lives, so these are the paths where a server can leak streams or
// memory. The watcher type below reads a stream only when asked, which is
// what lets case i stop reading without a goroutine draining the stream
// behind its back.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	pb "gdp/dpapi"

	"google.golang.org/grpc"
)

// watcher is a ListAndWatch stream that is read one message per next().
type watcher struct {
	stream  pb.DevicePlugin_ListAndWatchClient
	cancel  context.CancelFunc
	req     chan struct{}
	res     chan recvResult
	pending bool  // a Recv was asked for and its result not yet taken
	final   error // the error that ended the stream, once seen
	closed  bool
}

type recvResult struct {
	msg *pb.ListAndWatchResponse
	err error
}

var errRecvTimeout = errors.New("no message in time")

func openWatch(conn *grpc.ClientConn) (*watcher, error) {
	ctx, cancel := context.WithCancel(context.Background())
	opened := time.AfterFunc(5*time.Second, cancel) // only while opening
	stream, err := pb.NewDevicePluginClient(conn).ListAndWatch(ctx, &pb.Empty{})
	if !opened.Stop() || err != nil {
		cancel()
		if err == nil {
			err = errors.New("opening the stream took over 5 s")
		}
		return nil, fmt.Errorf("ListAndWatch: %v", err)
	}
	w := &watcher{stream: stream, cancel: cancel,
		req: make(chan struct{}, 1), res: make(chan recvResult, 1)}
	go w.loop()
	return w, nil
}

func (w *watcher) loop() {
	for range w.req {
		m, err := w.stream.Recv()
		w.res <- recvResult{m, err}
		if err != nil {
			return
		}
	}
}

// next returns the next message, the error that ended the stream (io.EOF
// for status OK), or errRecvTimeout. After a timeout the read stays
// pending and the next call picks up its result.
func (w *watcher) next(timeout time.Duration) (*pb.ListAndWatchResponse, error) {
	if w.final != nil {
		return nil, w.final
	}
	if !w.pending {
		w.req <- struct{}{}
		w.pending = true
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-w.res:
		w.pending = false
		if r.err != nil {
			w.final = r.err
		}
		return r.msg, r.err
	case <-t.C:
		return nil, errRecvTimeout
	}
}

// close cancels the stream (RST_STREAM CANCEL) and stops the reader.
func (w *watcher) close() {
	if w.closed {
		return
	}
	w.closed = true
	w.cancel()
	close(w.req)
}

func describe(m *pb.ListAndWatchResponse) string {
	var ids []string
	for _, d := range m.GetDevices() {
		h := d.GetHealth()
		if len(h) > 16 {
			h = fmt.Sprintf("<%d bytes>", len(h))
		}
		ids = append(ids, d.GetID()+"/"+h)
	}
	return "[" + strings.Join(ids, " ") + "]"
}

// checkBase checks the two fixed devices every message starts with.
func checkBase(m *pb.ListAndWatchResponse, total int) error {
	devs := m.GetDevices()
	if len(devs) != total {
		return fmt.Errorf("got %d devices %s, want %d", len(devs), describe(m), total)
	}
	d0, d1 := devs[0], devs[1]
	nodes := d0.GetTopology().GetNodes()
	if d0.GetID() != "dev-0" || d0.GetHealth() != "Healthy" || len(nodes) != 1 || nodes[0].GetID() != 0 {
		return fmt.Errorf("first device is %s with topology %v, want dev-0/Healthy on NUMA node 0",
			describe(m), d0.GetTopology())
	}
	if d1.GetID() != "dev-1" || d1.GetHealth() != "Healthy" {
		return fmt.Errorf("second device in %s, want dev-1/Healthy", describe(m))
	}
	return nil
}

func checkInitial(m *pb.ListAndWatchResponse) error { return checkBase(m, 2) }

// genOf checks a pushed message and returns n of its gen-<n> device and
// the length of that device's health (large for flood messages).
func genOf(m *pb.ListAndWatchResponse) (int, int, error) {
	if err := checkBase(m, 3); err != nil {
		return 0, 0, err
	}
	g := m.GetDevices()[2]
	n, err := strconv.Atoi(strings.TrimPrefix(g.GetID(), "gen-"))
	if !strings.HasPrefix(g.GetID(), "gen-") || err != nil || n < 1 {
		return 0, 0, fmt.Errorf("third device ID %q, want gen-<n>", g.GetID())
	}
	return n, len(g.GetHealth()), nil
}

func expectGen(w *watcher, n int) error {
	m, err := w.next(2 * time.Second)
	if err != nil {
		return fmt.Errorf("waiting for gen-%d: %v", n, err)
	}
	got, _, err := genOf(m)
	if err != nil {
		return err
	}
	if got != n {
		return fmt.Errorf("got gen-%d, want gen-%d", got, n)
	}
	return nil
}

func expectInitial(w *watcher) error {
	m, err := w.next(2 * time.Second)
	if err != nil {
		return fmt.Errorf("initial message: %v", err)
	}
	return checkInitial(m)
}

func expectEOF(w *watcher) error {
	m, err := w.next(2 * time.Second)
	switch {
	case err == io.EOF:
		return nil
	case err == nil:
		return fmt.Errorf("got another message %s, want the end of the stream", describe(m))
	default:
		return fmt.Errorf("stream ended with %v, want status OK (io.EOF)", err)
	}
}

func (s *suite) caseWatchPushEnd() error {
	w, err := openWatch(s.conn)
	if err != nil {
		return err
	}
	defer w.close()
	if err := expectInitial(w); err != nil {
		return err
	}
	if err := s.command("push:3"); err != nil {
		return err
	}
	for n := 1; n <= 3; n++ {
		if err := expectGen(w, n); err != nil {
			return err
		}
	}
	if err := s.command("end:0"); err != nil {
		return err
	}
	return expectEOF(w)
}

func (s *suite) caseWatchTwoStreams() error {
	var ws [2]*watcher
	for i := range ws {
		w, err := openWatch(s.conn)
		if err != nil {
			return err
		}
		defer w.close()
		if err := expectInitial(w); err != nil {
			return fmt.Errorf("stream %d: %v", i+1, err)
		}
		ws[i] = w
	}
	if err := s.command("push:2"); err != nil {
		return err
	}
	for i, w := range ws {
		for n := 1; n <= 2; n++ {
			if err := expectGen(w, n); err != nil {
				return fmt.Errorf("stream %d: %v", i+1, err)
			}
		}
	}
	if err := s.command("end:0"); err != nil {
		return err
	}
	for i, w := range ws {
		if err := expectEOF(w); err != nil {
			return fmt.Errorf("stream %d: %v", i+1, err)
		}
	}
	return nil
}

// oneMoreStream waits until the counters show the stream and connection
// that a case has just opened.
func (s *suite) oneMoreStream(before counters) error {
	_, err := s.pollStats(10*time.Second, func(c counters) error {
		if err := want(c, "streams_open", c["streams_open"] == before["streams_open"]+1,
			fmt.Sprint(before["streams_open"]+1)); err != nil {
			return err
		}
		return want(c, "conns_open", c["conns_open"] == before["conns_open"]+1,
			fmt.Sprint(before["conns_open"]+1))
	})
	if err != nil {
		return fmt.Errorf("while the stream is open: %v", err)
	}
	return nil
}

// backToBefore waits until the stream and connection that went away are
// gone from the counters and counted as closed by the peer.
func (s *suite) backToBefore(before counters) error {
	_, err := s.pollStats(10*time.Second, func(c counters) error {
		for _, name := range []string{"streams_open", "conns_open"} {
			if err := want(c, name, c[name] == before[name], fmt.Sprint(before[name])); err != nil {
				return err
			}
		}
		return want(c, "streams_closed_by_peer",
			c["streams_closed_by_peer"] > before["streams_closed_by_peer"],
			fmt.Sprintf("> %d", before["streams_closed_by_peer"]))
	})
	if err != nil {
		return fmt.Errorf("after the client went away: %v", err)
	}
	return nil
}

func (s *suite) caseVanishClose() error {
	before, err := s.settledStats()
	if err != nil {
		return err
	}
	conn, err := dialPlugin(context.Background(), s.socket)
	if err != nil {
		return fmt.Errorf("dial: %v", err)
	}
	defer conn.Close()
	w, err := openWatch(conn)
	if err != nil {
		return err
	}
	defer w.close()
	if err := expectInitial(w); err != nil {
		return err
	}
	if err := s.oneMoreStream(before); err != nil {
		return err
	}
	conn.Close() // the stream is not cancelled first
	return s.backToBefore(before)
}

func (s *suite) caseVanishKill() error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	before, err := s.settledStats()
	if err != nil {
		return err
	}
	child := exec.Command(exe, "hold-stream", "--socket", s.socket)
	child.Stderr = os.Stderr
	child.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := child.StdoutPipe()
	if err != nil {
		return err
	}
	if err := child.Start(); err != nil {
		return err
	}
	defer func() {
		child.Process.Kill()
		child.Wait()
	}()
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(l)
	}()
	select {
	case l := <-line:
		if l != "holding" {
			return fmt.Errorf("child said %q, want \"holding\"", l)
		}
	case <-time.After(15 * time.Second):
		return errors.New("child did not get its first ListAndWatch message within 15 s")
	}
	if err := s.oneMoreStream(before); err != nil {
		return err
	}
	if err := child.Process.Kill(); err != nil {
		return err
	}
	return s.backToBefore(before)
}

// runHoldStream is the child of case h2: open ListAndWatch, take the first
// message, say "holding" and wait to be killed.
func runHoldStream(args []string) int {
	if len(args) != 2 || args[0] != "--socket" {
		fmt.Fprintln(os.Stderr, "usage: gdp-go-peer hold-stream --socket PATH")
		return 2
	}
	conn, err := dialPlugin(context.Background(), args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "hold-stream: dial:", err)
		return 1
	}
	w, err := openWatch(conn)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hold-stream:", err)
		return 1
	}
	if err := expectInitial(w); err != nil {
		fmt.Fprintln(os.Stderr, "hold-stream:", err)
		return 1
	}
	fmt.Println("holding")
	time.Sleep(60 * time.Second) // the suite kills us long before
	return 1
}

func (s *suite) caseSlowReader() error {
	const (
		floodSize   = 65536
		maxQueued   = 16 << 20 // bytes
		maxGrowthKB = 64 << 10 // 64 MiB in kB
	)
	before, err := s.settledStats()
	if err != nil {
		return err
	}
	// Fixed 64 KiB windows: with BDP estimation off, a reader that stops
	// reading stops the server's sending after one window.
	conn, err := dialPlugin(context.Background(), s.socket,
		grpc.WithInitialWindowSize(65535), grpc.WithInitialConnWindowSize(65535))
	if err != nil {
		return fmt.Errorf("dial: %v", err)
	}
	defer conn.Close()
	w, err := openWatch(conn)
	if err != nil {
		return err
	}
	defer w.close()
	if err := expectInitial(w); err != nil {
		return err
	}

	if err := s.command(fmt.Sprintf("flood:%d", floodSize)); err != nil {
		return err
	}
	flooding := true
	stopFlood := func() error {
		if !flooding {
			return nil
		}
		flooding = false
		return s.command("flood:0")
	}
	defer stopFlood()

	// checkBounds checks one stats answer taken during or after the flood.
	var peakQueued int64
	checkBounds := func(c counters, when string) error {
		if c["max_queued_bytes"] > peakQueued {
			peakQueued = c["max_queued_bytes"]
		}
		if c["max_queued_bytes"] > maxQueued {
			return fmt.Errorf("%s: max_queued_bytes=%d, want <= %d", when, c["max_queued_bytes"], maxQueued)
		}
		if g := c["rss_kb"] - before["rss_kb"]; g > maxGrowthKB {
			return fmt.Errorf("%s: rss_kb grew by %d kB (from %d to %d), want <= %d",
				when, g, before["rss_kb"], c["rss_kb"], maxGrowthKB)
		}
		return nil
	}
	var slowest time.Duration
	start := time.Now()
	for time.Since(start) < time.Second {
		t0 := time.Now()
		// The flood runs until flood:0, so an answer at all shows the
		// loop serves other calls meanwhile; the deadline is generous
		// because a loaded machine is slow, not stalled.
		c, err := statsOn(s.dp, 10*time.Second)
		if err != nil {
			return fmt.Errorf("during the flood, a unary call on the main connection failed: %v", err)
		}
		took := time.Since(t0)
		if took > slowest {
			slowest = took
		}
		if err := checkBounds(c, "during the flood"); err != nil {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := stopFlood(); err != nil {
		return err
	}
	c, err := s.stats()
	if err != nil {
		return err
	}
	if err := checkBounds(c, "after the flood"); err != nil {
		return err
	}
	if peakQueued == 0 {
		return errors.New("max_queued_bytes stayed 0: the flood never queued anything behind the blocked reader")
	}

	// Resume reading: everything still queued, in order, until the stream
	// goes quiet; then one push, which must come after all of it.
	last, flood := 0, 0
	readUntil := func(quiet time.Duration, marker bool) error {
		for {
			m, err := w.next(quiet)
			if err == errRecvTimeout && !marker {
				return nil
			}
			if err != nil {
				return fmt.Errorf("reading after the flood (after gen-%d, %d flood messages): %v", last, flood, err)
			}
			n, hlen, err := genOf(m)
			if err != nil {
				return err
			}
			if n <= last {
				return fmt.Errorf("gen-%d after gen-%d: numbers must strictly increase", n, last)
			}
			last = n
			if hlen < floodSize/2 {
				if marker {
					return nil
				}
				return fmt.Errorf("unexpected small message gen-%d during the flood", n)
			}
			flood++
		}
	}
	if err := readUntil(time.Second, false); err != nil {
		return err
	}
	if flood == 0 {
		return errors.New("the reader got no flood message after resuming")
	}
	if err := s.command("push:1"); err != nil {
		return err
	}
	if err := readUntil(5*time.Second, true); err != nil {
		return err
	}
	s.note("i: peak max_queued_bytes %d, rss_kb %d -> %d, slowest unary call during the flood %v, "+
		"%d flood messages read after it, last gen-%d",
		peakQueued, before["rss_kb"], c["rss_kb"], slowest, flood, last)
	w.close()
	conn.Close()
	_, err = s.pollStats(10*time.Second, func(c counters) error {
		return want(c, "streams_open", c["streams_open"] == before["streams_open"],
			fmt.Sprint(before["streams_open"]))
	})
	return err
}
