package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/gormsession/gormsession/bench"
)

// layout is one SQLite table layout of the insert experiment.
type layout struct {
	name, what string
	ddl        string // {t} is the table
	key        func(i int) any
}

var hexKey = func(i int) any {
	sum := sha256.Sum256([]byte(bench.NewToken()))
	return hex.EncodeToString(sum[:])
}

// layouts: gormsession's table (WITHOUT ROWID, random hex SHA-256 key),
// the same columns in a rowid table (the key in a separate unique index),
// the same WITHOUT ROWID table with keys arriving in order, and a
// WITHOUT ROWID table keyed by the 32 raw bytes of the hash.
var layouts = []layout{
	{"without_rowid_hex", "WITHOUT ROWID, id = random hex SHA-256 (gormsession today)",
		`CREATE TABLE {t} (id TEXT NOT NULL PRIMARY KEY, subject TEXT NOT NULL DEFAULT '', payload BLOB NOT NULL, version INTEGER NOT NULL,
		created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, deadline INTEGER NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID`, hexKey},
	{"rowid_hex", "rowid table, id = random hex SHA-256 in its own unique index",
		`CREATE TABLE {t} (id TEXT NOT NULL UNIQUE, subject TEXT NOT NULL DEFAULT '', payload BLOB NOT NULL, version INTEGER NOT NULL,
		created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, deadline INTEGER NOT NULL, expires_at INTEGER NOT NULL)`, hexKey},
	{"without_rowid_ordered", "WITHOUT ROWID, id = hex counter (keys arrive in order; not an option for secrets, a yardstick)",
		`CREATE TABLE {t} (id TEXT NOT NULL PRIMARY KEY, subject TEXT NOT NULL DEFAULT '', payload BLOB NOT NULL, version INTEGER NOT NULL,
		created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, deadline INTEGER NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID`, nil},
	{"without_rowid_blob", "WITHOUT ROWID, id = random SHA-256 as 32-byte BLOB",
		`CREATE TABLE {t} (id BLOB NOT NULL PRIMARY KEY, subject TEXT NOT NULL DEFAULT '', payload BLOB NOT NULL, version INTEGER NOT NULL,
		created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, deadline INTEGER NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID`,
		func(int) any { sum := sha256.Sum256([]byte(bench.NewToken())); return sum[:] }},
}

// insertExperiment fills one table per layout with n rows, then times
// single-row inserts (the library's INSERT of a new session) and point
// loads by id on each, interleaved over passes.
func insertExperiment(ctx context.Context, ns *bench.NS, n, passes int) error {
	payload, _ := json.Marshal(bench.SamplePayload(0))
	now := time.Now().UnixMilli()
	exp := now + bench.Lifetime.Milliseconds()
	cols := []string{"id", "subject", "payload", "version", "created_at", "updated_at", "deadline", "expires_at"}
	counter := map[string]int{}
	nextKey := func(l layout) any {
		if l.key != nil {
			return l.key(0)
		}
		counter[l.name]++
		return fmt.Sprintf("%064x", counter[l.name])
	}
	sample := map[string][]any{} // keys to load
	for _, l := range layouts {
		t := "ins_" + l.name
		if err := ns.Exec(ctx, "DROP TABLE IF EXISTS "+t, strings.ReplaceAll(l.ddl, "{t}", t),
			"CREATE INDEX "+t+"_exp ON "+t+" (expires_at)", "CREATE INDEX "+t+"_sub ON "+t+" (subject) WHERE subject <> ''"); err != nil {
			return err
		}
		t0 := time.Now()
		// One prepared single-row INSERT per row, 50,000 rows per
		// transaction: on SQLite as fast as multi-row INSERTs, and the
		// layouts differ only in where each row lands.
		q := "INSERT INTO " + t + " (" + strings.Join(cols, ", ") + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
		for start := 0; start < n; start += 50000 {
			tx, err := ns.SQL.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			st, err := tx.PrepareContext(ctx, q)
			if err != nil {
				_ = tx.Rollback()
				return err
			}
			for i := start; i < min(n, start+50000); i++ {
				k := nextKey(l)
				if i%(n/1000+1) == 0 {
					sample[l.name] = append(sample[l.name], k)
				}
				if _, err := st.ExecContext(ctx, k, "", payload, 1, now, now, exp, exp); err != nil {
					_ = tx.Rollback()
					return err
				}
			}
			_ = st.Close()
			if err := tx.Commit(); err != nil {
				return err
			}
		}
		log.Printf("filled %s with %d rows in %v", t, n, time.Since(t0).Round(time.Millisecond))
	}
	if err := ns.Exec(ctx, "ANALYZE"); err != nil {
		return err
	}
	const d = time.Second
	ins := map[string][]float64{}
	load := map[string][]float64{}
	rng := rand.New(rand.NewPCG(7, 8))
	for pass := range passes {
		for k := range layouts {
			l := layouts[(k+pass)%len(layouts)]
			t := "ins_" + l.name
			q := "INSERT INTO " + t + " (" + strings.Join(cols, ", ") + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
			var lat []time.Duration
			for end := time.Now().Add(d); time.Now().Before(end); {
				key := nextKey(l)
				start := time.Now()
				if _, err := ns.SQL.ExecContext(ctx, q, key, "", payload, 1, now, now, exp, exp); err != nil {
					return err
				}
				lat = append(lat, time.Since(start))
			}
			ins[l.name] = append(ins[l.name], medianDur(lat))
			lq := "SELECT subject, payload, version, created_at, updated_at, deadline, expires_at FROM " + t + " WHERE id = ? AND expires_at > ?"
			lat = lat[:0]
			for end := time.Now().Add(d); time.Now().Before(end); {
				key := sample[l.name][rng.IntN(len(sample[l.name]))]
				var sub string
				var p []byte
				var v, c, u, dl, e int64
				start := time.Now()
				if err := ns.SQL.QueryRowContext(ctx, lq, key, now).Scan(&sub, &p, &v, &c, &u, &dl, &e); err != nil {
					return err
				}
				lat = append(lat, time.Since(start))
			}
			load[l.name] = append(load[l.name], medianDur(lat))
			log.Printf("pass %d %-22s insert %.1f µs  load %.1f µs", pass+1, l.name, ins[l.name][pass], load[l.name][pass])
		}
	}
	var pages int64
	_ = ns.SQL.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages)
	base := layouts[1].name
	fmt.Printf("## SQLite insert experiment: %d rows per table before the timed inserts, %d passes, median µs per single-row statement (load %s)\n\n", n, passes, loadavg())
	fmt.Printf("| layout | insert µs | insert vs rowid table | load µs | load vs rowid table |\n| --- | --- | --- | --- | --- |\n")
	for _, l := range layouts {
		fmt.Printf("| %s: %s | %.1f | %.2f | %.1f | %.2f |\n", l.name, l.what, median(ins[l.name]), median(ins[l.name])/median(ins[base]),
			median(load[l.name]), median(load[l.name])/median(load[base]))
	}
	fmt.Println()
	return nil
}

func medianDur(v []time.Duration) float64 {
	if len(v) == 0 {
		return 0
	}
	c := slices.Clone(v)
	slices.Sort(c)
	return us(c[len(c)/2])
}
