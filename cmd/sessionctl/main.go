// Command sessionctl operates a gormsession sessions table from the shell:
// create it (migrate), delete expired sessions (cleanup), show what it holds
// (stats) and log users out (revoke). It works on rows, through packages
// repository and model only, so it needs no payload type and works on any
// application's table.
//
//	go run ./cmd/sessionctl stats --dsn ./demo.db
//	sessionctl cleanup --dsn "host=db user=app dbname=app" --batch-size 5000
//	GORMSESSION_DSN="app:secret@tcp(db:3306)/app" sessionctl revoke --subject user:42
//
// Run "sessionctl --help" for the commands, DSN forms and exit codes.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills the process at once
	}()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
