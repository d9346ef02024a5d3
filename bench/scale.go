package bench

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"github.com/gormsession/gormsession/session"
)

// Scale operations, in report order: one load, one save of a loaded
// session, and one load-modify-save by each of 32 goroutines at once.
const (
	ScaleLoad  = "load"
	ScaleSave  = "save"
	ScaleMix32 = "mix32"
)

// ScaleOps lists the operations a scale run times.
var ScaleOps = []string{ScaleLoad, ScaleSave, ScaleMix32}

// ScaleTable is one gormsession table with a known number of live
// sessions, for measuring how the cost of an operation grows with the
// table.
type ScaleTable struct {
	Table string
	Live  int
	C     *session.Container[Payload]
	// Keys are the tokens of every live session, in insertion order.
	Keys []string
}

// NewScaleTable (re)creates table on db with gormsession's own migration
// and default options, and bulk-inserts live sessions in the library's
// row format (hashed id, JSON payload, version 1, Unix-millisecond times)
// in multi-row INSERTs of 500 rows. progress, when not nil, is called
// after every 100,000 rows.
func NewScaleTable(ctx context.Context, ns *NS, db *gorm.DB, table string, live int, progress func(done int)) (*ScaleTable, error) {
	if err := ns.Exec(ctx, "DROP TABLE IF EXISTS "+table); err != nil {
		return nil, err
	}
	c, err := session.New[Payload](db, session.WithTable(table), session.WithLifetime(Lifetime))
	if err != nil {
		return nil, err
	}
	st := &ScaleTable{Table: table, Live: live, C: c, Keys: make([]string, live)}
	for i := range st.Keys {
		st.Keys[i] = NewToken()
	}
	now := time.Now()
	created, exp := now.UnixMilli(), now.Add(Lifetime).UnixMilli()
	cols := []string{"id", "subject", "payload", "version", "created_at", "updated_at", "deadline", "expires_at"}
	const chunk = 100000
	for start := 0; start < live; start += chunk {
		n := min(chunk, live-start)
		err := ns.BulkInsert(ctx, table, cols, n, func(i int) []any {
			b, _ := json.Marshal(SamplePayload(start + i))
			return []any{StoredID(st.Keys[start+i]), "", b, 1, created, created, exp, exp}
		})
		if err != nil {
			return nil, err
		}
		if progress != nil {
			progress(start + n)
		}
	}
	return st, ns.Analyze(ctx, table)
}

// ScaleSample is the latency of every operation of one timed run.
type ScaleSample struct {
	Op  string
	Lat []time.Duration // sorted
	Ops int
}

// Quantile returns the q-quantile (0..1) of the sample's latencies.
func (s ScaleSample) Quantile(q float64) time.Duration {
	if len(s.Lat) == 0 {
		return 0
	}
	i := int(q * float64(len(s.Lat)))
	return s.Lat[min(i, len(s.Lat)-1)]
}

// RunScale times op on t for about d and returns every operation's
// latency. load opens random live sessions; save stores a changed payload
// in one of 256 sessions opened beforehand at random places in the table;
// mix32 runs 32 goroutines, each loading, changing and saving sessions of
// its own, and times each load-and-save.
func (t *ScaleTable) RunScale(ctx context.Context, op string, d time.Duration, seed uint64) (ScaleSample, error) {
	rng := rand.New(rand.NewPCG(seed, uint64(t.Live)))
	res := ScaleSample{Op: op}
	var deadline time.Time
	open := func(k string) (*session.Session[Payload], error) {
		s, err := t.C.Open(ctx, k)
		if err == nil && s.IsNew() {
			err = errMissing
		}
		return s, err
	}
	switch op {
	case ScaleLoad:
		deadline = time.Now().Add(d)
		for time.Now().Before(deadline) {
			k := t.Keys[rng.IntN(len(t.Keys))]
			start := time.Now()
			if _, err := open(k); err != nil {
				return res, err
			}
			res.Lat = append(res.Lat, time.Since(start))
		}
	case ScaleSave:
		// 256 distinct sessions (a stride coprime with the table size).
		hs := make([]*session.Session[Payload], 256)
		off := rng.IntN(len(t.Keys))
		for i := range hs {
			s, err := open(t.Keys[(off+i*7919)%len(t.Keys)])
			if err != nil {
				return res, err
			}
			hs[i] = s
		}
		deadline = time.Now().Add(d)
		for i := 0; time.Now().Before(deadline); i++ {
			s := hs[i%len(hs)]
			s.Data.Visits++
			start := time.Now()
			if err := t.C.Save(ctx, s); err != nil {
				return res, err
			}
			res.Lat = append(res.Lat, time.Since(start))
		}
	case ScaleMix32:
		const g = 32
		// Goroutine j takes the keys j, j+32, j+64, ... from a random
		// starting point, so no two goroutines share a session and no save
		// loses a race.
		off := rng.IntN(len(t.Keys))
		deadline = time.Now().Add(d)
		var mu sync.Mutex
		var failed atomic.Pointer[error]
		var wg sync.WaitGroup
		for j := range g {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var lat []time.Duration
				defer func() {
					mu.Lock()
					res.Lat = append(res.Lat, lat...)
					mu.Unlock()
				}()
				for i := j; time.Now().Before(deadline) && failed.Load() == nil; i += g {
					k := t.Keys[(off+i*7919)%len(t.Keys)]
					start := time.Now()
					s, err := open(k)
					if err == nil {
						s.Data.Visits++
						err = t.C.Save(ctx, s)
					}
					if err != nil {
						failed.CompareAndSwap(nil, &err)
						return
					}
					lat = append(lat, time.Since(start))
				}
			}()
		}
		wg.Wait()
		if e := failed.Load(); e != nil {
			return res, *e
		}
	default:
		return res, errors.New("bench: unknown scale operation " + op)
	}
	slices.Sort(res.Lat)
	res.Ops = len(res.Lat)
	return res, nil
}
