package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"net"
	"sync"
	"time"

	"github.com/containerd/ttrpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// callResult is what the peer prints for one call.
type callResult struct {
	Code       int     `json:"code"`
	Message    string  `json:"message"`
	PayloadHex string  `json:"payloadHex"`
	Ms         float64 `json:"ms"`
}

// errResult turns a Call error into the code the kata shim would see: a status keeps its code; a context error
// is what the ctx says (ttrpc returns ctx.Err() itself); ttrpc.ErrClosed and other transport errors are 14.
func errResult(err error) (int, string) {
	if st, ok := status.FromError(err); ok {
		return int(st.Code()), st.Message()
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return int(codes.DeadlineExceeded), err.Error()
	case errors.Is(err, context.Canceled):
		return int(codes.Canceled), err.Error()
	}
	return int(codes.Unavailable), err.Error()
}

func call(client *ttrpc.Client, service, method string, payload []byte, timeout time.Duration, md ttrpc.MD) callResult {
	ctx := context.Background()
	if len(md) > 0 {
		ctx = ttrpc.WithMetadata(ctx, md)
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	start := time.Now()
	var resp rawMsg
	err := client.Call(ctx, service, method, &rawMsg{b: payload}, &resp)
	res := callResult{Ms: float64(time.Since(start).Microseconds()) / 1000}
	if err != nil {
		res.Code, res.Message = errResult(err)
	}
	res.PayloadHex = hex.EncodeToString(resp.b)
	return res
}

// runClient makes -count concurrent calls on one connection and prints one JSON result per call, in order.
func runClient(args []string) {
	fs := flag.NewFlagSet("client", flag.ExitOnError)
	socket := fs.String("socket", "", "unix socket path")
	service := fs.String("service", "test.Echo", "ttrpc service")
	method := fs.String("method", "Echo", "ttrpc method")
	payloadHex := fs.String("payload-hex", "", "request payload, hex")
	timeout := fs.Duration("timeout", 0, "call deadline (0 = none)")
	count := fs.Int("count", 1, "concurrent calls on one connection")
	linger := fs.Duration("linger", 0, "keep the connection open this long after the calls")
	var mdFlags kvFlags
	fs.Var(&mdFlags, "metadata", "k=v request metadata (repeatable)")
	_ = fs.Parse(args)
	payload, err := hex.DecodeString(*payloadHex)
	if err != nil {
		fatalf("client: -payload-hex: %v", err)
	}
	md := ttrpc.MD{}
	for _, kv := range mdFlags {
		md.Append(kv[0], kv[1])
	}
	conn, err := net.Dial("unix", *socket)
	if err != nil {
		fatalf("client: dial %s: %v", *socket, err)
	}
	client := ttrpc.NewClient(conn)
	defer client.Close()
	results := make([]callResult, *count)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i] = call(client, *service, *method, payload, *timeout, md)
		}(i)
	}
	wg.Wait()
	for _, r := range results {
		printJSON(r)
	}
	time.Sleep(*linger)
}
