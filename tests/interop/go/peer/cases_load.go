// Suite cases about load: many concurrent calls on one connection (case f),
// many connections at once (case l) and memory that must stay flat under a
// long run of calls (case m).
//
// The kubelet multiplexes every call to a plugin over one connection, and a
// device plugin runs for months, so a server that serialises slow calls or
// grows a little per call is a real bug even when each call looks right.
package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	pb "gdp/dpapi"

	"google.golang.org/grpc"
)

// firstError keeps the first of many errors from concurrent goroutines.
type firstError struct {
	mu    sync.Mutex
	err   error
	count int
}

func (f *firstError) add(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count++
	if f.err == nil {
		f.err = err
	}
}

func (f *firstError) failures() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.count
}

func (f *firstError) result(total int) error {
	if f.count == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d failed, first: %v", f.count, total, f.err)
}

func (s *suite) caseConcurrent() error {
	const calls = 200
	var wg sync.WaitGroup
	var errs firstError
	start := time.Now()
	for i := 0; i < calls; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var err error
			if i%2 == 0 {
				a, b := fmt.Sprintf("f-%d-a", i), fmt.Sprintf("f-%d-b", i)
				resp, e := allocate(s.dp, 10*time.Second, []string{a, b})
				if err = e; err == nil {
					err = checkDevices(resp, a+","+b)
				}
			} else {
				// The command sits alone in the first container, so the
				// check does not depend on how the server lists it.
				id := fmt.Sprintf("f-%d", i)
				resp, e := allocate(s.dp, 10*time.Second, []string{"sleep:50"}, []string{id})
				if err = e; err == nil {
					err = checkSecondDevices(resp, id)
				}
			}
			if err != nil {
				errs.add(fmt.Errorf("call %d: %v", i, err))
			}
		}(i)
	}
	wg.Wait()
	if err := errs.result(calls); err != nil {
		return err
	}
	s.note("f: %d calls took %v", calls, time.Since(start))
	// A sleeping call must not hold the loop: the server counts the sleeps
	// it holds at once (a count, not a time, which a loaded machine skews).
	c, err := s.stats()
	if err != nil {
		return err
	}
	if c["sleepers_peak"] < 2 {
		return fmt.Errorf("at most %d sleep:50 call waited at once: the calls did not overlap", c["sleepers_peak"])
	}
	return nil
}

// checkSecondDevices checks a two-container answer whose first container
// held only a command.
func checkSecondDevices(resp *pb.AllocateResponse, id string) error {
	got := resp.GetContainerResponses()
	if len(got) != 2 {
		return fmt.Errorf("got %d container responses, want 2", len(got))
	}
	if d := got[1].GetEnvs()["DEVICES"]; d != id {
		return fmt.Errorf("container 1: DEVICES = %q, want %q", d, id)
	}
	return nil
}

func (s *suite) caseManyConnections() error {
	const nconns, perConn = 50, 10
	before, err := s.settledStats()
	if err != nil {
		return err
	}
	conns := make([]*grpc.ClientConn, nconns)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	var wg sync.WaitGroup
	var errs firstError
	for i := range conns {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := dialPlugin(context.Background(), s.socket)
			if err != nil {
				errs.add(fmt.Errorf("dial %d: %v", i, err))
				return
			}
			conns[i] = c
		}(i)
	}
	wg.Wait()
	if err := errs.result(nconns); err != nil {
		return err
	}
	if _, err := s.pollStats(10*time.Second, func(c counters) error {
		return want(c, "conns_open", c["conns_open"] == before["conns_open"]+nconns,
			fmt.Sprint(before["conns_open"]+nconns))
	}); err != nil {
		return fmt.Errorf("with all connections open: %v", err)
	}
	for i, c := range conns {
		wg.Add(1)
		go func(i int, dp pb.DevicePluginClient) {
			defer wg.Done()
			for j := 0; j < perConn; j++ {
				id := fmt.Sprintf("l-%d-%d", i, j)
				resp, err := allocate(dp, 10*time.Second, []string{id})
				if err == nil {
					err = checkDevices(resp, id)
				}
				if err != nil {
					errs.add(fmt.Errorf("conn %d call %d: %v", i, j, err))
				}
			}
		}(i, pb.NewDevicePluginClient(c))
	}
	wg.Wait()
	if err := errs.result(nconns * perConn); err != nil {
		return err
	}
	for i, c := range conns {
		c.Close()
		conns[i] = nil
	}
	_, err = s.pollStats(10*time.Second, func(c counters) error {
		return want(c, "conns_open", c["conns_open"] == before["conns_open"],
			fmt.Sprint(before["conns_open"]))
	})
	if err != nil {
		return fmt.Errorf("after closing them: %v", err)
	}
	return nil
}

// load runs total Allocate calls, concurrency at a time, on dp.
func load(dp pb.DevicePluginClient, total, concurrency int, prefix string) error {
	var next int64 = -1
	var wg sync.WaitGroup
	var errs firstError
	for g := 0; g < concurrency; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := atomic.AddInt64(&next, 1)
				if i >= int64(total) {
					return
				}
				id := fmt.Sprintf("%s-%d", prefix, i)
				resp, err := allocate(dp, 10*time.Second, []string{id})
				if err == nil {
					err = checkDevices(resp, id)
				}
				if err != nil {
					errs.add(fmt.Errorf("call %d: %v", i, err))
					if errs.failures() > 10 {
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	return errs.result(total)
}

func (s *suite) caseMemoryFlat() error {
	if os.Getenv("GDP_SANITIZED") == "1" {
		return skipCase("GDP_SANITIZED=1: ASan's quarantine grows memory by design")
	}
	const batch, concurrency, maxGrowthKB = 20000, 64, 2048
	var rss [3]int64
	for i := range rss {
		if i > 0 {
			if err := load(s.dp, batch, concurrency, fmt.Sprintf("m%d", i)); err != nil {
				return fmt.Errorf("batch %d: %v", i, err)
			}
		}
		c, err := s.stats()
		if err != nil {
			return err
		}
		rss[i] = c["rss_kb"]
	}
	s.note("m: rss_kb %d -> %d -> %d", rss[0], rss[1], rss[2])
	if g := rss[2] - rss[1]; g > maxGrowthKB {
		return fmt.Errorf("rss_kb grew by %d kB over the second batch of %d calls (%d -> %d -> %d kB), want <= %d",
			g, batch, rss[0], rss[1], rss[2], maxGrowthKB)
	}
	return nil
}
