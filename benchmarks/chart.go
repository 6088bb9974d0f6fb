package main

import (
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/typedstore/typedstore/benchmarks/internal/harness"
)

// The chart shows the table's ratios as grouped bars: one panel per
// workload, one group of bars per concurrency, one bar per contender, its
// height the median throughput over raw go-redis + goccy/go-json's in the
// same workload and repetition. It is plain SVG, written by hand, so that
// the comparison needs no dependency beyond the stores it measures.

// chartColors gives each contender of the comparison a colour (the
// Okabe-Ito palette, readable with the common colour-vision deficiencies);
// contenders not listed take one of chartSpare in turn.
var chartColors = map[string]string{
	"raw go-redis + encoding/json": "#c8c8c8",
	baseline:                       "#7a7a7a",
	"typedstore":                   "#0072b2",
	"typedstore DisablePipelining": "#56b4e9",
	"scs + goredisstore":           "#e69f00",
	"gorilla redisstore":           "#cc79a7",
	"connect-redis (Node)":         "#009e73",
}

var chartSpare = []string{"#d55e00", "#f0e442", "#000000", "#8c564b"}

// chartTitles say what each workload's panel measures.
var chartTitles = map[workload]string{
	wLoad:      "load: read a session",
	wSave:      "save: write a session",
	wTouch:     "touch: reset its expiry",
	wLoadTouch: "load+touch: a rolling session",
	wAll:       "all: iterate every session",
}

// Geometry of the chart, in pixels.
const (
	chartCols    = 3   // panels per row
	panelW       = 300 // plotting area of a panel
	panelH       = 200
	panelPadL    = 44 // room for the y axis labels
	panelPadR    = 16
	panelPadT    = 30 // room for the panel's title
	panelPadB    = 30 // room for the concurrency labels
	chartMarginX = 16
	maxBarW      = 18
	labelRoom    = 30 // above a bar, for its value
	minBarH      = 6  // a bar lower than this is labelled whoever it is
)

// chartBar is one bar: a contender's median ratio in one cell.
type chartBar struct {
	name  string
	ratio float64
	ops   float64
}

