package multus

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// quote writes what an encoder without HTML escaping writes.
func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", "net1", "02:00:00:00:00:01", `a"b`, `a\b`, "a\nb", "<&>", "é", "\u2028", "\xff", "\x7f", "\x1f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var buffer bytes.Buffer
		encoder := json.NewEncoder(&buffer)
		encoder.SetEscapeHTML(false)
		if err := encoder.Encode(s); err != nil {
			t.Fatal(err)
		}
		if got, want := string(quote(s)), strings.TrimSuffix(buffer.String(), "\n"); got != want {
			t.Fatalf("quote(%q) = %s, want %s", s, got, want)
		}
	})
}
