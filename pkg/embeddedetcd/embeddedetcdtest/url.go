package embeddedetcdtest

import (
	"net"
	"testing"
)

// FreeLoopbackURL returns an http URL on a loopback port that was free a
// moment ago, for a member's client or peer URL.
func FreeLoopbackURL(t testing.TB) string {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close()
	return "http://" + listener.Addr().String()
}
