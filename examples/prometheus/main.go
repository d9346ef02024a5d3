// Command prometheus shows gormsession's Observer hook exporting metrics to
// Prometheus. It serves a page that counts your visits in a session kept in
// a SQLite file, and the metrics on /metrics:
//
//	cd examples/prometheus && go run . -addr localhost:8080
//	curl -c jar -b jar localhost:8080/   # a few times
//	curl localhost:8080/metrics | grep gormsession_
//
// This example is a Go module of its own so that the library's go.mod never
// lists the Prometheus client.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/gormsession/gormsession/model"
	"github.com/gormsession/gormsession/session"
)

// Visits is the session payload.
type Visits struct {
	Count int `json:"count"`
}

const cookieName = "visits"

func main() {
	addr := flag.String("addr", "localhost:8080", "address to listen on")
	path := flag.String("db", "prometheus.db", "SQLite file to keep sessions in")
	flag.Parse()

	db, err := gorm.Open(sqlite.Open(session.SQLiteDSN(*path)), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		log.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	visits, err := newContainer(db, reg)
	if err != nil {
		log.Fatal(err)
	}
	defer visits.Close() // at shutdown: stop and wait for the random cleanup

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("GET /{$}", countVisits(visits))
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Printf("listening on http://%s (metrics on /metrics)", *addr)
	log.Fatal(srv.ListenAndServe())
}

// newContainer makes the Visits container with its metrics registered in
// reg.
func newContainer(db *gorm.DB, reg prometheus.Registerer, opts ...session.Option) (*session.Container[Visits], error) {
	m, err := NewMetrics(reg, model.TableDefault)
	if err != nil {
		return nil, err
	}
	return session.New[Visits](db, append([]session.Option{session.WithObserver(m.Observe)}, opts...)...)
}

// countVisits counts the visitor's requests in their session.
func countVisits(visits *session.Container[Visits]) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var tok string
		if c, err := r.Cookie(cookieName); err == nil {
			tok = c.Value
		}
		s, err := visits.Open(r.Context(), tok)
		if err != nil {
			http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
			return
		}
		s.Data.Count++
		if err := visits.Save(r.Context(), s); err != nil {
			status := http.StatusInternalServerError
			if errors.Is(err, session.ErrConflict) {
				status = http.StatusConflict // another request of this visitor saved first
			}
			http.Error(w, http.StatusText(status), status)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: cookieName, Value: s.Token(), Path: "/", HttpOnly: true,
			SameSite: http.SameSiteLaxMode, Expires: s.ExpiresAt()})
		fmt.Fprintf(w, "visits: %d\n", s.Data.Count)
	})
}
