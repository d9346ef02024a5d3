// Command plots draws the benchmark figures of docs/ from the CSV files
// under bench/results (issue 13, part 4), with gonum.org/v1/plot:
//
//   - cleanup-wait-<db>.png from cleanup-timeline-<db>.csv: how long each
//     save of a concurrent writer waited during cleanup, over time, ours
//     against one DELETE;
//   - http-cost.png from http.csv: the time per HTTP request of every
//     subject as a ratio to the fastest peer, grouped by scenario, one panel
//     per database;
//   - scale-<db>.png from scale-<db>.csv: p50 and p99 latency of each
//     operation against the number of live sessions (log x axis).
//
// A missing or empty CSV is skipped with a message, so the command draws
// whatever the runs so far produced:
//
//	go run ./cmd/plots -results results -img ../docs/img
package main

import (
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"image/color"
	"io/fs"
	"log"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

var dbs = []string{"postgres", "sqlite", "mysql"}

var dbTitle = map[string]string{"postgres": "PostgreSQL", "sqlite": "SQLite (WAL)", "mysql": "MariaDB"}

func main() {
	results := flag.String("results", "results", "directory of the CSV files")
	img := flag.String("img", "../docs/img", "directory for the PNG files")
	flag.Parse()
	if err := os.MkdirAll(*img, 0o755); err != nil {
		log.Fatal(err)
	}
	failed := false
	draw := func(name string, f func() error) {
		err := f()
		switch {
		case errors.Is(err, errSkip):
			log.Printf("%s: skipped: %v", name, err)
		case err != nil:
			log.Printf("%s: %v", name, err)
			failed = true
		default:
			log.Printf("wrote %s", filepath.Join(*img, name))
		}
	}
	for _, db := range dbs {
		name := "cleanup-wait-" + db + ".png"
		draw(name, func() error {
			return cleanupWait(filepath.Join(*results, "cleanup-timeline-"+db+".csv"), db, filepath.Join(*img, name))
		})
	}
	draw("http-cost.png", func() error {
		return httpCost(filepath.Join(*results, "http.csv"), filepath.Join(*img, "http-cost.png"))
	})
	for _, db := range dbs {
		name := "scale-" + db + ".png"
		draw(name, func() error {
			return scale(filepath.Join(*results, "scale-"+db+".csv"), db, filepath.Join(*img, name))
		})
	}
	if failed {
		os.Exit(1)
	}
}

// errSkip marks a figure whose data is not there (yet).
var errSkip = errors.New("no data")

// table is a CSV file read by column name.
type table struct {
	col  map[string]int
	rows [][]string
}

// readCSV reads path, whose first row names the columns, and checks that
// the columns of need are there. A missing or empty file is errSkip.
func readCSV(path string, need ...string) (*table, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s does not exist", errSkip, path)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(recs) < 2 {
		return nil, fmt.Errorf("%w: %s has no rows", errSkip, path)
	}
	t := &table{col: map[string]int{}, rows: recs[1:]}
	for i, c := range recs[0] {
		t.col[strings.TrimSpace(c)] = i
	}
	for _, c := range need {
		if _, ok := t.col[c]; !ok {
			return nil, fmt.Errorf("%s: no column %q", path, c)
		}
	}
	return t, nil
}

func (t *table) str(row []string, c string) string { return row[t.col[c]] }

func (t *table) num(row []string, c string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(row[t.col[c]]), 64)
	if err != nil {
		return 0, fmt.Errorf("column %s: %w", c, err)
	}
	return v, nil
}

// cleanupWait draws each save's wait against the time since the cleanup
// started, one series per subject.
func cleanupWait(path, db, out string) error {
	t, err := readCSV(path, "subject", "t_ms", "wait_ms")
	if err != nil {
		return err
	}
	series := map[string]plotter.XYs{}
	var names []string
	for _, r := range t.rows {
		s := t.str(r, "subject")
		x, err := t.num(r, "t_ms")
		if err != nil {
			return err
		}
		y, err := t.num(r, "wait_ms")
		if err != nil {
			return err
		}
		if _, ok := series[s]; !ok {
			names = append(names, s)
		}
		series[s] = append(series[s], plotter.XY{X: x, Y: y})
	}
	p := plot.New()
	p.Title.Text = "Writer's wait per save during cleanup, " + dbTitle[db]
	p.X.Label.Text = "time since cleanup started (ms)"
	p.Y.Label.Text = "save's wait (ms)"
	p.Add(plotter.NewGrid())
	for i, s := range names {
		sc, err := plotter.NewScatter(series[s])
		if err != nil {
			return err
		}
		sc.GlyphStyle.Color = plotutil.Color(i)
		sc.GlyphStyle.Shape = plotutil.Shape(i)
		sc.GlyphStyle.Radius = vg.Points(1.8)
		p.Add(sc)
		worst := 0.0
		for _, xy := range series[s] {
			worst = max(worst, xy.Y)
		}
		p.Legend.Add(fmt.Sprintf("%s (%d saves, worst %.1f ms)", label(s), len(series[s]), worst), sc)
	}
	p.Legend.Top = true
	return p.Save(18*vg.Centimeter, 11*vg.Centimeter, out)
}

