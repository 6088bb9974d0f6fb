package main

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// meter shows the progress of a long command on stderr: a bar with rate and
// time left on a terminal, a line every -progress-every elsewhere, nothing
// with -progress none. Work that ends within the first interval prints no
// line.
type meter struct {
	label string
	w     io.Writer
	bar   *progressbar.ProgressBar
	lines bool
	every time.Duration
	start time.Time
	last  time.Time
	done  int64
}

func (a *app) meter(g *global, label string) *meter {
	m := &meter{label: label, w: a.stderr, every: g.every, start: time.Now()}
	m.last = m.start
	style := g.progress
	if style == "auto" {
		style = "lines"
		if a.barOK {
			style = "bar"
		}
	}
	switch style {
	case "bar":
		m.bar = progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(a.stderr),
			progressbar.OptionSetDescription(label),
			progressbar.OptionSetWidth(30),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("sessions"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(a.stderr) }),
		)
	case "lines":
		m.lines = true
	}
	return m
}

// update records done items, and the share of the work done when known
// (fraction > 0), from which the bar estimates the total.
func (m *meter) update(done int64, fraction float64) {
	m.done = done
	switch {
	case m.bar != nil:
		if fraction > 0.001 {
			total := max(int64(float64(done)/fraction), done)
			if fraction >= 1 {
				total = done
			}
			m.bar.ChangeMax64(total)
		}
		m.bar.Set64(done)
	case m.lines:
		now := time.Now()
		if now.Sub(m.last) < m.every {
			return
		}
		m.last = now
		elapsed := now.Sub(m.start)
		rate := float64(done) / elapsed.Seconds()
		line := fmt.Sprintf("%s: %d sessions, %.0f/s", m.label, done, rate)
		if fraction > 0.001 && fraction < 1 {
			left := time.Duration(float64(elapsed) * (1 - fraction) / fraction)
			line += fmt.Sprintf(", %.0f%% scanned, about %v left", 100*fraction, left.Round(time.Second))
		}
		fmt.Fprintln(m.w, line)
	}
}

// finish ends the bar; a later message starts on a line of its own.
func (m *meter) finish() {
	if m.bar != nil {
		m.bar.ChangeMax64(m.done)
		m.bar.Finish()
	}
}
