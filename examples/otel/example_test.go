package sessionotel_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	sessionotel "github.com/gormsession/gormsession/examples/otel"
	"github.com/gormsession/gormsession/session"
)

// A container whose operations become spans under the request's span.
// The spans go to an in-memory recorder here; in an application, use the
// SDK with an OTLP exporter, or leave out the options to use the global
// providers.
func Example() {
	dir, err := os.MkdirTemp("", "sessionotel-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := gorm.Open(sqlite.Open(session.SQLiteDSN(filepath.Join(dir, "sessions.db"))), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		log.Fatal(err)
	}
	if sqlDB, err := db.DB(); err == nil {
		defer sqlDB.Close()
	}

	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	obs, err := sessionotel.New(sessionotel.WithTracerProvider(tp))
	if err != nil {
		log.Fatal(err)
	}
	carts, err := session.New[Cart](db, session.WithObserver(obs.Observe))
	if err != nil {
		log.Fatal(err)
	}
	defer carts.Close()

	ctx, request := tp.Tracer("app").Start(context.Background(), "POST /cart")
	s, err := carts.Open(ctx, "")
	if err != nil {
		log.Fatal(err)
	}
	s.Data.Items = append(s.Data.Items, "teapot")
	if err := carts.Save(ctx, s); err != nil {
		log.Fatal(err)
	}
	request.End()

	for _, sp := range spans.Ended() {
		parent := "root"
		if sp.Parent().SpanID() == request.SpanContext().SpanID() {
			parent = "child of the request"
		}
		fmt.Printf("%s (%s)", sp.Name(), parent)
		for _, kv := range sp.Attributes() {
			fmt.Printf(" %s=%s", kv.Key, kv.Value.String())
		}
		fmt.Println()
	}
	// Output:
	// gormsession.open (child of the request) gormsession.op=open gormsession.table=sessions gormsession.outcome=ok gormsession.new=true
	// gormsession.save (child of the request) gormsession.op=save gormsession.table=sessions gormsession.outcome=ok gormsession.new=true
	// POST /cart (root)
}