// writeChart writes the SVG chart of results to path. notes are printed
// under the chart, one per line.
func writeChart(path string, results map[cellKey][]sample, contenders []*contender, workloads []workload, concs []int, notes []string) error {
	colors := map[string]string{}
	spare := 0
	var legend []string
	for _, ct := range contenders {
		c, ok := chartColors[ct.name]
		if !ok {
			c = chartSpare[spare%len(chartSpare)]
			spare++
		}
		colors[ct.name] = c
		legend = append(legend, ct.name)
	}

	// The bars of every panel, and the largest ratio, which sets the one
	// y scale that all panels share.
	type group struct {
		c    int
		bars []chartBar
	}
	panels := make([][]group, len(workloads))
	top := 1.0
	for i, w := range workloads {
		cs := concs
		if w == wAll {
			cs = []int{1}
		}
		for _, c := range cs {
			g := group{c: c}
			for _, ct := range contenders {
				ss := results[cellKey{w, c, ct.name}]
				if len(ss) == 0 {
					continue
				}
				b := chartBar{
					name:  ct.name,
					ratio: harness.MedianOf(ss, func(s sample) float64 { return s.ratio }),
					ops:   harness.MedianOf(ss, func(s sample) float64 { return s.opsPerSec }),
				}
				top = max(top, b.ratio)
				g.bars = append(g.bars, b)
			}
			if len(g.bars) > 0 {
				panels[i] = append(panels[i], g)
			}
		}
	}
	// Leave room above the tallest bar for its label.
	top *= float64(panelH) / float64(panelH-labelRoom)
	step := 1.0
	if top > 6 {
		step = 2
	}
	top = math.Ceil(top/step) * step
	y := func(r float64) float64 { return panelH - r/top*panelH }

	cellW := panelPadL + panelW + panelPadR
	cellH := panelPadT + panelH + panelPadB
	cols := min(chartCols, len(workloads))
	rows := (len(workloads) + cols - 1) / cols
	width := 2*chartMarginX + cols*cellW
	for _, n := range notes { // about 6 pixels a character at 11 pixels
		width = max(width, 2*chartMarginX+panelPadL+6*len([]rune(n)))
	}

	// Header: title, then the legend, wrapped to the chart's width.
	var b strings.Builder
	const headTop = 28
	legendTop := headTop + 26
	type item struct {
		x, y int
		name string
	}
	var items []item
	lx, ly := chartMarginX+panelPadL, legendTop
	for _, name := range legend {
		w := 22 + 7*len([]rune(name)) + 18
		if lx+w > width-chartMarginX && lx > chartMarginX+panelPadL {
			lx, ly = chartMarginX+panelPadL, ly+20
		}
		items = append(items, item{lx, ly, name})
		lx += w
	}
	gridTop := ly + 22
	height := gridTop + rows*cellH + 10 + 16*len(notes)

	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="16" font-weight="bold" fill="#222">Throughput relative to raw go-redis + goccy/go-json (1×), higher is better</text>`+"\n", chartMarginX+panelPadL, headTop)
	for _, it := range items {
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="14" height="14" fill="%s"/><text x="%d" y="%d" fill="#222">%s</text>`+"\n",
			it.x, it.y-11, colors[it.name], it.x+20, it.y, esc(it.name))
	}

	for i, w := range workloads {
		ox := chartMarginX + (i%cols)*cellW + panelPadL
		oy := gridTop + (i/cols)*cellH + panelPadT
		fmt.Fprintf(&b, `<g transform="translate(%d,%d)">`+"\n", ox, oy)
		title := chartTitles[w]
		if title == "" {
			title = string(w)
		}
		fmt.Fprintf(&b, `<text x="0" y="-12" font-size="13" font-weight="bold" fill="#222">%s</text>`+"\n", esc(title))
		// Grid lines and the y axis labels.
		for r := 0.0; r <= top+1e-9; r += step {
			fmt.Fprintf(&b, `<line x1="0" x2="%d" y1="%.1f" y2="%.1f" stroke="#e4e4e4"/>`, panelW, y(r), y(r))
			fmt.Fprintf(&b, `<text x="-6" y="%.1f" text-anchor="end" fill="#555">%g×</text>`+"\n", y(r)+4, r)
		}
		gs := panels[i]
		for gi, g := range gs {
			slot := float64(panelW) / float64(len(gs))
			barW := math.Min(maxBarW, (slot-16)/float64(len(g.bars)))
			x0 := float64(gi)*slot + (slot-barW*float64(len(g.bars)))/2
			for bi, bar := range g.bars {
				x := x0 + float64(bi)*barW
				h := math.Max(bar.ratio/top*panelH, 0.5)
				fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s, %s, c=%d: %.2f× (%s ops/s)</title></rect>`+"\n",
					x+0.5, panelH-h, barW-1, h, colors[bar.name], esc(bar.name), esc(string(w)), g.c, bar.ratio, harness.Thousands(bar.ops))
				// typedstore's bars carry their value, and so does any bar too
				// low to be seen.
				if strings.HasPrefix(bar.name, "typedstore") || h < minBarH {
					fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="10" fill="#222" transform="rotate(-90 %.1f %.1f)">%.2f</text>`+"\n",
						x+barW/2+3.5, panelH-h-3, x+barW/2+3.5, panelH-h-3, bar.ratio)
				}
			}
			label := fmt.Sprintf("c=%d", g.c)
			if w == wAll {
				label = "one pass, c=1"
			}
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#222">%s</text>`+"\n", float64(gi)*slot+slot/2, panelH+18, label)
		}
		// The baseline, over the bars.
		fmt.Fprintf(&b, `<line x1="0" x2="%d" y1="%.1f" y2="%.1f" stroke="#222" stroke-dasharray="4 3"/>`+"\n", panelW, y(1), y(1))
		fmt.Fprintf(&b, `<line x1="0" x2="%d" y1="%d" y2="%d" stroke="#888"/>`+"\n", panelW, panelH, panelH)
		b.WriteString("</g>\n")
	}
	ny := gridTop + rows*cellH + 10
	for _, n := range notes {
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" fill="#555">%s</text>`+"\n", chartMarginX+panelPadL, ny, esc(n))
		ny += 16
	}
	b.WriteString("</svg>\n")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

var esc = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace
