package bench

import (
	"bytes"
	"encoding/xml"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"
)

// svgBar is a bar found in a chart: its series and data attributes.
type svgBar struct {
	series, category, value string
}

// parseChart decodes an SVG document completely (failing on anything that
// is not well-formed XML) and returns its bars in document order and the
// texts of its notes.
func parseChart(t *testing.T, svg []byte) (bars []svgBar, notes []string) {
	t.Helper()
	decoder := xml.NewDecoder(bytes.NewReader(svg))
	decoder.Strict = true
	attr := func(e xml.StartElement, name string) string {
		for _, a := range e.Attr {
			if a.Name.Local == name {
				return a.Value
			}
		}
		return ""
	}
	var series string
	inNote := false
	root := ""
	for {
		token, err := decoder.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the chart is not well-formed XML: %v\n%s", err, svg)
		}
		switch e := token.(type) {
		case xml.StartElement:
			if root == "" {
				root = e.Name.Space + " " + e.Name.Local
			}
			switch {
			case e.Name.Local == "g" && attr(e, "class") == "series":
				series = attr(e, "data-series")
			case e.Name.Local == "rect" && series != "":
				bars = append(bars, svgBar{series: series, category: attr(e, "data-category"), value: attr(e, "data-value")})
			case e.Name.Local == "text" && attr(e, "class") == "note":
				inNote = true
			}
		case xml.EndElement:
			if e.Name.Local == "g" {
				series = ""
			}
			if e.Name.Local == "text" {
				inNote = false
			}
		case xml.CharData:
			if inNote {
				notes = append(notes, string(e))
			}
		}
	}
	if root != "http://www.w3.org/2000/svg svg" {
		t.Fatalf("root element %q, want svg in the SVG namespace", root)
	}
	return bars, notes
}

func TestPodsChart(t *testing.T) {
	rates := map[int]admissionRates{
		16: {with: 123.84, without: 519.8, ops: 800},
		1:  {with: 43.92, without: 159.5, ops: 800},
		32: {with: 140, without: 560, ops: 400},
		4:  {with: 88.04, without: 300, ops: 400},
	}
	var svg bytes.Buffer
	if err := podsChart(rates).writeSVG(&svg); err != nil {
		t.Fatal(err)
	}
	bars, notes := parseChart(t, svg.Bytes())
	want := []svgBar{
		{"with the webhook", "1", "43.9"},
		{"with the webhook", "4", "88.0"},
		{"with the webhook", "16", "123.8"},
		{"with the webhook", "32", "140.0"},
		{"without (namespace ignored)", "1", "159.5"},
		{"without (namespace ignored)", "4", "300.0"},
		{"without (namespace ignored)", "16", "519.8"},
		{"without (namespace ignored)", "32", "560.0"},
	}
	if !reflect.DeepEqual(bars, want) {
		t.Errorf("bars:\n got %v\nwant %v", bars, want)
	}
	if wantNotes := []string{"27.5 %", "29.3 %", "23.8 %", "25.0 %"}; !reflect.DeepEqual(notes, wantNotes) {
		t.Errorf("ratios under the groups: got %q, want %q", notes, wantNotes)
	}
	if !strings.Contains(svg.String(), "up to 800 pods per side") {
		t.Errorf("the subtitle does not state the operation count:\n%s", svg.String())
	}
}

func TestBarChartEscapesText(t *testing.T) {
	chart := barChart{
		title:      `a <b> & "c"`,
		categories: []string{"<1>"},
		series:     []barSeries{{name: `x & "y"`, color: "#000", values: []float64{1}}},
	}
	var svg bytes.Buffer
	if err := chart.writeSVG(&svg); err != nil {
		t.Fatal(err)
	}
	bars, _ := parseChart(t, svg.Bytes())
	if want := []svgBar{{`x & "y"`, "<1>", "1.0"}}; !reflect.DeepEqual(bars, want) {
		t.Errorf("got %v, want %v", bars, want)
	}
}

func TestBarChartRejectsBadSeries(t *testing.T) {
	for name, chart := range map[string]barChart{
		"fewer values than categories": {categories: []string{"1", "2"}, series: []barSeries{{name: "s", values: []float64{1}}}},
		"NaN":                          {categories: []string{"1"}, series: []barSeries{{name: "s", values: []float64{math.NaN()}}}},
		"infinite":                     {categories: []string{"1"}, series: []barSeries{{name: "s", values: []float64{math.Inf(1)}}}},
		"negative":                     {categories: []string{"1"}, series: []barSeries{{name: "s", values: []float64{-1}}}},
	} {
		t.Run(name, func(t *testing.T) {
			if err := chart.writeSVG(io.Discard); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestTickStep(t *testing.T) {
	for _, tc := range []struct{ max, want float64 }{
		{0, 1}, {5, 1}, {6, 1}, {7, 2}, {12, 2}, {25, 5}, {60, 10}, {519.8, 100}, {1100, 200}, {0.3, 0.05},
	} {
		if got := tickStep(tc.max); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("tickStep(%v) = %v, want %v", tc.max, got, tc.want)
		}
	}
}
