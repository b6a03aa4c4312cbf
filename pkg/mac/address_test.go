package mac

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    Address
		wantErr string
	}{
		{name: "colon lower", text: "02:00:00:00:00:0a", want: 0x02000000000a},
		{name: "colon upper", text: "02:AB:CD:EF:00:0A", want: 0x02abcdef000a},
		{name: "dash", text: "02-ab-cd-ef-00-0a", want: 0x02abcdef000a},
		{name: "dash mixed case", text: "0E-aB-Cd-eF-01-ff", want: 0x0eabcdef01ff},
		{name: "zero", text: "00:00:00:00:00:00", want: 0},
		{name: "broadcast", text: "ff:ff:ff:ff:ff:ff", want: MaxAddress},
		{name: "empty", text: "", wantErr: "want six two-digit hex octets"},
		{name: "five octets", text: "02:00:00:00:00", wantErr: "want six"},
		{name: "seven octets", text: "02:00:00:00:00:00:01", wantErr: "want six"},
		{name: "single digit octets", text: "2:0:0:0:0:a:bb:cc:", wantErr: "separated"},
		{name: "mixed separators", text: "02:00-00:00:00:0a", wantErr: "mixed or missing separators"},
		{name: "dot separator", text: "02.00.00.00.00.0a", wantErr: "separated by ':' or '-'"},
		{name: "non hex", text: "02:00:00:00:00:0g", wantErr: "octet 6 is not two hex digits"},
		{name: "sign in octet", text: "02:+0:00:00:00:0a", wantErr: "octet 2"},
		{name: "dotted cisco form refused", text: "0200.0000.000a..", wantErr: "separated"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got, err := Parse(test.text)
			if test.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), test.wantErr) {
					t.Fatalf("Parse(%q) error = %v, want one containing %q", test.text, err, test.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q) unexpected error: %v", test.text, err)
			}
			if got != test.want {
				t.Fatalf("Parse(%q) = %#x, want %#x", test.text, uint64(got), uint64(test.want))
			}
		})
	}
}

func TestFormsAndBits(t *testing.T) {
	tests := []struct {
		text      string
		colon     string
		dash      string
		multicast bool
		local     bool
	}{
		{"02:00:00:00:00:0A", "02:00:00:00:00:0a", "02-00-00-00-00-0a", false, true},
		{"01:00:5e:00:00:01", "01:00:5e:00:00:01", "01-00-5e-00-00-01", true, false},
		{"03-00-00-00-00-00", "03:00:00:00:00:00", "03-00-00-00-00-00", true, true},
		{"00:1b:21:3a:4f:9c", "00:1b:21:3a:4f:9c", "00-1b-21-3a-4f-9c", false, false},
		{"FE:FF:FF:FF:FF:FF", "fe:ff:ff:ff:ff:ff", "fe-ff-ff-ff-ff-ff", false, true},
	}
	for _, test := range tests {
		t.Run(test.text, func(t *testing.T) {
			address := MustParse(test.text)
			if got := address.String(); got != test.colon {
				t.Errorf("String() = %q, want %q", got, test.colon)
			}
			if got := address.Name(); got != test.dash {
				t.Errorf("Name() = %q, want %q", got, test.dash)
			}
			if got := address.IsMulticast(); got != test.multicast {
				t.Errorf("IsMulticast() = %v, want %v", got, test.multicast)
			}
			if got := address.IsLocallyAdministered(); got != test.local {
				t.Errorf("IsLocallyAdministered() = %v, want %v", got, test.local)
			}
			_, err := ParseUnicast(test.text)
			if test.multicast != (err != nil) {
				t.Errorf("ParseUnicast(%q) error = %v, want error %v", test.text, err, test.multicast)
			}
			if err != nil && !strings.Contains(err.Error(), "multicast") {
				t.Errorf("ParseUnicast error %q does not say why", err)
			}
		})
	}
}

func TestCanonical(t *testing.T) {
	got, err := Canonical("0A-0B-0C-0D-0E-0F")
	if err != nil || got != "0a:0b:0c:0d:0e:0f" {
		t.Fatalf("Canonical = %q, %v", got, err)
	}
	if _, err := Canonical("nonsense"); err == nil {
		t.Fatal("Canonical(nonsense) returned no error")
	}
}

// FuzzParse checks that Parse never panics, accepts only 17-byte inputs, and
// that whatever it accepts round-trips through both textual forms.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{"02:00:00:00:00:0a", "02-00-00-00-00-0A", "ff:ff:ff:ff:ff:ff", "", "02:00-00:00:00:0a", "zz:zz:zz:zz:zz:zz", "02:00:00:00:00:0a\x00"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		address, err := Parse(text)
		if err != nil {
			return
		}
		if len(text) != 17 {
			t.Fatalf("Parse accepted %q of length %d", text, len(text))
		}
		if address > MaxAddress {
			t.Fatalf("Parse(%q) = %#x, more than 48 bits", text, uint64(address))
		}
		for _, form := range []string{address.String(), address.Name()} {
			again, err := Parse(form)
			if err != nil || again != address {
				t.Fatalf("round trip of %q through %q gave %#x, %v", text, form, uint64(again), err)
			}
		}
		if !strings.EqualFold(strings.ReplaceAll(text, "-", ":"), address.String()) {
			t.Fatalf("Parse(%q) = %s, which is not the same address text", text, address)
		}
	})
}
