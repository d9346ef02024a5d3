package main

import (
	"fmt"
	"io"
	"slices"
	"time"
)

// report prints, per database and size, every subject's medians over the
// passes, with the lowest and highest in brackets, and its time as a ratio
// to one-delete of the same pass.
func report(w io.Writer, rs []result) {
	type key struct {
		db      string
		expired int
	}
	var keys []key
	for _, r := range rs {
		k := key{r.db, r.expired}
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		var subjects []string
		for _, r := range rs {
			if r.db == k.db && r.expired == k.expired && !slices.Contains(subjects, r.subject) {
				subjects = append(subjects, r.subject)
			}
		}
		live := 0
		for _, r := range rs {
			if r.db == k.db {
				live = r.live
			}
		}
		fmt.Fprintf(w, "\n### %s: %d expired among %d live\n\n", k.db, k.expired, live)
		fmt.Fprintln(w, "| subject | passes | total ms | ratio to one DELETE | rows/s | batches | slowest batch ms | writer worst ms | writer p99 ms | live rows deleted |")
		fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
		base := map[int]time.Duration{}
		for _, r := range runs(rs, k.expired, "one-delete") {
			if r.db == k.db {
				base[r.pass] = r.total
			}
		}
		for _, s := range subjects {
			var total, ratio, rate, batches, slowest, worst, p99 []float64
			var lost int64
			for _, r := range runs(rs, k.expired, s) {
				if r.db != k.db {
					continue
				}
				total = append(total, float64(r.total)/1e6)
				if b, ok := base[r.pass]; ok && b > 0 {
					ratio = append(ratio, float64(r.total)/float64(b))
				}
				rate = append(rate, r.rate())
				batches = append(batches, float64(max(len(r.batches), 1)))
				slowest = append(slowest, float64(r.slowest())/1e6)
				worst = append(worst, float64(r.worst())/1e6)
				p99 = append(p99, float64(r.p99())/1e6)
				lost += r.liveLost
			}
			fmt.Fprintf(w, "| %s | %d | %s | %s | %.0f | %.0f | %s | %s | %s | %d |\n", s, len(total), spread(total, "%.0f"),
				spread(ratio, "%.2f"), median(rate), median(batches), spread(slowest, "%.1f"), spread(worst, "%.1f"),
				spread(p99, "%.1f"), lost)
		}
	}
}

// spread formats the median of xs with the lowest and highest in brackets.
func spread(xs []float64, f string) string {
	if len(xs) == 0 {
		return "-"
	}
	if len(xs) == 1 {
		return fmt.Sprintf(f, xs[0])
	}
	return fmt.Sprintf(f+" ("+f+"–"+f+")", median(xs), slices.Min(xs), slices.Max(xs))
}