func label(subject string) string {
	if subject == "one-delete" {
		return "one DELETE"
	}
	return subject
}

// scenarios of http.csv, in report order, with their axis labels.
var scenarios = []string{"anon", "read", "write", "mix32"}

var scenarioLabel = map[string]string{"anon": "(a) anonymous", "read": "(b) read", "write": "(c) write", "mix32": "(d) 32 clients 90/10"}

// httpCost draws, per database, one group of bars per scenario, one bar per
// subject: its time per request over the fastest peer's, on a log2 axis.
// Bars rise from the axis floor (a power of two below the lowest ratio), so
// the fastest peer's bar ends at 1× and every bar is visible.
func httpCost(path, out string) error {
	t, err := readCSV(path, "scenario", "db", "subject", "ratio_to_fastest")
	if err != nil {
		return err
	}
	ratio := map[string]map[string]map[string]float64{} // db -> subject -> scenario
	var subjects = map[string][]string{}
	lo, hi := 1.0, 1.0
	for _, r := range t.rows {
		db, sc, s := t.str(r, "db"), t.str(r, "scenario"), t.str(r, "subject")
		if s == "none" {
			continue // the harness's floor, not a session manager
		}
		v, err := t.num(r, "ratio_to_fastest")
		if err != nil {
			return err
		}
		if ratio[db] == nil {
			ratio[db] = map[string]map[string]float64{}
		}
		if ratio[db][s] == nil {
			ratio[db][s] = map[string]float64{}
			subjects[db] = append(subjects[db], s)
		}
		ratio[db][s][sc] = v
		lo, hi = min(lo, v), max(hi, v)
	}
	floor := math.Pow(2, math.Floor(math.Log2(lo)-0.25))
	top := math.Pow(2, math.Ceil(math.Log2(hi)+0.1))
	var rows [][]*plot.Plot
	for _, db := range dbs {
		subs := subjects[db]
		if len(subs) == 0 {
			continue
		}
		p := plot.New()
		p.Title.Text = "Time per HTTP request / fastest peer's, " + dbTitle[db] + " (median of passes; lower is better)"
		p.Y.Label.Text = "ratio (log scale)"
		// Two doublings of headroom above the top tick keep the legend
		// clear of the bars.
		p.Y.Min, p.Y.Max = 0, math.Log2(top/floor)+2
		var ticks []plot.Tick
		for v := floor; v <= top*1.001; v *= 2 {
			ticks = append(ticks, plot.Tick{Value: math.Log2(v / floor), Label: strconv.FormatFloat(v, 'g', 3, 64) + "×"})
		}
		p.Y.Tick.Marker = plot.ConstantTicks(ticks)
		p.Add(plotter.NewGrid())
		w := vg.Points(10)
		for k, s := range subs {
			vals := make(plotter.Values, len(scenarios))
			for i, sc := range scenarios {
				if v, ok := ratio[db][s][sc]; ok {
					vals[i] = math.Log2(v / floor)
				}
			}
			bars, err := plotter.NewBarChart(vals, w)
			if err != nil {
				return err
			}
			bars.LineStyle.Width = 0
			bars.Color = subjectColor(s, k)
			bars.Offset = w * vg.Length(float64(k)-float64(len(subs)-1)/2)
			p.Add(bars)
			p.Legend.Add(s, bars)
		}
		one, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: math.Log2(1 / floor)}, {X: float64(len(scenarios)) - 0.5, Y: math.Log2(1 / floor)}})
		if err != nil {
			return err
		}
		one.LineStyle.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		one.LineStyle.Color = color.Gray{Y: 60}
		p.Add(one)
		labels := make([]string, len(scenarios))
		for i, sc := range scenarios {
			labels[i] = scenarioLabel[sc]
		}
		p.NominalX(labels...)
		p.X.Min, p.X.Max = -0.5, float64(len(scenarios))-0.5
		p.Legend.Top = true
		p.Legend.Left = true
		p.Legend.TextStyle.Font.Size = vg.Points(8)
		rows = append(rows, []*plot.Plot{p})
	}
	if len(rows) == 0 {
		return fmt.Errorf("%w: %s has no subject rows", errSkip, path)
	}
	return saveGrid(rows, 24*vg.Centimeter, vg.Length(len(rows))*11*vg.Centimeter, out)
}

