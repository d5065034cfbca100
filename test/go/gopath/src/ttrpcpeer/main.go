// Command ttrpcpeer is containerd's Go ttrpc library (the one the kata shim uses) in the roles our tests need:
// a server, a one-shot client, the kata shim's hypervisor call sequence, and a latency benchmark client.
// Messages are raw bytes (hand-encoded protobuf), so no generated Go code is needed.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// rawMsg satisfies gogo's proto.Message plus Marshaler/Unmarshaler, so ttrpc's codec sends its bytes verbatim.
type rawMsg struct{ b []byte }

func (m *rawMsg) Reset()                   { m.b = nil }
func (m *rawMsg) String() string           { return fmt.Sprintf("%x", m.b) }
func (m *rawMsg) ProtoMessage()            {}
func (m *rawMsg) Marshal() ([]byte, error) { return m.b, nil }
func (m *rawMsg) Unmarshal(b []byte) error { m.b = append([]byte(nil), b...); return nil }

// kvFlags collects repeated -flag k=v arguments in order.
type kvFlags [][2]string

func (f *kvFlags) String() string { return fmt.Sprint(*f) }
func (f *kvFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("want key=value, got %q", s)
	}
	*f = append(*f, [2]string{k, v})
	return nil
}

func printJSON(v interface{}) {
	b, err := json.Marshal(v)
	if err != nil {
		fatalf("json: %v", err)
	}
	fmt.Println(string(b))
}

func fatalf(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "ttrpcpeer: "+format+"\n", a...)
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		fatalf("usage: ttrpcpeer server|client|hypervisor-lifecycle|bench-client [flags]")
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "server":
		runServer(args)
	case "client":
		runClient(args)
	case "hypervisor-lifecycle":
		runLifecycle(args)
	case "bench-client":
		runBench(args)
	default:
		fatalf("unknown subcommand %q", os.Args[1])
	}
}
