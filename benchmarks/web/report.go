package main

import (
	"fmt"
	"strings"

	"github.com/typedstore/typedstore/benchmarks/internal/harness"
)

// median returns the median of f over the measurements of a cell.
func (r *results) median(fl string, c int, s string, f func(cell) float64) float64 {
	return harness.MedianOf(r.cells[key(fl, c, s)], f)
}

// table returns the Markdown table: for each flow and concurrency, each
// stack's requests per second, latencies, commands and CPU per request,
// then typedstore's throughput as a multiple of each other stack's.
func (r *results) table() string {
	var b strings.Builder
	b.WriteString("| Flow | Clients | Stack | Requests/s | p50 µs | p99 µs | Redis commands / request | Server CPU µs / request |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, f := range flows {
		for _, c := range r.cs {
			for _, s := range r.stacks {
				fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s | %s |\n", f.name, c, s,
					harness.Thousands(r.median(f.name, c, s, func(x cell) float64 { return x.rps })),
					harness.Thousands(r.median(f.name, c, s, func(x cell) float64 { return x.p50 })),
					harness.Thousands(r.median(f.name, c, s, func(x cell) float64 { return x.p99 })),
					harness.Decimal(r.median(f.name, c, s, func(x cell) float64 { return x.cmds })),
					harness.Thousands(r.median(f.name, c, s, func(x cell) float64 { return x.cpu })))
			}
		}
	}
	b.WriteString("\nThroughput of typedstore as a multiple of each stack's (median of the runs):\n\n")
	b.WriteString("| Flow | Clients |")
	others := r.stacks[1:]
	for _, s := range others {
		fmt.Fprintf(&b, " × %s |", s)
	}
	b.WriteString("\n|---|---|" + strings.Repeat("---|", len(others)) + "\n")
	for _, f := range flows {
		for _, c := range r.cs {
			fmt.Fprintf(&b, "| %s | %d |", f.name, c)
			for _, s := range others {
				fmt.Fprintf(&b, " %.2f |", r.ratio(f.name, c, s))
			}
			b.WriteString("\n")
		}
	}
	b.WriteString("\n")
	for _, n := range r.notes {
		b.WriteString(n + "\n")
	}
	return b.String()
}

// ratio is typedstore's requests per second over those of stack s.
func (r *results) ratio(f string, c int, s string) float64 {
	rps := func(x cell) float64 { return x.rps }
	return r.median(f, c, "typedstore", rps) / max(r.median(f, c, s, rps), 1e-9)
}

// chart returns an SVG bar chart: for each flow and concurrency, each
// stack's requests per second relative to typedstore's.
func (r *results) chart() string {
	colors := map[string]string{"typedstore": "#3b5bdb", "express": "#e8590c", "scs": "#2f9e44", "gorilla": "#862e9c"}
	const (
		barW, gap, groupGap = 14, 2, 18
		top, height, left   = 40, 220, 50
	)
	groups := len(flows) * len(r.cs)
	groupW := len(r.stacks)*(barW+gap) + groupGap
	width := left + groups*groupW + 20
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", width, top+height+70)
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="13">Requests per second, relative to typedstore + httpsession (1 = the same)</text>`+"\n", left)
	maxV := 1.0
	for _, f := range flows {
		for _, c := range r.cs {
			for _, s := range r.stacks {
				maxV = max(maxV, 1/r.ratio(f.name, c, s))
			}
		}
	}
	y := func(v float64) float64 { return top + height - v/maxV*height }
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#999" stroke-dasharray="4 3"/>`+"\n", left, width-20, y(1), y(1))
	fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">1</text>`+"\n", left-4, y(1)+4)
	x := left
	for _, f := range flows {
		for _, c := range r.cs {
			for i, s := range r.stacks {
				v := 1 / r.ratio(f.name, c, s)
				fmt.Fprintf(&b, `<rect x="%d" y="%.1f" width="%d" height="%.1f" fill="%s"><title>%s, %s, %d clients: %.2f</title></rect>`+"\n",
					x+i*(barW+gap), y(v), barW, top+height-y(v), colors[s], s, f.name, c, v)
			}
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">c=%d</text>`+"\n", x+len(r.stacks)*(barW+gap)/2, top+height+14, c)
			x += groupW
		}
		gx := x - len(r.cs)*groupW
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", gx+len(r.cs)*groupW/2-groupGap/2, top+height+30, f.name)
	}
	lx := left
	for _, s := range r.stacks {
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n", lx, top+height+48, colors[s], lx+14, top+height+57, s)
		lx += 110
	}
	b.WriteString("</svg>\n")
	return b.String()
}
