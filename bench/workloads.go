package bench

import (
	"context"
	"errors"
	"log"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Workload names, in report order.
const (
	WCreate = "create"
	WLoad   = "load"
	WSave   = "save"
	WMix8   = "mix8"
	WMix32  = "mix32"
)

// Workloads lists the timed workloads (a)-(d); cleanup (e) is RunCleanup.
var Workloads = []string{WCreate, WLoad, WSave, WMix8, WMix32}

// Bench returns the benchmark function of workload w on s, whose live
// sessions are keys.
func Bench(ctx context.Context, w string, s Subject, keys []string) func(*testing.B) {
	switch w {
	case WCreate:
		return func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Create(ctx); err != nil {
					fail(b, s, err)
				}
			}
		}
	case WLoad:
		return func(b *testing.B) {
			b.ReportAllocs()
			rng := rand.New(rand.NewPCG(1, 2))
			for b.Loop() {
				if err := s.Load(ctx, keys[rng.IntN(len(keys))]); err != nil {
					fail(b, s, err)
				}
			}
		}
	case WSave:
		return func(b *testing.B) {
			b.ReportAllocs()
			// Sessions loaded before the clock starts; each op changes the
			// payload of one and saves it.
			hs := make([]any, 256)
			for i := range hs {
				h, err := s.Open(ctx, keys[len(keys)-1-i])
				if err != nil {
					fail(b, s, err)
				}
				hs[i] = h
			}
			i := 0
			for b.Loop() {
				if err := s.Save(ctx, hs[i%len(hs)]); err != nil {
					fail(b, s, err)
				}
				i++
			}
		}
	case WMix8, WMix32:
		g := 8
		if w == WMix32 {
			g = 32
		}
		return func(b *testing.B) {
			b.ReportAllocs()
			procs := runtime.GOMAXPROCS(0)
			b.SetParallelism((g + procs - 1) / procs)
			// A stride coprime with len(keys) gives every goroutine its own
			// session, so no save loses a race.
			var next atomic.Int64
			next.Store(rand.Int64N(int64(len(keys))))
			var failed atomic.Pointer[error]
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					k := keys[int(next.Add(1)*7919%int64(len(keys)))]
					h, err := s.Open(ctx, k)
					if err == nil {
						err = s.Save(ctx, h)
					}
					if err != nil {
						failed.CompareAndSwap(nil, &err)
						return
					}
				}
			})
			if e := failed.Load(); e != nil {
				fail(b, s, *e)
			}
		}
	}
	panic("bench: unknown workload " + w)
}

// fail stops b, logging err first: testing.Benchmark, which the driver
// uses, drops a benchmark's own output.
func fail(b *testing.B, s Subject, err error) {
	log.Printf("%s: %s: %v", b.Name(), s.Name(), err)
	b.Fatal(err)
}

// CleanupResult is one run of workload (e).
type CleanupResult struct {
	Deleted   int64
	Took      time.Duration
	Writes    int
	WriterMax time.Duration
	WriterP99 time.Duration
}

// RunCleanup seeds expired sessions next to the live ones and runs s's
// cleanup while one goroutine keeps saving live sessions, timing each save.
func RunCleanup(ctx context.Context, s Subject, live []string, expired int) (CleanupResult, error) {
	var res CleanupResult
	// Open the writer's sessions first: with gormsession an open may fire
	// the random cleanup, which must not see the expired rows.
	hs := make([]any, 64)
	for i := range hs {
		h, err := s.Open(ctx, live[i*97%len(live)])
		if err != nil {
			return res, err
		}
		hs[i] = h
	}
	if q, ok := s.(interface{ Quiesce() }); ok {
		q.Quiesce()
	}
	if _, err := s.Seed(ctx, expired, time.Now().Add(-time.Hour)); err != nil {
		return res, err
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var lat []time.Duration
	var werr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			t := time.Now()
			if err := s.Save(ctx, hs[i%len(hs)]); err != nil {
				werr = err
				return
			}
			lat = append(lat, time.Since(t))
		}
	}()
	time.Sleep(20 * time.Millisecond) // the writer is running before the cleanup starts
	start := time.Now()
	n, err := s.Cleanup(ctx)
	res.Took = time.Since(start)
	close(stop)
	wg.Wait()
	if err != nil {
		return res, err
	}
	if werr != nil {
		return res, errors.Join(errors.New("concurrent writer"), werr)
	}
	if n < 0 {
		n = int64(expired)
	}
	res.Deleted, res.Writes = n, len(lat)
	slices.Sort(lat)
	if len(lat) > 0 {
		res.WriterMax = lat[len(lat)-1]
		res.WriterP99 = lat[(len(lat)*99)/100]
	}
	return res, nil
}
