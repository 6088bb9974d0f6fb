package main

import (
	"cmp"
	"container/heap"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/goccy/go-json"
)

var statsCmd = &command{
	name:    "stats",
	summary: "Summarize the sessions: count, sizes, times to live, masters, top owners.",
	help: `stats reads every session under the prefix once and prints their number,
total and largest size, histograms of size and time to live, how they are
spread over the masters of a cluster, and, with -owner-path, the owners
with most sessions.

Its memory does not grow with the number of sessions: the top owners are
counted with the Space-Saving algorithm in -owners-tracked counters, exact
while there are no more distinct owners than that, and otherwise exact for
every owner with more than sessions/counters sessions, each count at most
that much too high (stats says when).

Examples:
	typedstore stats
	typedstore stats -owner-path passport.user -top 20
	typedstore stats -json | jq .ttl`,
	setup: func(fs *flag.FlagSet) runFunc {
		var (
			asJSON  bool
			top     int
			tracked int
		)
		fs.BoolVar(&asJSON, "json", false, "print one JSON object")
		fs.IntVar(&top, "top", 10, "how many of the owners with most sessions to list")
		fs.IntVar(&tracked, "owners-tracked", 10000, "owners counted at once (memory: about 100 bytes each)")
		return func(ctx context.Context, a *app, d *db, args []string) error {
			if len(args) > 0 {
				return usagef("stats takes no arguments")
			}
			if top < 0 || tracked < 1 || top > tracked {
				return usagef("want 0 <= -top <= -owners-tracked and -owners-tracked >= 1")
			}
			s := newStats(tracked)
			m := a.meter(d.g, "stats")
			warning, err := d.walk(ctx, walkOptions{values: true, progress: m.update}, func(batch []record) error {
				for _, r := range batch {
					s.add(r, d.owner(r.value), d.g.ownerPath != "")
				}
				return nil
			})
			m.finish()
			if err != nil {
				return fmt.Errorf("after %d sessions: %w", s.Sessions, err)
			}
			warn(a, warning)
			s.finish(top)
			if asJSON {
				return json.NewEncoder(a.stdout).Encode(s)
			}
			return s.print(a.stdout, d.g.ownerPath != "")
		}
	},
}

// sizeBuckets and ttlBuckets are the upper bounds of the histograms.
var (
	sizeBuckets = []int64{256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 1 << 20}
	ttlBuckets  = []time.Duration{time.Minute, 10 * time.Minute, time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour}
)

// stats is what the stats command prints; its JSON is -json's.
type stats struct {
	Sessions  int64            `json:"sessions"`
	Bytes     int64            `json:"bytes"`
	Largest   int64            `json:"largest"`
	Other     int64            `json:"notStrings"`         // keys under the prefix of another type
	Unopened  int64            `json:"unopened,omitempty"` // values that do not open under -keys-file
	Sealed    int64            `json:"sealed,omitempty"`   // sealed values read without -keys-file: their owners are unknown
	Size      []bucket         `json:"size"`
	TTL       []bucket         `json:"ttl"`
	Masters   map[string]int64 `json:"masters"`
	Owners    []ownerCount     `json:"owners,omitempty"`
	Anonymous int64            `json:"anonymous"`
	// OwnersExact is false when more owners were seen than tracked: the
	// counts in Owners may then be up to OwnersError too high.
	OwnersExact bool  `json:"ownersExact"`
	OwnersError int64 `json:"ownersError,omitempty"`

	top *spaceSaving
}

type bucket struct {
	Below string `json:"below"` // "" for the last, open bucket
	Count int64  `json:"count"`
}

type ownerCount struct {
	Owner    string `json:"owner"`
	Sessions int64  `json:"sessions"`
}

func newStats(tracked int) *stats {
	s := &stats{Masters: map[string]int64{}, top: newSpaceSaving(tracked)}
	for _, b := range sizeBuckets {
		s.Size = append(s.Size, bucket{Below: humanBytes(b)})
	}
	s.Size = append(s.Size, bucket{})
	for _, b := range ttlBuckets {
		s.TTL = append(s.TTL, bucket{Below: humanTTL(b)})
	}
	s.TTL = append(s.TTL, bucket{}, bucket{Below: "none"})
	return s
}

func (s *stats) add(r record, owner string, owners bool) {
	var oe openError
	switch {
	case errors.As(r.err, &oe):
		s.Unopened++
		return
	case r.err != nil:
		s.Other++
		return
	}
	n := int64(r.size)
	s.Sessions++
	s.Bytes += n
	s.Largest = max(s.Largest, n)
	s.Masters[r.node]++
	i, _ := slices.BinarySearch(sizeBuckets, n+1)
	s.Size[i].Count++
	if r.ttlMs < 0 {
		s.TTL[len(s.TTL)-1].Count++
	} else {
		i, _ := slices.BinarySearch(ttlBuckets, r.ttl()+1)
		s.TTL[i].Count++
	}
	switch {
	case !owners:
	case r.sealed:
		s.Sealed++
	case owner == "":
		s.Anonymous++
	default:
		s.top.add(owner)
	}
}

