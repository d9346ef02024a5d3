package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/gormsession/gormsession/model"
	"github.com/gormsession/gormsession/repository"
)

var migrateCmd = command{
	name:    "migrate",
	summary: "create the sessions table and its indexes if they are missing",
	usage: `sessionctl migrate [--dsn DSN] [--table NAME] [--print-sql]

Idempotent and safe to run from several processes at once (the same
statements session.New runs), and it brings a table of an earlier release
up to date. Use it at deploy time together with session.WithoutAutoMigrate().
For SQLite it creates the file if needed. The table may be qualified by a
schema on PostgreSQL and MySQL: --table auth.sessions.

--print-sql prints the SQL instead of running it, for migration tools
(goose, golang-migrate, atlas) and review: the statements that create the
table, then, as comments, the ones that upgrade a table of the previous
release. It connects to nothing: the database is --driver's, or follows
from the form of the DSN.`,
	flags: func(fs *flag.FlagSet) func(context.Context, *app, *globals) error {
		printSQL := fs.Bool("print-sql", false, "print the SQL for --driver (or the DSN's database) instead of running it")
		return func(ctx context.Context, a *app, g *globals) error {
			if *printSQL {
				return a.printSQL(g)
			}
			db, t, closer, err := a.connect(ctx, g, true)
			if err != nil {
				return err
			}
			defer closer()
			repo, err := repository.New(db, g.table)
			if err != nil {
				return fail(exitUsage, "%v", err)
			}
			existed, err := repo.TableExists(ctx)
			if err != nil {
				return err
			}
			if err := repo.Migrate(ctx); err != nil {
				return fmt.Errorf("migrate: %w", err)
			}
			if existed {
				fmt.Fprintf(a.stdout, "table %q already exists in %s; indexes checked\n", g.table, t.where)
			} else {
				fmt.Fprintf(a.stdout, "table %q created in %s\n", g.table, t.where)
			}
			return nil
		}
	},
}

// printSQL writes the schema SQL of g's table for g's database.
func (a *app) printSQL(g *globals) error {
	d := detectDriver(g.dsn)
	if g.driver != "" {
		var ok bool
		if d, ok = driverFlag(g.driver); !ok {
			return fail(exitBadDSN, "--driver %q: want postgres, mysql or sqlite", g.driver)
		}
	}
	if d == "" {
		return fail(exitBadDSN, "bad DSN: not a PostgreSQL, MySQL or SQLite DSN; or pass --driver (see sessionctl --help)")
	}
	create, upgrade, err := repository.SchemaSQL(string(d), g.table)
	if err != nil {
		return fail(exitUsage, "migrate: --table %q on %s: %v", g.table, d, err)
	}
	fmt.Fprintf(a.stdout, "-- gormsession sessions table %q for %s: the statements session.New and sessionctl migrate run.\n", g.table, d)
	for _, q := range create {
		fmt.Fprintf(a.stdout, "%s;\n\n", q)
	}
	fmt.Fprintln(a.stdout, "-- To upgrade a table made by the previous release instead, run once:")
	for _, q := range upgrade {
		fmt.Fprintf(a.stdout, "-- %s;\n", q)
	}
	return nil
}

