package main

import (
	"flag"
	"net"
	"sort"
	"time"

	"github.com/containerd/ttrpc"
)

type benchResult struct {
	N           int     `json:"n"`
	PayloadSize int     `json:"payloadSize"`
	P50Us       float64 `json:"p50Us"`
	P90Us       float64 `json:"p90Us"`
	P99Us       float64 `json:"p99Us"`
	MaxUs       float64 `json:"maxUs"`
	MeanUs      float64 `json:"meanUs"`
	TotalMs     float64 `json:"totalMs"`
	Errors      int     `json:"errors"`
}

// runBench makes -n sequential unary test.Echo calls on one connection (after -warmup unmeasured ones) and
// prints latency percentiles: the Go baseline our implementation is compared with.
func runBench(args []string) {
	fs := flag.NewFlagSet("bench-client", flag.ExitOnError)
	socket := fs.String("socket", "", "unix socket path")
	n := fs.Int("n", 1000, "measured calls")
	warmup := fs.Int("warmup", 100, "unmeasured calls first")
	size := fs.Int("payload-size", 64, "echo payload bytes")
	service := fs.String("service", "test.Echo", "ttrpc service")
	method := fs.String("method", "Echo", "ttrpc method")
	_ = fs.Parse(args)
	if *n <= 0 {
		fatalf("bench-client: -n must be positive")
	}
	conn, err := net.Dial("unix", *socket)
	if err != nil {
		fatalf("bench-client: dial %s: %v", *socket, err)
	}
	client := ttrpc.NewClient(conn)
	defer client.Close()
	payload := make([]byte, *size)
	errs := 0
	for i := 0; i < *warmup; i++ {
		if r := call(client, *service, *method, payload, 0, nil); r.Code != 0 {
			errs++
		}
	}
	lat := make([]float64, *n)
	start := time.Now()
	for i := range lat {
		t := time.Now()
		if r := call(client, *service, *method, payload, 0, nil); r.Code != 0 {
			errs++
		}
		lat[i] = float64(time.Since(t).Nanoseconds()) / 1000
	}
	total := time.Since(start)
	sort.Float64s(lat)
	sum := 0.0
	for _, v := range lat {
		sum += v
	}
	pct := func(p float64) float64 { return lat[int(p*float64(len(lat)-1))] }
	printJSON(benchResult{
		N: *n, PayloadSize: *size, P50Us: pct(0.5), P90Us: pct(0.9), P99Us: pct(0.99), MaxUs: lat[len(lat)-1],
		MeanUs: sum / float64(len(lat)), TotalMs: float64(total.Microseconds()) / 1000, Errors: errs,
	})
}