func (s *stats) finish(top int) {
	s.OwnersExact, s.OwnersError = s.top.evictions == 0, s.top.maxError()
	for _, c := range s.top.ranked(top) {
		s.Owners = append(s.Owners, ownerCount{c.owner, c.count})
	}
}

func (s *stats) print(w io.Writer, owners bool) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "sessions\t%d\t\n", s.Sessions)
	if s.Sessions > 0 {
		fmt.Fprintf(tw, "total size\t%s\t\n", humanBytes(s.Bytes))
		fmt.Fprintf(tw, "mean size\t%s\t\n", humanBytes(s.Bytes/s.Sessions))
		fmt.Fprintf(tw, "largest\t%s\t\n", humanBytes(s.Largest))
	}
	if s.Sealed > 0 && owners {
		fmt.Fprintf(tw, "sealed, owner unknown (-keys-file opens them)\t%d\t\n", s.Sealed)
	}
	if s.Unopened > 0 {
		fmt.Fprintf(tw, "values that do not open under -keys-file\t%d\t\n", s.Unopened)
	}
	if s.Other > 0 {
		fmt.Fprintf(tw, "keys that are not strings\t%d\t\n", s.Other)
	}
	tw.Flush()
	histogram(w, "size", s.Size, s.Sessions)
	histogram(w, "time to live", s.TTL, s.Sessions)
	if len(s.Masters) > 1 {
		fmt.Fprintln(w, "\nmasters")
		tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		for _, addr := range slices.Sorted(maps.Keys(s.Masters)) {
			fmt.Fprintf(tw, "  %s\t%d\t%s\n", addr, s.Masters[addr], percent(s.Masters[addr], s.Sessions))
		}
		tw.Flush()
	}
	if owners {
		fmt.Fprintf(w, "\nowners with most sessions (anonymous sessions: %d)\n", s.Anonymous)
		if !s.OwnersExact {
			fmt.Fprintf(w, "  (more owners than tracked: each count may be up to %d too high)\n", s.OwnersError)
		}
		tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		for _, o := range s.Owners {
			fmt.Fprintf(tw, "  %s\t%d\n", o.Owner, o.Sessions)
		}
		tw.Flush()
	}
	return nil
}

func histogram(w io.Writer, title string, buckets []bucket, total int64) {
	fmt.Fprintf(w, "\n%s\n", title)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for i, b := range buckets {
		label := "< " + b.Below
		switch {
		case b.Below == "none":
			label = "no expiry"
		case b.Below == "":
			label = ">= " + buckets[i-1].Below
		}
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\n", label, b.Count, percent(b.Count, total), strings.Repeat("█", int(barWidth(b.Count, total))))
	}
	tw.Flush()
}

func barWidth(n, total int64) int64 {
	if total == 0 {
		return 0
	}
	return (n*40 + total - 1) / total
}

func percent(n, total int64) string {
	if total == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(total))
}

// spaceSaving counts the most frequent owners in a fixed number of
// counters (Metwally, Agrawal and El Abbadi, 2005): an owner not tracked
// when all counters are taken replaces the one with the lowest count and
// inherits it, so no count is too low and none is too high by more than
// the lowest count at the time.
type spaceSaving struct {
	limit     int
	index     map[string]*ssCounter
	heap      ssHeap // by count, lowest first
	evictions int64
}

type ssCounter struct {
	owner string
	count int64
	err   int64 // how much of count was inherited
	pos   int
}

func newSpaceSaving(limit int) *spaceSaving {
	return &spaceSaving{limit: limit, index: map[string]*ssCounter{}}
}

func (s *spaceSaving) add(owner string) {
	if c, ok := s.index[owner]; ok {
		c.count++
		heap.Fix(&s.heap, c.pos)
		return
	}
	if len(s.heap) < s.limit {
		c := &ssCounter{owner: owner, count: 1}
		s.index[owner] = c
		heap.Push(&s.heap, c)
		return
	}
	low := s.heap[0]
	delete(s.index, low.owner)
	s.evictions++
	low.owner, low.err = owner, low.count
	low.count++
	s.index[owner] = low
	heap.Fix(&s.heap, 0)
}

// maxError returns how much too high a count may be.
func (s *spaceSaving) maxError() int64 {
	var e int64
	for _, c := range s.heap {
		e = max(e, c.err)
	}
	return e
}

// ranked returns the n highest counts, highest first, ties by owner.
func (s *spaceSaving) ranked(n int) []*ssCounter {
	all := slices.Clone(s.heap)
	slices.SortFunc(all, func(a, b *ssCounter) int {
		return cmp.Or(cmp.Compare(b.count, a.count), strings.Compare(a.owner, b.owner))
	})
	return all[:min(n, len(all))]
}

type ssHeap []*ssCounter

func (h ssHeap) Len() int           { return len(h) }
func (h ssHeap) Less(i, j int) bool { return h[i].count < h[j].count }
func (h ssHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i]; h[i].pos, h[j].pos = i, j }
func (h *ssHeap) Push(x any)        { c := x.(*ssCounter); c.pos = len(*h); *h = append(*h, c) }
func (h *ssHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}
