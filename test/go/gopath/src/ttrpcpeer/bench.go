package main

import (
	"flag"
	"net"
	"sort"
	"strings"
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

// runBench makes -n sequential unary calls on one connection (after -warmup unmeasured ones) and
// prints latency percentiles: the Go baseline our implementation is compared with. With several
// sockets (-socket a,b,...) it makes the calls in turn, one on each connection, so that every path
// is measured over the same moments, and prints one result per socket, in their order.
func runBench(args []string) {
	fs := flag.NewFlagSet("bench-client", flag.ExitOnError)
	socket := fs.String("socket", "", "unix socket path, or several separated by commas")
	n := fs.Int("n", 1000, "measured calls (per socket)")
	warmup := fs.Int("warmup", 100, "unmeasured calls first (per socket)")
	size := fs.Int("payload-size", 64, "echo payload bytes")
	service := fs.String("service", "test.Echo", "ttrpc service")
	method := fs.String("method", "Echo", "ttrpc method")
	_ = fs.Parse(args)
	if *n <= 0 {
		fatalf("bench-client: -n must be positive")
	}
	sockets := strings.Split(*socket, ",")
	clients := make([]*ttrpc.Client, len(sockets))
	for k, path := range sockets {
		conn, err := net.Dial("unix", path)
		if err != nil {
			fatalf("bench-client: dial %s: %v", path, err)
		}
		clients[k] = ttrpc.NewClient(conn)
		defer clients[k].Close()
	}
	payload := make([]byte, *size)
	errs := make([]int, len(clients))
	for k, client := range clients {
		for i := 0; i < *warmup; i++ {
			if r := call(client, *service, *method, payload, 0, nil); r.Code != 0 {
				errs[k]++
			}
		}
	}
	lat := make([][]float64, len(clients))
	busy := make([]time.Duration, len(clients))
	for k := range lat {
		lat[k] = make([]float64, *n)
	}
	for i := 0; i < *n; i++ {
		for k, client := range clients {
			t := time.Now()
			if r := call(client, *service, *method, payload, 0, nil); r.Code != 0 {
				errs[k]++
			}
			d := time.Since(t)
			busy[k] += d
			lat[k][i] = float64(d.Nanoseconds()) / 1000
		}
	}
	for k := range clients {
		l := lat[k]
		sort.Float64s(l)
		sum := 0.0
		for _, v := range l {
			sum += v
		}
		pct := func(p float64) float64 { return l[int(p*float64(len(l)-1))] }
		printJSON(benchResult{
			N: *n, PayloadSize: *size, P50Us: pct(0.5), P90Us: pct(0.9), P99Us: pct(0.99), MaxUs: l[len(l)-1],
			MeanUs: sum / float64(len(l)), TotalMs: float64(busy[k].Microseconds()) / 1000, Errors: errs[k],
		})
	}
}
