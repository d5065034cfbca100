package main

import (
	"encoding/hex"
	"flag"
	"net"
	"strings"
	"time"

	"github.com/containerd/ttrpc"
)

// stepResult is printed for each hypervisor call.
type stepResult struct {
	Step            string  `json:"step"`
	Code            int     `json:"code"`
	Message         string  `json:"message"`
	AgentSocketPath string  `json:"agentSocketPath,omitempty"`
	Ms              float64 `json:"ms"`
}

// runLifecycle plays the kata shim against hypervisor.Hypervisor (docs/upstream-compat.md §1.3).
// style "go" is the Go shim (remote.go): a new connection per call; CreateVM and StopVM with no deadline,
// StartVM with -start-timeout (600 s in the shipped config). style "rust" is runtime-rs (remote/inner.rs):
// one persistent client, StopVM with a 1 s deadline.
func runLifecycle(args []string) {
	fs := flag.NewFlagSet("hypervisor-lifecycle", flag.ExitOnError)
	socket := fs.String("socket", "", "unix socket path")
	id := fs.String("id", "", "sandbox id")
	netns := fs.String("netns", "", "network namespace path")
	style := fs.String("style", "go", "go (connection per call) or rust (one persistent client)")
	// runtime-rs before kata 3.23 called the service under proto package remote (KATA src/libs/protocols/protos/remote.proto).
	service := fs.String("service", "hypervisor.Hypervisor", "hypervisor.Hypervisor or remote.Hypervisor")
	steps := fs.String("steps", "create,start,stop", "comma-separated subset of create,start,stop")
	startTimeout := fs.Duration("start-timeout", 600*time.Second, "StartVM deadline")
	var annotations kvFlags
	fs.Var(&annotations, "annotation", "k=v CreateVM annotation (repeatable)")
	_ = fs.Parse(args)
	if *style != "go" && *style != "rust" {
		fatalf("hypervisor-lifecycle: -style must be go or rust")
	}

	idMsg := appendStringField(nil, 1, *id)
	create := appendStringField(nil, 1, *id)
	for _, kv := range annotations {
		entry := appendStringField(appendStringField(nil, 1, kv[0]), 2, kv[1])
		create = appendBytesField(create, 2, entry)
	}
	create = appendStringField(create, 3, *netns)

	var persistent *ttrpc.Client
	dial := func() (*ttrpc.Client, error) {
		if persistent != nil {
			return persistent, nil
		}
		conn, err := net.Dial("unix", *socket)
		if err != nil {
			return nil, err
		}
		c := ttrpc.NewClient(conn)
		if *style == "rust" {
			persistent = c
		}
		return c, nil
	}
	do := func(step, method string, payload []byte, timeout time.Duration) bool {
		start := time.Now()
		res := stepResult{Step: step}
		client, err := dial()
		if err != nil {
			res.Code, res.Message = errResult(err)
		} else {
			r := call(client, *service, method, payload, timeout, nil)
			if *style == "go" {
				client.Close()
			}
			res.Code, res.Message = r.Code, r.Message
			if method == "CreateVM" && r.Code == 0 {
				res.AgentSocketPath = agentSocketPath(r.PayloadHex)
			}
		}
		res.Ms = float64(time.Since(start).Microseconds()) / 1000
		printJSON(res)
		return res.Code == 0
	}

	stopTimeout := time.Duration(0)
	if *style == "rust" {
		stopTimeout = time.Second
	}
	ok := true
	for _, step := range strings.Split(*steps, ",") {
		switch step {
		case "create":
			ok = do("CreateVM", "CreateVM", create, 0)
		case "start":
			ok = do("StartVM", "StartVM", idMsg, *startTimeout)
		case "stop":
			// Both shims send StopVM even after a failed start; runtime-rs only logs its errors.
			do("StopVM", "StopVM", idMsg, stopTimeout)
			ok = true
		default:
			fatalf("hypervisor-lifecycle: unknown step %q", step)
		}
		if !ok && step == "create" {
			break
		}
	}
	if persistent != nil {
		persistent.Close()
	}
}

// agentSocketPath reads CreateVMResponse field 1; the Go shim fails on an empty one.
func agentSocketPath(payloadHex string) string {
	b, err := hex.DecodeString(payloadHex)
	if err != nil {
		return ""
	}
	fields, err := parseFields(b)
	if err != nil {
		return ""
	}
	for _, f := range fields {
		if f.num == 1 {
			return string(f.bytes)
		}
	}
	return ""
}
