// Command cleanprobe times each batch of gormsession's cleanup on one
// database, for investigating cleanup cost (not part of the report).
package main

import (
	"context"
	"flag"
	"log"
	"time"

	"github.com/gormsession/gormsession/bench"
	"github.com/gormsession/gormsession/repository"
)

func main() {
	dialect := flag.String("db", "mysql", "database")
	batch := flag.Int("batch", 1000, "batch size")
	n := flag.Int("n", 100000, "expired rows")
	flag.Parse()
	ctx := context.Background()
	env := bench.EnvFromEnvironment()
	ns, err := env.Namespace(ctx, *dialect, "cleanprobe")
	if err != nil {
		log.Fatal(err)
	}
	defer ns.Drop(ctx)
	var f bench.Factory
	for _, x := range bench.Subjects() {
		if x.Name == "ours" {
			f = x
		}
	}
	s, err := f.New(ctx, ns)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	if err := s.Reset(ctx); err != nil {
		log.Fatal(err)
	}
	if _, err := s.Seed(ctx, *n, time.Now().Add(time.Hour)); err != nil {
		log.Fatal(err)
	}
	if _, err := s.Seed(ctx, *n, time.Now().Add(-time.Hour)); err != nil {
		log.Fatal(err)
	}
	db, err := ns.Gorm(nil)
	if err != nil {
		log.Fatal(err)
	}
	repo, err := repository.New(db, "bench_gormsession")
	if err != nil {
		log.Fatal(err)
	}
	var took []time.Duration
	start := time.Now()
	total, err := repo.Cleanup(ctx, time.Now(), repository.CleanupOptions{BatchSize: *batch,
		OnBatch: func(_ int64, d time.Duration) { took = append(took, d) }})
	log.Printf("deleted %d in %v (%d batches), err %v", total, time.Since(start), len(took), err)
	for i, d := range took {
		if i < 3 || i%(len(took)/5+1) == 0 || i == len(took)-1 {
			log.Printf("batch %d: %v", i, d)
		}
	}
}
