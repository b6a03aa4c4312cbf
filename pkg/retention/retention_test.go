package retention

import (
	"strings"
	"testing"
	"time"
)

func TestNameGenerated(t *testing.T) {
	long := strings.Repeat("a", 70)
	tests := []struct {
		name, generateName string
		want               bool
	}{
		{"db-0", "", false},
		{"db-0", "db-", false}, // a StatefulSet pod
		{"db-12", "db-", false},
		{"web-7d9f8-x2kq9", "web-7d9f8-", true}, // a ReplicaSet pod
		{"other-x2kq9", "web-", false},
		{long[:58] + "x2kq9", long, true}, // the base is cut to 58 characters
		{long + "x2kq9", long, false},
	}
	for _, tt := range tests {
		if got := NameGenerated(tt.name, tt.generateName); got != tt.want {
			t.Errorf("NameGenerated(%q, %q) = %v, want %v", tt.name, tt.generateName, got, tt.want)
		}
	}
}

func TestObjectChoice(t *testing.T) {
	tests := []struct {
		name                string
		annotation          *string
		objectName, genName string
		want                string
	}{
		{name: "chosen name, no annotation: the pool decides", objectName: "db-0", genName: "db-", want: ""},
		{name: "generated name is not retained", objectName: "web-x2kq9", genName: "web-", want: OptOut},
		{name: "generated name opts in", annotation: ptr(OptIn), objectName: "web-x2kq9", genName: "web-", want: OptIn},
		{name: "chosen name opts out", annotation: ptr(OptOut), objectName: "db-0", want: OptOut},
		{name: "invalid value counts as absent", annotation: ptr("24h"), objectName: "db-0", want: ""},
		{name: "invalid value on a generated name", annotation: ptr("yes"), objectName: "web-x2kq9", genName: "web-", want: OptOut},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			annotations := map[string]string{}
			if tt.annotation != nil {
				annotations[ObjectAnnotation] = *tt.annotation
			}
			if got := ObjectChoice(annotations, tt.objectName, tt.genName); got != tt.want {
				t.Errorf("ObjectChoice = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		pool   time.Duration
		choice string
		want   time.Duration
	}{
		{0, "", 0},
		{0, OptIn, 0}, // an object cannot retain beyond its pool
		{time.Hour, "", time.Hour},
		{time.Hour, OptIn, time.Hour},
		{time.Hour, OptOut, 0},
	}
	for _, tt := range tests {
		if got := Duration(tt.pool, tt.choice); got != tt.want {
			t.Errorf("Duration(%s, %q) = %s, want %s", tt.pool, tt.choice, got, tt.want)
		}
	}
}

func TestParseChoice(t *testing.T) {
	for _, valid := range []string{"true", "false"} {
		if err := ParseChoice(valid); err != nil {
			t.Errorf("ParseChoice(%q) = %v", valid, err)
		}
	}
	for _, invalid := range []string{"", "True", "24h", "yes"} {
		if err := ParseChoice(invalid); err == nil {
			t.Errorf("ParseChoice(%q) accepted", invalid)
		}
	}
}

func ptr(s string) *string { return &s }
