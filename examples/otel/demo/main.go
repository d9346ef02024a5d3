// Command demo shows package sessionotel at work: it runs a few requests'
// worth of session operations (a cart, a login, a lost race, a logout, a
// cleanup) against a SQLite file, each request under a span of its own,
// and prints the spans and then the metrics with OpenTelemetry's stdout
// exporters:
//
//	cd examples/otel && go run ./demo
//	cd examples/otel && go run ./demo -db sessions.db   # keep the file
//
// In an application, point the providers at your collector (the OTLP
// exporters) instead, and let your HTTP instrumentation start the request
// spans.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	sessionotel "github.com/gormsession/gormsession/examples/otel"
	"github.com/gormsession/gormsession/session"
)

// Cart is the session payload.
type Cart struct {
	Items []string `json:"items"`
}

func main() {
	path := flag.String("db", "", "SQLite file to keep sessions in (default: a temporary file, removed at exit)")
	flag.Parse()
	if err := run(context.Background(), os.Stdout, *path); err != nil {
		log.Fatal(err)
	}
}

// run does the demo, printing spans and metrics to w. An empty path means
// a temporary SQLite file.
func run(ctx context.Context, w io.Writer, path string) (err error) {
	if path == "" {
		dir, err := os.MkdirTemp("", "gormsession-otel-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "sessions.db")
	}

	// The SDK, with the stdout exporters: spans are printed as they end,
	// metrics once, at shutdown.
	res := resource.NewSchemaless(attribute.String("service.name", "gormsession-otel-demo"))
	spanOut, err := stdouttrace.New(stdouttrace.WithWriter(w), stdouttrace.WithPrettyPrint())
	if err != nil {
		return err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spanOut), sdktrace.WithResource(res))
	metricOut, err := stdoutmetric.New(stdoutmetric.WithWriter(w), stdoutmetric.WithPrettyPrint())
	if err != nil {
		return err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res),
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metricOut, sdkmetric.WithInterval(time.Hour))))
	defer func() {
		// Flush: the metrics are exported here.
		err = errors.Join(err, tp.Shutdown(ctx), mp.Shutdown(ctx))
	}()

	obs, err := sessionotel.New(sessionotel.WithTracerProvider(tp), sessionotel.WithMeterProvider(mp))
	if err != nil {
		return err
	}
	db, err := gorm.Open(sqlite.Open(session.SQLiteDSN(path)), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	defer sqlDB.Close()
	carts, err := session.New[Cart](db, session.WithObserver(obs.Observe))
	if err != nil {
		return err
	}
	defer carts.Close()

	// request stands in for the HTTP instrumentation: it runs fn under a
	// server span, as otelhttp would.
	tracer := tp.Tracer("demo")
	request := func(name string, fn func(ctx context.Context) error) error {
		ctx, span := tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		return fn(ctx)
	}

	var tok string
	err = errors.Join(
		request("POST /cart", func(ctx context.Context) error {
			s, err := carts.Open(ctx, "") // no cookie yet: a new session
			if err != nil {
				return err
			}
			s.Data.Items = append(s.Data.Items, "teapot")
			tok = s.Token()
			return carts.Save(ctx, s)
		}),
		request("POST /login", func(ctx context.Context) error {
			s, err := carts.Load(ctx, tok)
			if err != nil {
				return err
			}
			s.SetSubject("user:42")
			if err := carts.Renew(ctx, s); err != nil { // fixation defence
				return err
			}
			tok = s.Token()
			return nil
		}),
		request("POST /cart (two tabs)", func(ctx context.Context) error {
			a, err := carts.Load(ctx, tok)
			if err != nil {
				return err
			}
			b, err := carts.Load(ctx, tok)
			if err != nil {
				return err
			}
			a.Data.Items = append(a.Data.Items, "cups")
			if err := carts.Save(ctx, a); err != nil {
				return err
			}
			b.Data.Items = append(b.Data.Items, "saucers")
			if err := carts.Save(ctx, b); !errors.Is(err, session.ErrConflict) {
				return fmt.Errorf("want a conflict, got %v", err)
			}
			// The span of that save has status Error, "conflict"; Update
			// retries instead.
			_, err = carts.Update(ctx, tok, func(c *Cart) error {
				c.Items = append(c.Items, "saucers")
				return nil
			})
			return err
		}),
		request("POST /logout", func(ctx context.Context) error {
			s, err := carts.Load(ctx, tok)
			if err != nil {
				return err
			}
			return carts.Destroy(ctx, s)
		}),
	)
	if err != nil {
		return err
	}
	// A cleanup, as sessionctl or a timer would run it: a root span.
	_, err = carts.Cleanup(ctx)
	return err
}
