package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gormsession/gormsession/model"
	"github.com/gormsession/gormsession/repository"
)

// Exit codes. Each class of failure has its own, so scripts and cron
// wrappers can tell a wrong setting from an outage.
const (
	exitOK          = 0   // success
	exitFailed      = 1   // the command failed while running (a database error)
	exitUsage       = 2   // unknown command or flag, missing DSN, bad flag value
	exitBadDSN      = 3   // the DSN has no accepted form, cannot be parsed or is not for --driver; --driver is unknown
	exitConnect     = 4   // the database cannot be reached or refused us; SQLite file missing
	exitNoTable     = 5   // the sessions table does not exist
	exitAborted     = 6   // revoke was not confirmed; nothing was deleted
	exitInterrupted = 130 // interrupted (SIGINT/SIGTERM) while running
)

// EnvDSN is the environment variable read when --dsn is not given.
const EnvDSN = "GORMSESSION_DSN"

// exitError is an error that carries its exit code. Its message is one line
// for stderr.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func fail(code int, format string, args ...any) error {
	return &exitError{code: code, msg: fmt.Sprintf(format, args...)}
}

// app is one invocation: its streams, environment and clock. Tests build
// one directly to fix the clock and pretend to be a terminal.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	now            func() time.Time
	// tty: stdout is a terminal, so cleanup redraws one progress line.
	tty bool
	// progressEvery is the least time between two progress updates.
	progressEvery time.Duration
	// secrets are strings (passwords) removed from every message printed.
	secrets []string
}

// run is main without the process: it parses args, runs the command and
// returns the exit code. Messages go to stdout; errors, prompts and
// progress lines that are not results go to stderr.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{
		stdin: stdin, stdout: stdout, stderr: stderr,
		getenv: os.Getenv, now: time.Now,
		tty: isTerminal(stdout), progressEvery: 10 * time.Second,
	}
	if a.tty {
		a.progressEvery = 100 * time.Millisecond
	}
	return a.run(ctx, args)
}

// isTerminal reports whether w is a character device such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func (a *app) run(ctx context.Context, args []string) int {
	a.secrets = append(a.secrets, argSecrets(args)...)
	err := a.dispatch(ctx, args)
	if err == nil {
		return exitOK
	}
	code := exitFailed
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		code = ee.code
	case ctx.Err() != nil:
		code = exitInterrupted
		err = fmt.Errorf("interrupted: %w", err)
	}
	fmt.Fprintln(a.stderr, "sessionctl: "+a.oneLine(err.Error()))
	return code
}

// argSecrets returns the arguments, or the values of -flag=value
// arguments, that may be a DSN holding a password: those with @, =, ; or
// ://. A message that echoes an argument (an unknown command, a misplaced
// DSN, a bad flag value) then shows xxxxx instead.
func argSecrets(args []string) []string {
	var s []string
	for _, arg := range args {
		if _, v, ok := strings.Cut(arg, "="); ok && strings.HasPrefix(arg, "-") {
			arg = v
		}
		if strings.ContainsAny(arg, "@=;") || strings.Contains(arg, "://") {
			s = append(s, arg)
		}
	}
	return s
}

// oneLine makes msg a single line without any known secret.
func (a *app) oneLine(msg string) string {
	for _, s := range a.secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
		}
	}
	// Drivers put one attempt per line (pgx tries TLS, then plain); keep
	// each distinct line once.
	var parts []string
	for _, l := range strings.Split(msg, "\n") {
		l = strings.Join(strings.Fields(l), " ")
		if l != "" && !slices.Contains(parts, l) {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, " ")
}

// command is one subcommand.
type command struct {
	name, summary, usage string
	// flags registers the command's own flags and returns its body.
	flags func(fs *flag.FlagSet) func(ctx context.Context, a *app, g *globals) error
}

var commands = []command{migrateCmd, cleanupCmd, statsCmd, revokeCmd}

func lookup(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// globals are the flags every command accepts, before or after its name.
type globals struct {
	dsn, driver, table string
	connectTimeout     time.Duration
	// offline: the command needs no connection when --driver names the
	// database (migrate --print-sql).
	offline bool
}

func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.dsn, "dsn", g.dsn, "database to connect to; default $"+EnvDSN)
	fs.StringVar(&g.driver, "driver", g.driver, "postgres, mysql or sqlite; default: detected from the DSN")
	fs.StringVar(&g.table, "table", g.table, "the sessions table")
	fs.DurationVar(&g.connectTimeout, "connect-timeout", g.connectTimeout, "how long to wait for the database to answer")
}

