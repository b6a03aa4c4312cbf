package webhook

import (
	"net/http"
	"strings"
	"testing"

	"kubemacpool.io/kubemacpool/pkg/retention"
)

func TestInvalidRetention(t *testing.T) {
	tests := []struct {
		name        string
		annotations map[string]string
		wantDenied  bool
	}{
		{name: "absent", annotations: nil},
		{name: "opted in", annotations: map[string]string{retention.ObjectAnnotation: "true"}},
		{name: "opted out", annotations: map[string]string{retention.ObjectAnnotation: "false"}},
		{name: "a duration is not a choice", annotations: map[string]string{retention.ObjectAnnotation: "24h"}, wantDenied: true},
		{name: "empty", annotations: map[string]string{retention.ObjectAnnotation: ""}, wantDenied: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			response := InvalidRetention(tt.annotations)
			if (response != nil) != tt.wantDenied {
				t.Fatalf("denied = %v, want %v", response != nil, tt.wantDenied)
			}
			if response != nil && (response.Allowed || response.Result.Code != http.StatusUnprocessableEntity ||
				!strings.Contains(response.Result.Message, "metadata.annotations["+retention.ObjectAnnotation+"]")) {
				t.Errorf("response = %+v, want a 422 naming the annotation", response.Result)
			}
		})
	}
}
