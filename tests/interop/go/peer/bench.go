// The bench subcommand: a kubelet-like Allocate load generator for the
// benchmarks (bench/).
//
// C goroutines spread over K kubelet-style connections each send Allocate
// calls back to back (one container, one realistic GPU UUID) for a warm-up
// of about 0.5 s and then for the measured duration. Only calls that start
// and finish inside the measured window count; their latencies give p50
// and p99. One JSON line goes to stdout; the first call error, if any, to
// stderr.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	pb "gdp/dpapi"

	"google.golang.org/grpc"
)

const benchDeviceID = "GPU-4d2a9a8e-1c7e-4b1e-9f0a-3c5d6e7f8a9b"

type benchResult struct {
	Calls     int     `json:"calls"`
	Errors    int     `json:"errors"`
	Seconds   float64 `json:"seconds"`
	CallsPerS float64 `json:"calls_per_s"`
	P50Micros float64 `json:"p50_us"`
	P99Micros float64 `json:"p99_us"`
}

// worker's own tallies, merged at the end (no locking on the hot path).
type benchTally struct {
	latencies []time.Duration
	errors    int
	firstErr  error
}

func runBench(args []string) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	socket := fs.String("socket", "", "unix socket of the plugin")
	concurrency := fs.Int("concurrency", 1, "calls in flight")
	seconds := fs.Float64("duration", 5, "measured seconds")
	nconns := fs.Int("conns", 1, "connections to spread the calls over")
	deviceID := fs.String("id", benchDeviceID, "the device id each Allocate asks for")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *socket == "" || fs.NArg() != 0 || *concurrency < 1 || *nconns < 1 || *seconds <= 0 {
		fmt.Fprintln(os.Stderr, "usage: gdp-go-peer bench --socket PATH --concurrency C --duration SECONDS [--conns K] [--id DEVICE]")
		return 2
	}

	conns := make([]*grpc.ClientConn, *nconns)
	for i := range conns {
		c, err := dialPlugin(context.Background(), *socket)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: dial %s: %v\n", *socket, err)
			return 1
		}
		defer c.Close()
		conns[i] = c
	}

	const warmup = 500 * time.Millisecond
	begin := time.Now()
	measureFrom := begin.Add(warmup)
	measureTo := measureFrom.Add(time.Duration(*seconds * float64(time.Second)))
	req := allocReq([]string{*deviceID})

	tallies := make([]benchTally, *concurrency)
	var wg sync.WaitGroup
	for g := range tallies {
		wg.Add(1)
		go func(t *benchTally, dp pb.DevicePluginClient) {
			defer wg.Done()
			for {
				t0 := time.Now()
				if t0.After(measureTo) {
					return
				}
				_, err := dp.Allocate(context.Background(), req)
				t1 := time.Now()
				if t0.Before(measureFrom) || t1.After(measureTo) {
					continue // warm-up, or past the end
				}
				if err != nil {
					t.errors++
					if t.firstErr == nil {
						t.firstErr = err
					}
					continue
				}
				t.latencies = append(t.latencies, t1.Sub(t0))
			}
		}(&tallies[g], pb.NewDevicePluginClient(conns[g%len(conns)]))
	}
	wg.Wait()

	var all []time.Duration
	res := benchResult{Seconds: measureTo.Sub(measureFrom).Seconds()}
	var firstErr error
	for _, t := range tallies {
		all = append(all, t.latencies...)
		res.Errors += t.errors
		if firstErr == nil {
			firstErr = t.firstErr
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	res.Calls = len(all) + res.Errors
	res.CallsPerS = float64(res.Calls) / res.Seconds
	res.P50Micros = percentile(all, 0.50)
	res.P99Micros = percentile(all, 0.99)
	if firstErr != nil {
		fmt.Fprintln(os.Stderr, "bench: first error:", firstErr)
	}
	line, _ := json.Marshal(res)
	fmt.Println(string(line))
	return 0
}

// percentile of sorted latencies, in microseconds (nearest rank).
func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return float64(sorted[i].Nanoseconds()) / 1000
}
