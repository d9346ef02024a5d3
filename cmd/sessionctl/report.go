package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/gormsession/gormsession/repository"
)

// report is what stats prints; its JSON form is the --json output.
type report struct {
	Table     string     `json:"table"`
	Database  string     `json:"database"`
	Dialect   string     `json:"dialect"`
	CheckedAt time.Time  `json:"checked_at"`
	Total     int64      `json:"total"`
	Live      int64      `json:"live"`
	Expired   int64      `json:"expired"`
	Anonymous int64      `json:"live_anonymous"`
	Subjects  int64      `json:"live_subjects"`
	Oldest    *time.Time `json:"oldest_created_at"`
	Newest    *time.Time `json:"newest_created_at"`
	// SizeBytes is null when the database cannot tell.
	SizeBytes *int64 `json:"size_bytes"`
	// SizeScope is "table", "database" or "" (unknown).
	SizeScope   string         `json:"size_scope"`
	TopSubjects []subjectCount `json:"top_subjects"`
	// GaleraSyncWait is the Galera node's wsrep_sync_wait, null when the
	// database is not a Galera node.
	GaleraSyncWait *int `json:"galera_sync_wait"`
}

type subjectCount struct {
	Subject string `json:"subject"`
	Live    int64  `json:"live"`
}

func newReport(table string, t *target, now time.Time, s repository.Stats) report {
	r := report{
		Table: table, Database: t.where, Dialect: string(t.dialect), CheckedAt: now,
		Total: s.Total, Live: s.Live, Expired: s.Expired, Anonymous: s.Anonymous, Subjects: s.Subjects,
		SizeScope: s.SizeScope, TopSubjects: []subjectCount{},
	}
	if s.Total > 0 {
		o, n := time.UnixMilli(s.OldestCreated).UTC(), time.UnixMilli(s.NewestCreated).UTC()
		r.Oldest, r.Newest = &o, &n
	}
	if s.SizeScope != "" {
		size := s.Size
		r.SizeBytes = &size
	}
	for _, c := range s.TopSubjects {
		r.TopSubjects = append(r.TopSubjects, subjectCount(c))
	}
	if s.GaleraSyncWait >= 0 {
		w := s.GaleraSyncWait
		r.GaleraSyncWait = &w
	}
	return r
}

// writeText prints the report for people: labelled lines, UTC RFC 3339
// times with their ages, sizes in KiB/MiB.
func (r report) writeText(w io.Writer) {
	line := func(label, format string, args ...any) {
		fmt.Fprintf(w, "%-16s"+format+"\n", append([]any{label}, args...)...)
	}
	line("Table", "%q in %s", r.Table, r.Database)
	line("Checked at", "%s", r.CheckedAt.Format(time.RFC3339))
	line("Sessions", "%d stored", r.Total)
	n := len(strconv.FormatInt(max(r.Live, r.Expired), 10))
	line("  live", "%-*d  (not expired: %d with a subject, %d anonymous; %d distinct %s)",
		n, r.Live, r.Live-r.Anonymous, r.Anonymous, r.Subjects, plural(r.Subjects, "subject", "subjects"))
	line("  expired", "%-*d  (left for the next cleanup: sessionctl cleanup)", n, r.Expired)
	if r.Oldest != nil {
		line("Oldest created", "%s  (%s)", r.Oldest.Format(time.RFC3339), age(r.CheckedAt.Sub(*r.Oldest)))
		line("Newest created", "%s  (%s)", r.Newest.Format(time.RFC3339), age(r.CheckedAt.Sub(*r.Newest)))
	} else {
		line("Oldest created", "-  (the table is empty)")
		line("Newest created", "-")
	}
	switch {
	case r.SizeBytes == nil:
		line("Size on disk", "unknown (the database did not say)")
	case r.SizeScope == "database":
		line("Size on disk", "%s, the whole database file with all its tables", bytesText(*r.SizeBytes))
	case r.Dialect == string(dialectMySQL):
		line("Size on disk", "%s, table and indexes (InnoDB's estimate)", bytesText(*r.SizeBytes))
	default:
		line("Size on disk", "%s, table and indexes", bytesText(*r.SizeBytes))
	}
	if r.GaleraSyncWait != nil {
		if *r.GaleraSyncWait&1 == 0 {
			line("Galera", "wsrep_sync_wait=%d: this node may answer reads that miss writes made on other nodes; set wsrep_sync_wait=1 when requests can reach different nodes", *r.GaleraSyncWait)
		} else {
			line("Galera", "wsrep_sync_wait=%d: reads wait for the cluster's writes", *r.GaleraSyncWait)
		}
	}

	if len(r.TopSubjects) == 0 {
		if r.Subjects == 0 {
			fmt.Fprintln(w, "\nNo live session has a subject.")
		}
		return
	}
	fmt.Fprintf(w, "\nTop %d %s by live sessions:\n", len(r.TopSubjects), plural(int64(len(r.TopSubjects)), "subject", "subjects"))
	n = max(len("LIVE"), len(strconv.FormatInt(r.TopSubjects[0].Live, 10)))
	fmt.Fprintf(w, "  %*s  %s\n", n, "LIVE", "SUBJECT")
	for _, c := range r.TopSubjects {
		fmt.Fprintf(w, "  %*d  %s\n", n, c.Live, quoteSubject(c.Subject))
	}
}

// quoteSubject prints a subject as is when it is plain, quoted when it has
// spaces or characters a terminal would interpret.
func quoteSubject(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) || unicode.IsSpace(r) || r == '"' }) < 0 {
		return s
	}
	return strconv.Quote(s)
}

// age prints how long ago something happened, to the two largest units.
func age(d time.Duration) string {
	suffix := "ago"
	if d < 0 {
		d, suffix = -d, "from now (clock skew?)"
	}
	d = d.Truncate(time.Second)
	days := int64(d / (24 * time.Hour))
	h := int64(d/time.Hour) % 24
	m := int64(d/time.Minute) % 60
	s := int64(d/time.Second) % 60
	var txt string
	switch {
	case days > 0:
		txt = fmt.Sprintf("%dd %dh", days, h)
	case h > 0:
		txt = fmt.Sprintf("%dh %dm", h, m)
	case m > 0:
		txt = fmt.Sprintf("%dm %ds", m, s)
	default:
		txt = fmt.Sprintf("%ds", s)
	}
	return txt + " " + suffix
}

// bytesText prints a size in binary units with the exact byte count.
func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	v, suffixes := float64(n), []string{"KiB", "MiB", "GiB", "TiB"}
	i := -1
	for v >= unit && i < len(suffixes)-1 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %s (%d bytes)", v, suffixes[i], n)
}