func (a *app) dispatch(ctx context.Context, args []string) error {
	g := &globals{table: model.TableDefault, connectTimeout: 10 * time.Second}
	top := flag.NewFlagSet("sessionctl", flag.ContinueOnError)
	top.SetOutput(io.Discard)
	g.register(top)
	if err := top.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			a.mainUsage(a.stdout)
			return nil
		}
		return fail(exitUsage, "%v (see sessionctl --help)", err)
	}
	rest := top.Args()
	if len(rest) == 0 {
		return fail(exitUsage, "no command given; the commands are migrate, cleanup, stats and revoke (see sessionctl --help)")
	}
	name := rest[0]
	if name == "help" {
		if len(rest) > 1 {
			if c, ok := lookup(rest[1]); ok {
				a.commandUsage(a.stdout, c)
				return nil
			}
			return fail(exitUsage, "unknown command %q (see sessionctl --help)", rest[1])
		}
		a.mainUsage(a.stdout)
		return nil
	}
	c, ok := lookup(name)
	if !ok {
		return fail(exitUsage, "unknown command %q (see sessionctl --help)", name)
	}
	fs := flag.NewFlagSet("sessionctl "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	g.register(fs)
	body := c.flags(fs)
	if err := fs.Parse(rest[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			a.commandUsage(a.stdout, c)
			return nil
		}
		return fail(exitUsage, "%s: %v (see sessionctl %s --help)", c.name, err, c.name)
	}
	if fs.NArg() > 0 {
		return fail(exitUsage, "%s: unexpected argument %q (see sessionctl %s --help)", c.name, fs.Arg(0), c.name)
	}
	if !repository.ValidTable(g.table) {
		return fail(exitUsage, "--table: %q is not [schema.]table, each a letter or _ then letters, digits or _ (the table at most 48 bytes)", g.table)
	}
	if f := fs.Lookup("print-sql"); f != nil && f.Value.String() == "true" {
		g.offline = true
	}
	if g.dsn == "" {
		g.dsn = a.getenv(EnvDSN)
	}
	if g.dsn == "" && !(g.offline && g.driver != "") {
		return fail(exitUsage, "no database: pass --dsn or set %s (see sessionctl --help)", EnvDSN)
	}
	if g.connectTimeout <= 0 {
		return fail(exitUsage, "--connect-timeout must be positive")
	}
	return body(ctx, a, g)
}

const dsnHelp = `DSN forms (--dsn, or the environment variable GORMSESSION_DSN):
  postgres://user:pass@host:5432/db?sslmode=disable   PostgreSQL (also postgresql://)
  host=db user=app dbname=app sslmode=disable         PostgreSQL, key=value form
  user:pass@tcp(host:3306)/db                         MySQL or MariaDB; also user:pass@/db,
                                                      user@unix(/run/mysqld.sock)/db, @(host)/db
  ./demo.db, file:PATH?params or :memory:             SQLite; a plain path holds none of @, = and ://
Surrounding spaces are ignored and URL schemes may be in any case. Any other
DSN (a mysql:// URL, an ADO-style Key=Value;... string) is refused with exit
code 3; no message shows it, nor any DSN's password.
A SQLite DSN without parameters is opened with the recommended ones:
  file:PATH?_journal_mode=WAL&_busy_timeout=10000&_txlock=immediate&_synchronous=NORMAL
--driver postgres|mysql|sqlite picks the driver; a DSN of another form is refused.`

const exitHelp = `Exit codes:
  0    success
  1    the command failed while running (a database error)
  2    usage: unknown command or flag, bad flag value, no DSN given
  3    bad DSN: no accepted form, cannot be parsed, or not for --driver;
       or --driver names no supported database
  4    cannot connect: unreachable, authentication refused, no such database,
       or (except for migrate) the SQLite file does not exist
  5    the sessions table does not exist (create it: sessionctl migrate)
  6    revoke was not confirmed; nothing was deleted
  130  interrupted`

func (a *app) mainUsage(w io.Writer) {
	fmt.Fprintln(w, `sessionctl operates a gormsession sessions table.

Usage:
  sessionctl <command> [flags]
  sessionctl help <command>

Commands:`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, `
Flags of every command (before or after the command's name):
  --dsn string                database to connect to; default $GORMSESSION_DSN
  --driver string             postgres, mysql or sqlite; default: detected from the DSN
  --table string              the sessions table (default "sessions")
  --connect-timeout duration  how long to wait for the database to answer (default 10s)

`+dsnHelp+`

`+exitHelp+`

Flags take one dash or two (-dsn or --dsn). Run "sessionctl <command> --help" for a command's flags.`)
}

func (a *app) commandUsage(w io.Writer, c command) {
	fmt.Fprintf(w, "sessionctl %s: %s\n\nUsage:\n  %s\n\nFlags:\n", c.name, c.summary, c.usage)
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	g := &globals{table: model.TableDefault, connectTimeout: 10 * time.Second}
	g.register(fs)
	c.flags(fs)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprintln(w, "\n"+dsnHelp+"\n\n"+exitHelp)
}
