package faulttest

import (
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// ReplicaOptions says what kind of standby StartReplica makes.
type ReplicaOptions struct {
	// ApplyDelay is the standby's recovery_min_apply_delay: it receives
	// and stores the primary's changes at once, but makes each committed
	// transaction visible only ApplyDelay after the primary committed it,
	// so that reads from it lag by a known amount. 0 (the default) applies
	// changes as soon as they arrive, which is still asynchronous: a read
	// right after a commit on the primary may miss it. Rounded to
	// milliseconds.
	ApplyDelay time.Duration

	// Synchronous makes the primary wait, before it acknowledges a commit,
	// until this standby has written the commit to disk
	// (synchronous_standby_names = '*', synchronous_commit = on), so that
	// a commit acknowledged by the primary survives the primary's crash
	// and the standby's promotion. Then commits stall while the standby is
	// away. Do not combine it with ApplyDelay.
	Synchronous bool
}

// StartReplica makes a streaming standby of p, which must be a running
// primary: a base backup of p (pg_basebackup -R, through a replication
// slot so p keeps the WAL the standby still needs) in a temporary
// directory, started on a free port of 127.0.0.1 as a hot standby that
// answers read-only queries. It returns once p reports the standby as
// streaming (and, with opts.Synchronous, as its synchronous standby). The
// standby is stopped and its files removed when the test ends.
func (p *Postgres) StartReplica(opts ReplicaOptions) *Postgres {
	p.t.Helper()
	if opts.Synchronous && opts.ApplyDelay != 0 {
		p.t.Fatalf("faulttest: a synchronous standby with an apply delay is not supported")
	}
	for _, tool := range []string{"pg_basebackup", "psql"} {
		if !isExec(p.tool(tool)) {
			p.t.Fatalf("faulttest: %s not found beside pg_ctl in %s, nor on PATH", tool, p.bin)
		}
	}
	r := newServer(p.t, p.bin)
	slot := fmt.Sprintf("faulttest_%d", r.port)
	p.run(2*time.Minute, "pg_basebackup", "-h", "127.0.0.1", "-p", fmt.Sprint(p.port), "-U", "postgres",
		"-D", r.data(), "-R", "-X", "stream", "-C", "-S", slot, "-c", "fast", "--no-sync")
	// The backup carries p's postgresql.conf; these lines override it.
	// synchronous_standby_names is cleared so that, once promoted, the
	// standby does not wait for a standby of its own.
	r.configure(fmt.Sprintf("port = %d\nunix_socket_directories = '%s'\nhot_standby = on\n"+
		"recovery_min_apply_delay = '%dms'\nsynchronous_standby_names = ''\ncluster_name = '%s'\n",
		r.port, r.dir, opts.ApplyDelay.Milliseconds(), slot))
	r.Start()
	p.waitFor(fmt.Sprintf("SELECT count(*) FROM pg_stat_replication WHERE application_name = '%s' AND state = 'streaming'", slot), "1")
	if opts.Synchronous {
		p.configure("synchronous_standby_names = '*'\nsynchronous_commit = on\n")
		p.run(time.Minute, "pg_ctl", "-D", p.data(), "reload")
		p.waitFor(fmt.Sprintf("SELECT sync_state FROM pg_stat_replication WHERE application_name = '%s'", slot), "sync")
	}
	return r
}

// Promote ends a standby's recovery: once it returns, the server is a
// primary that accepts writes (pg_ctl promote). Everything the standby had
// received, synchronous commits included, is applied first.
func (p *Postgres) Promote() {
	p.t.Helper()
	p.run(2*time.Minute, "pg_ctl", "-D", p.data(), "-w", "-t", "90", "promote")
}

// Query runs one SQL statement on the server's "postgres" database with
// psql and returns its output, unaligned and without headers ("t" for a
// true boolean). It fails the test on error. For the harness and for
// checks that must bypass the code under test.
func (p *Postgres) Query(sql string) string {
	p.t.Helper()
	out, err := p.query(sql)
	if err != nil {
		p.t.Fatalf("faulttest: psql: %v", err)
	}
	return out
}

func (p *Postgres) query(sql string) (string, error) {
	cmd := exec.Command(p.tool("psql"), "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
		"-h", "127.0.0.1", "-p", fmt.Sprint(p.port), "-U", "postgres", "-d", "postgres", "-c", sql)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%w: %s", err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// waitFor polls sql on the server until its output is want, for up to a
// minute.
func (p *Postgres) waitFor(sql, want string) {
	p.t.Helper()
	end := time.Now().Add(time.Minute)
	var got string
	var err error
	for time.Now().Before(end) {
		if got, err = p.query(sql); err == nil && got == want {
			return
		}
		time.Sleep(20 * time.Millisecond) // polling the server's state, not for time to pass
	}
	p.t.Fatalf("faulttest: waited a minute for %q to give %q; last %q, %v", sql, want, got, err)
}