// subjectColor keeps each family's colour across panels: ours, the scs
// native store, scs gormstore, wader; "_idle" variants a lighter shade.
func subjectColor(s string, k int) color.Color {
	base := map[string]color.RGBA{
		"ours":      {R: 0x1b, G: 0x9e, B: 0x77, A: 255},
		"scs":       {R: 0x75, G: 0x70, B: 0xb3, A: 255},
		"scs_gorm":  {R: 0xd9, G: 0x5f, B: 0x02, A: 255},
		"wader":     {R: 0xe7, G: 0x29, B: 0x8a, A: 255},
		"unmatched": {R: 0x66, G: 0x66, B: 0x66, A: 255},
	}
	var c color.RGBA
	switch {
	case s == "ours":
		c = base["ours"]
	case strings.HasPrefix(s, "scs_gormstore"):
		c = base["scs_gorm"]
	case strings.HasPrefix(s, "scs_"):
		c = base["scs"]
	case strings.HasPrefix(s, "wader"):
		c = base["wader"]
	default:
		return plotutil.Color(k)
	}
	if strings.HasSuffix(s, "_idle") {
		c.R, c.G, c.B = c.R/2+0x7f, c.G/2+0x7f, c.B/2+0x7f
	}
	return c
}

// scale draws p50 and p99 of each operation against the live rows, both
// axes logarithmic.
func scale(path, db, out string) error {
	t, err := readCSV(path, "op", "live", "p50_us", "p99_us")
	if err != nil {
		return err
	}
	type pts struct{ p50, p99 plotter.XYs }
	series := map[string]*pts{}
	var ops []string
	for _, r := range t.rows {
		op := t.str(r, "op")
		live, err := t.num(r, "live")
		if err != nil {
			return err
		}
		p50, err := t.num(r, "p50_us")
		if err != nil {
			return err
		}
		p99, err := t.num(r, "p99_us")
		if err != nil {
			return err
		}
		if live <= 0 || p50 <= 0 || p99 <= 0 {
			return fmt.Errorf("%s: live and latencies must be positive for the log axes", path)
		}
		if series[op] == nil {
			series[op] = &pts{}
			ops = append(ops, op)
		}
		series[op].p50 = append(series[op].p50, plotter.XY{X: live, Y: p50})
		series[op].p99 = append(series[op].p99, plotter.XY{X: live, Y: p99})
	}
	p := plot.New()
	p.Title.Text = "Latency per operation vs live sessions, " + dbTitle[db]
	p.X.Label.Text = "live sessions in the table (log scale)"
	p.Y.Label.Text = "latency (µs, log scale)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	p.Add(plotter.NewGrid())
	for i, op := range ops {
		s := series[op]
		for _, xs := range []plotter.XYs{s.p50, s.p99} {
			slices.SortFunc(xs, func(a, b plotter.XY) int { return int(math.Copysign(1, a.X-b.X)) })
		}
		for j, v := range []struct {
			name string
			xys  plotter.XYs
		}{{"p50", s.p50}, {"p99", s.p99}} {
			l, pt, err := plotter.NewLinePoints(v.xys)
			if err != nil {
				return err
			}
			l.Color, pt.Color = plotutil.Color(i), plotutil.Color(i)
			pt.Shape = plotutil.Shape(i)
			if j == 1 {
				l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
			}
			p.Add(l, pt)
			p.Legend.Add(op+" "+v.name, l, pt)
		}
	}
	// A decade of headroom above the highest point keeps the legend clear
	// of the lines.
	hi := 0.0
	for _, s := range series {
		for _, xy := range append(s.p50, s.p99...) {
			hi = max(hi, xy.Y)
		}
	}
	p.Y.Max = hi * 10
	p.Legend.Top = true
	p.Legend.Left = true
	return p.Save(18*vg.Centimeter, 12*vg.Centimeter, out)
}

// saveGrid draws plots aligned in a grid into one PNG.
func saveGrid(plots [][]*plot.Plot, w, h vg.Length, out string) error {
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(110))
	dc := draw.New(img)
	t := draw.Tiles{Rows: len(plots), Cols: len(plots[0]), PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 6,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align(plots, t, dc)
	for j := range plots {
		for i := range plots[j] {
			if plots[j][i] != nil {
				plots[j][i].Draw(canvases[j][i])
			}
		}
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
