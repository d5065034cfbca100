package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/containerd/ttrpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

type method = func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error)

// rawMethod adapts a bytes-in, bytes-out function to a ttrpc.Method.
func rawMethod(fn func(ctx context.Context, req []byte) ([]byte, error)) method {
	return func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
		var req rawMsg
		if err := unmarshal(&req); err != nil {
			return nil, err
		}
		resp, err := fn(ctx, req.b)
		if err != nil {
			return nil, err
		}
		return &rawMsg{b: resp}, nil
	}
}

// testService is "test.Echo":
//
//	Echo      returns the request bytes;
//	Fail      request is google.rpc.Status {1: code, 2: message}; returns that status as the error;
//	Sleep     request is decimal milliseconds; waits that long or until ctx ends (then returns ctx.Err());
//	Deadline  returns the ns left until the ctx deadline as decimal, or "none";
//	Metadata  returns the request metadata as JSON;
//	Big       request is a decimal size; returns that many bytes (to exceed the frame limit on purpose).
func testService() map[string]ttrpc.Method {
	return map[string]ttrpc.Method{
		"Echo": rawMethod(func(_ context.Context, req []byte) ([]byte, error) { return req, nil }),
		"Fail": rawMethod(func(_ context.Context, req []byte) ([]byte, error) {
			fields, err := parseFields(req)
			if err != nil {
				return nil, err
			}
			code, msg := uint64(0), ""
			for _, f := range fields {
				switch f.num {
				case 1:
					code = f.varint
				case 2:
					msg = string(f.bytes)
				}
			}
			return nil, status.Error(codes.Code(code), msg)
		}),
		"Sleep": rawMethod(func(ctx context.Context, req []byte) ([]byte, error) {
			ms, err := strconv.Atoi(string(req))
			if err != nil {
				return nil, err
			}
			select {
			case <-time.After(time.Duration(ms) * time.Millisecond):
				return []byte("slept"), nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}),
		"Deadline": rawMethod(func(ctx context.Context, _ []byte) ([]byte, error) {
			dl, ok := ctx.Deadline()
			if !ok {
				return []byte("none"), nil
			}
			return []byte(strconv.FormatInt(int64(time.Until(dl)), 10)), nil
		}),
		"Metadata": rawMethod(func(ctx context.Context, _ []byte) ([]byte, error) {
			md, _ := ttrpc.GetMetadata(ctx)
			return json.Marshal(md)
		}),
		"Big": rawMethod(func(_ context.Context, req []byte) ([]byte, error) {
			n, err := strconv.Atoi(string(req))
			if err != nil {
				return nil, err
			}
			return make([]byte, n), nil
		}),
	}
}

// runServer serves test.Echo on a unix socket and prints "ready" once it accepts connections.
// It also serves as the benchmark baseline server.
func runServer(args []string) {
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	socket := fs.String("socket", "", "unix socket path")
	_ = fs.Parse(args)
	if *socket == "" {
		fatalf("server: -socket is required")
	}
	_ = os.Remove(*socket)
	l, err := net.Listen("unix", *socket)
	if err != nil {
		fatalf("server: listen %s: %v", *socket, err)
	}
	s, err := ttrpc.NewServer()
	if err != nil {
		fatalf("server: %v", err)
	}
	s.Register("test.Echo", testService())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sigs
		s.Close()
		os.Remove(*socket)
		os.Exit(0)
	}()
	fmt.Println("ready")
	if err := s.Serve(context.Background(), l); err != nil && err != ttrpc.ErrServerClosed {
		fatalf("server: %v", err)
	}
}