var cleanupCmd = command{
	name:    "cleanup",
	summary: "delete expired sessions in batches",
	usage: `sessionctl cleanup [--batch-size N] [--batch-timeout D] [--pause D] [--dry-run]

Deletes every session expired now, in batches sized by time for the
database (each aims at a short duration on SQLite, where a batch holds the
only write lock, and a longer one on PostgreSQL, where it blocks no writer),
at most --batch-size rows each when given, until none is left. A live session is never deleted. Run it from cron
(and set session.WithCleanupFrequency(0) in the application) to take the
cleanup off the request path. On a terminal it shows the rows deleted, the
rate and the time elapsed as it goes; otherwise it prints a plain line at
most every 10 seconds and one at the end. --dry-run only counts.`,
	flags: func(fs *flag.FlagSet) func(context.Context, *app, *globals) error {
		batch := fs.Int("batch-size", 0, "cap on the rows one batch deletes (1 to 100000); 0: batches sized by time alone")
		batchTimeout := fs.Duration("batch-timeout", 30*time.Second, "bound on each batch; 0 for none")
		pause := fs.Duration("pause", 0, "sleep between batches, to let other writers in; 0: the database's default (a few ms on SQLite)")
		dry := fs.Bool("dry-run", false, "count the expired sessions, delete nothing")
		return func(ctx context.Context, a *app, g *globals) error {
			if *batch < 0 || *batch > 100000 {
				return fail(exitUsage, "cleanup: --batch-size must be 0 (sized by time) to 100000, got %d", *batch)
			}
			if *batchTimeout < 0 || *pause < 0 {
				return fail(exitUsage, "cleanup: --batch-timeout and --pause must not be negative")
			}
			repo, _, closer, err := a.open(ctx, g)
			if err != nil {
				return err
			}
			defer closer()
			now := a.now()
			if *dry {
				st, err := repo.Stats(ctx, now, 0)
				if err != nil {
					return fmt.Errorf("cleanup: count: %w", err)
				}
				n := st.Expired
				fmt.Fprintf(a.stdout, "dry run: %d expired %s in table %q would be deleted, in batches of %d; nothing deleted\n",
					n, plural(n, "session", "sessions"), g.table, *batch)
				return nil
			}
			p := &progress{a: a, start: now, last: now}
			total, err := repo.Cleanup(ctx, now, repository.CleanupOptions{
				BatchSize: *batch, BatchTimeout: *batchTimeout, Pause: *pause, OnBatch: p.batch,
			})
			p.finish()
			elapsed := a.now().Sub(now)
			if err != nil {
				return fmt.Errorf("cleanup: stopped after deleting %d %s: %w", total, plural(total, "row", "rows"), err)
			}
			fmt.Fprintf(a.stdout, "deleted %d expired %s from table %q in %s%s\n",
				total, plural(total, "session", "sessions"), g.table, roundDuration(elapsed), rate(total, elapsed))
			return nil
		}
	},
}

// progress reports a running cleanup: on a terminal one line redrawn in
// place, otherwise a plain line now and then.
type progress struct {
	a           *app
	start, last time.Time
	total       int64
	batches     int
	drawn       bool
}

func (p *progress) batch(deleted int64, _ time.Duration) {
	p.total += deleted
	p.batches++
	now := p.a.now()
	if now.Sub(p.last) < p.a.progressEvery {
		return
	}
	p.last = now
	elapsed := now.Sub(p.start)
	if p.a.tty {
		fmt.Fprintf(p.a.stdout, "\r\033[Kdeleted %d rows in %d %s, elapsed %s%s",
			p.total, p.batches, plural(int64(p.batches), "batch", "batches"), roundDuration(elapsed), rate(p.total, elapsed))
		p.drawn = true
		return
	}
	fmt.Fprintf(p.a.stdout, "progress: deleted %d rows in %d %s, elapsed %s%s\n",
		p.total, p.batches, plural(int64(p.batches), "batch", "batches"), roundDuration(elapsed), rate(p.total, elapsed))
}

// finish clears the terminal line so the summary starts on a clean one.
func (p *progress) finish() {
	if p.drawn {
		fmt.Fprint(p.a.stdout, "\r\033[K")
	}
}

func rate(n int64, d time.Duration) string {
	if d < time.Millisecond || n == 0 {
		return ""
	}
	return fmt.Sprintf(" (%.0f rows/s)", float64(n)/d.Seconds())
}

