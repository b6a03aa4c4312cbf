package bench

import (
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strings"
)

// barChart is a grouped bar chart: one group of bars per category, one bar
// per series in each group. It is written as a self-contained SVG by hand,
// so that the bench needs no plotting dependency.
type barChart struct {
	title, subtitle string
	xLabel, yLabel  string
	categories      []string
	series          []barSeries
	// notes, if set, are printed above each group (one per category).
	notes []string
}

// barSeries is one bar in each group, with its value per category.
type barSeries struct {
	name   string
	color  string
	values []float64
}

// Geometry of the chart, in SVG user units (pixels).
const (
	chartWidth   = 720
	chartHeight  = 420
	chartLeft    = 70  // room for the y axis labels
	chartRight   = 20  // margin
	chartTop     = 70  // title, subtitle, legend
	chartBottom  = 60  // x axis labels and title
	groupPadding = 0.2 // share of a group's width left empty
)

// writeSVG writes c as an SVG document. Every bar is a <rect> in a
// <g class="series"> whose data-series is the series' name, with the
// value in data-value, so that a reader (or a test) finds the figures
// without measuring pixels.
func (c barChart) writeSVG(w io.Writer) error {
	for _, s := range c.series {
		if len(s.values) != len(c.categories) {
			return fmt.Errorf("series %q has %d values for %d categories", s.name, len(s.values), len(c.categories))
		}
	}
	maxValue := 0.0
	for _, s := range c.series {
		for _, v := range s.values {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				return fmt.Errorf("series %q: value %v is not a finite, non-negative number", s.name, v)
			}
			maxValue = max(maxValue, v)
		}
	}
	step := tickStep(maxValue)
	top := step * math.Ceil(maxValue/step)
	if top == 0 {
		top = step
	}
	plotWidth := float64(chartWidth - chartLeft - chartRight)
	plotHeight := float64(chartHeight - chartTop - chartBottom)
	bottom := float64(chartTop) + plotHeight
	y := func(v float64) float64 { return bottom - v/top*plotHeight }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		chartWidth, chartHeight, chartWidth, chartHeight)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", chartWidth, chartHeight)
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="15" font-weight="bold">%s</text>`+"\n", chartLeft, escape(c.title))
	if c.subtitle != "" {
		fmt.Fprintf(&b, `<text x="%d" y="38" fill="#555">%s</text>`+"\n", chartLeft, escape(c.subtitle))
	}
	// Legend.
	legendX := float64(chartLeft)
	for _, s := range c.series {
		fmt.Fprintf(&b, `<rect x="%.1f" y="48" width="12" height="12" fill="%s"/>`+"\n", legendX, escape(s.color))
		fmt.Fprintf(&b, `<text x="%.1f" y="58">%s</text>`+"\n", legendX+16, escape(s.name))
		legendX += 16 + 7*float64(len(s.name)) + 24
	}
	// Y axis: grid lines and labels.
	fmt.Fprintf(&b, `<g class="y-axis" stroke="#ddd">`+"\n")
	for v := 0.0; v <= top+step/2; v += step {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`+"\n", chartLeft, chartWidth-chartRight, y(v), y(v))
	}
	fmt.Fprintf(&b, "</g>\n")
	for v := 0.0; v <= top+step/2; v += step {
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", chartLeft-6, y(v)+4, formatTick(v))
	}
	fmt.Fprintf(&b, `<text transform="translate(16,%.1f) rotate(-90)" text-anchor="middle">%s</text>`+"\n", float64(chartTop)+plotHeight/2, escape(c.yLabel))
	// Bars, one group per category.
	groupWidth := plotWidth / float64(max(1, len(c.categories)))
	barWidth := groupWidth * (1 - groupPadding) / float64(max(1, len(c.series)))
	for i, s := range c.series {
		fmt.Fprintf(&b, `<g class="series" data-series="%s" fill="%s">`+"\n", escape(s.name), escape(s.color))
		for j, v := range s.values {
			x := float64(chartLeft) + float64(j)*groupWidth + groupWidth*groupPadding/2 + float64(i)*barWidth
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" data-category="%s" data-value="%s"><title>%s, %s: %s</title></rect>`+"\n",
				x, y(v), barWidth, bottom-y(v), escape(c.categories[j]), formatValue(v), escape(s.name), escape(c.categories[j]), formatValue(v))
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#333" font-size="10">%s</text>`+"\n", x+barWidth/2, y(v)-3, formatValue(v))
		}
		fmt.Fprintf(&b, "</g>\n")
	}
	// X axis: the baseline, category labels, notes.
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#333"/>`+"\n", chartLeft, chartWidth-chartRight, bottom, bottom)
	for j, category := range c.categories {
		center := float64(chartLeft) + (float64(j)+0.5)*groupWidth
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", center, bottom+16, escape(category))
		if j < len(c.notes) && c.notes[j] != "" {
			fmt.Fprintf(&b, `<text class="note" x="%.1f" y="%.1f" text-anchor="middle" font-weight="bold">%s</text>`+"\n", center, bottom+32, escape(c.notes[j]))
		}
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", float64(chartLeft)+plotWidth/2, chartHeight-6, escape(c.xLabel))
	fmt.Fprintf(&b, "</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// tickStep is a round step (1, 2 or 5 times a power of ten) that divides
// 0..max into at most 6 intervals.
func tickStep(maxValue float64) float64 {
	if maxValue <= 0 {
		return 1
	}
	magnitude := math.Pow(10, math.Floor(math.Log10(maxValue/6)))
	for _, m := range []float64{1, 2, 5, 10} {
		if maxValue/(m*magnitude) <= 6 {
			return m * magnitude
		}
	}
	return 10 * magnitude
}

// formatTick prints an axis value without needless decimals.
func formatTick(v float64) string { return fmt.Sprintf("%g", math.Round(v*1000)/1000) }

// formatValue prints a bar's value with one decimal.
func formatValue(v float64) string { return fmt.Sprintf("%.1f", v) }

// escape makes text safe in SVG character data and attribute values.
func escape(text string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(text))
	return b.String()
}