func roundDuration(d time.Duration) time.Duration {
	if d > time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

var statsCmd = command{
	name:    "stats",
	summary: "show counts, ages, the busiest subjects and the table's size",
	usage: `sessionctl stats [--top N] [--json]

Live sessions are those not yet expired; expired ones wait for the next
cleanup. Times are UTC (RFC 3339) with their age. Subjects are the owner
keys the application set (session.SetSubject), such as "user:42"; sessions
without one are anonymous. The size is the table with its indexes where the
database can tell (PostgreSQL exactly; MySQL/MariaDB as InnoDB's estimate),
or the whole database file (SQLite).`,
	flags: func(fs *flag.FlagSet) func(context.Context, *app, *globals) error {
		top := fs.Int("top", 10, "how many subjects to list, most live sessions first (0 to 1000)")
		asJSON := fs.Bool("json", false, "print JSON instead of text")
		return func(ctx context.Context, a *app, g *globals) error {
			if *top < 0 || *top > 1000 {
				return fail(exitUsage, "stats: --top must be 0 to 1000, got %d", *top)
			}
			repo, t, closer, err := a.open(ctx, g)
			if err != nil {
				return err
			}
			defer closer()
			now := a.now().UTC().Truncate(time.Millisecond)
			s, err := repo.Stats(ctx, now, *top)
			if err != nil {
				return fmt.Errorf("stats: %w", err)
			}
			r := newReport(g.table, t, now, s)
			if *asJSON {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(r)
			}
			r.writeText(a.stdout)
			return nil
		}
	},
}

var revokeCmd = command{
	name:    "revoke",
	summary: "delete the sessions of one subject, or all sessions (log users out)",
	usage: `sessionctl revoke --subject S [--yes]
  sessionctl revoke --all [--yes]

--subject deletes every session, live or expired, whose subject is S (the
"log out everywhere" of one user); --all deletes every session in the table
(everyone is logged out). It says how many sessions that is and asks for
confirmation on standard input unless --yes is given; without a "y" answer
it deletes nothing and exits with code 6.`,
	flags: func(fs *flag.FlagSet) func(context.Context, *app, *globals) error {
		subject := fs.String("subject", "", "the subject whose sessions to delete, e.g. user:42")
		all := fs.Bool("all", false, "delete every session in the table")
		yes := fs.Bool("yes", false, "do not ask for confirmation")
		return func(ctx context.Context, a *app, g *globals) error {
			if (*subject == "") == !*all {
				return fail(exitUsage, "revoke: give exactly one of --subject S or --all")
			}
			if len(*subject) > model.SubjectMaxLength {
				return fail(exitUsage, "revoke: --subject is longer than %d bytes", model.SubjectMaxLength)
			}
			repo, _, closer, err := a.open(ctx, g)
			if err != nil {
				return err
			}
			defer closer()
			var n int64
			var what string
			if *all {
				var st repository.Stats
				st, err = repo.Stats(ctx, a.now(), 0)
				n = st.Total
				what = fmt.Sprintf("in table %q", g.table)
			} else {
				n, err = repo.CountSubject(ctx, *subject)
				what = fmt.Sprintf("of subject %s in table %q", quoteSubject(*subject), g.table)
			}
			if err != nil {
				return fmt.Errorf("revoke: %w", err)
			}
			if n == 0 {
				fmt.Fprintf(a.stdout, "nothing to revoke: no sessions %s\n", what)
				return nil
			}
			if !*yes {
				fmt.Fprintf(a.stderr, "Delete %d %s %s? Their users will have to log in again. [y/N] ",
					n, plural(n, "session", "sessions"), what)
				if !confirmed(ctx, a) {
					if ctx.Err() != nil {
						return fmt.Errorf("revoke: nothing deleted: %w", ctx.Err())
					}
					return fail(exitAborted, "revoke: not confirmed; nothing deleted")
				}
			}
			var deleted int64
			if *all {
				deleted, err = repo.DeleteAll(ctx)
			} else {
				deleted, err = repo.DeleteSubject(ctx, *subject)
			}
			if err != nil {
				return fmt.Errorf("revoke: %w", err)
			}
			fmt.Fprintf(a.stdout, "revoked %d %s %s\n", deleted, plural(deleted, "session", "sessions"), what)
			return nil
		}
	},
}

// confirmed reads one line from stdin and reports whether it says yes. It
// gives up, with false, when ctx ends (Ctrl-C at the prompt).
func confirmed(ctx context.Context, a *app) bool {
	if a.stdin == nil {
		fmt.Fprintln(a.stderr)
		return false
	}
	answer := make(chan string, 1)
	go func() {
		line, err := bufio.NewReader(a.stdin).ReadString('\n')
		if err != nil && line == "" { // no answer at all (EOF, closed stdin)
			line = ""
		}
		answer <- line
	}()
	var line string
	select {
	case line = <-answer:
	case <-ctx.Done():
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	fmt.Fprintln(a.stderr)
	return false
}
