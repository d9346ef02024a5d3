// Package faulttest starts throw-away database servers that a test may
// break on purpose: a private PostgreSQL cluster in a temporary directory,
// listening on its own port on 127.0.0.1, that the test can stop hard
// (pg_ctl stop -m immediate, as in a crash) and start again. It never
// touches a shared server.
//
// The server binaries are looked up on PATH and under
// /usr/lib/postgresql/*/bin. When they are missing the test is skipped,
// unless GORMSESSION_TEST_REQUIRE contains "pgfault", which makes it a
// failure. initdb and postgres refuse to run as root; as root the commands
// run as the "postgres" user through runuser (or su).
//
// A server can also have a streaming standby (StartReplica): asynchronous,
// optionally applying its primary's changes with a delay so reads from it
// lag, or synchronous, so the primary acknowledges a commit only once the
// standby has it on disk, and can then be promoted after the primary's
// crash.
package faulttest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Require is the GORMSESSION_TEST_REQUIRE entry that turns a missing
// PostgreSQL installation into a failure.
const Require = "pgfault"

// Postgres is a private PostgreSQL server. Its methods fail t on error.
type Postgres struct {
	t    testing.TB
	bin  string // directory of initdb, pg_ctl, postgres
	dir  string // owned by the server's user: data/, log, socket
	port int
	as   string // user to run as ("" = the current one)
}

// StartPostgres initialises a new cluster in a temporary directory and
// starts it on a free port of 127.0.0.1 with trust authentication. The
// server is stopped and its files removed when t ends.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bin := requireBin(t)
	p := newServer(t, bin)
	p.run(2*time.Minute, "initdb", "-D", p.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions")
	// Small, quick-to-recover settings; fsync stays on, as in production.
	p.configure(fmt.Sprintf("listen_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = '%s'\nmax_connections = 50\nshared_buffers = 32MB\n", p.port, p.dir))
	p.Start()
	return p
}

// requireBin returns the directory of the server binaries, or skips (or
// fails, see Require) t when there is none.
func requireBin(t testing.TB) string {
	t.Helper()
	bin := findBin()
	if bin == "" {
		if slices.Contains(strings.Split(os.Getenv("GORMSESSION_TEST_REQUIRE"), ","), Require) {
			t.Fatalf("PostgreSQL server binaries (initdb, pg_ctl) not found, and GORMSESSION_TEST_REQUIRE names %s", Require)
		}
		t.Skip("PostgreSQL server binaries (initdb, pg_ctl) not found; set GORMSESSION_TEST_REQUIRE=" + Require + " to fail instead")
	}
	return bin
}

// newServer makes the temporary directory of a server that does not exist
// yet, owned by the server's user, picks its port, and registers the
// cleanups: the server is stopped (by its pid, whatever state the test left
// it in) and its files removed when t ends.
func newServer(t testing.TB, bin string) *Postgres {
	t.Helper()
	p := &Postgres{t: t, bin: bin}
	dir, err := os.MkdirTemp("", "gormsession-pgfault-")
	if err != nil {
		t.Fatalf("faulttest: temp dir: %v", err)
	}
	p.dir = dir
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("faulttest: running as root needs a postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatalf("faulttest: chown: %v", err)
		}
		p.as = "postgres"
	}
	p.port = freePort(t)
	// Registered after the removal of dir, so it runs before it.
	t.Cleanup(p.kill)
	return p
}

// configure appends settings to the server's postgresql.conf; later lines
// win over earlier ones.
func (p *Postgres) configure(settings string) {
	p.t.Helper()
	f, err := os.OpenFile(filepath.Join(p.data(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		p.t.Fatalf("faulttest: postgresql.conf: %v", err)
	}
	_, err = f.WriteString("\n" + settings)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		p.t.Fatalf("faulttest: postgresql.conf: %v", err)
	}
}

// DSN returns a DSN for the server's "postgres" database.
func (p *Postgres) DSN() string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=disable connect_timeout=5", p.port)
}

// Port returns the server's TCP port on 127.0.0.1, for DSNs that name
// several servers.
func (p *Postgres) Port() int { return p.port }

// Start starts the server and waits until it accepts connections (crash
// recovery included; a standby accepts them once its data is consistent).
func (p *Postgres) Start() {
	p.t.Helper()
	p.run(2*time.Minute, "pg_ctl", "-D", p.data(), "-l", filepath.Join(p.dir, "log"), "-w", "-t", "90", "start")
}

// StopImmediate stops the server the hard way: every server process quits
// at once without a checkpoint, as after a crash or kill -9 of the
// postmaster. Committed transactions survive (the WAL is on disk);
// connections drop.
func (p *Postgres) StopImmediate() {
	p.t.Helper()
	p.stop("immediate", true)
}

func (p *Postgres) stop(mode string, must bool) {
	cmd := p.command("pg_ctl", "-D", p.data(), "-m", mode, "-w", "-t", "60", "stop")
	out, err := cmd.CombinedOutput()
	if err != nil && must {
		p.t.Fatalf("faulttest: pg_ctl stop: %v\n%s", err, out)
	}
}

// kill stops the server at the end of the test, whatever state it was left
// in: pg_ctl stop -m immediate, then, if that did not end it, SIGKILL to
// the postmaster's pid (from postmaster.pid, and only if that process is
// this data directory's postmaster, which needs Linux's /proc).
func (p *Postgres) kill() {
	p.stop("immediate", false)
	if pid := p.postmasterPID(); pid > 0 {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && strings.Contains(string(cmdline), p.data()) {
			if proc, err := os.FindProcess(pid); err == nil {
				_ = proc.Kill()
			}
		}
	}
}

// postmasterPID returns the pid in the data directory's postmaster.pid,
// or 0 when there is none (the server is not running).
func (p *Postgres) postmasterPID() int {
	b, err := os.ReadFile(filepath.Join(p.data(), "postmaster.pid"))
	if err != nil {
		return 0
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(first))
	return pid
}

func (p *Postgres) data() string { return filepath.Join(p.dir, "data") }

func (p *Postgres) run(timeout time.Duration, name string, args ...string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := p.command(name, args...)
	cmd = exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	if out, err := cmd.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(p.dir, "log"))
		p.t.Fatalf("faulttest: %s: %v\n%s\n%s", name, err, out, log)
	}
}

// command builds the command for one server binary, as the server's user.
func (p *Postgres) command(name string, args ...string) *exec.Cmd {
	path := p.tool(name)
	if p.as == "" {
		return exec.Command(path, args...)
	}
	if ru, err := exec.LookPath("runuser"); err == nil {
		return exec.Command(ru, append([]string{"-u", p.as, "--", path}, args...)...)
	}
	quoted := make([]string, 0, len(args)+1)
	for _, a := range append([]string{path}, args...) {
		quoted = append(quoted, "'"+strings.ReplaceAll(a, "'", `'\''`)+"'")
	}
	return exec.Command("su", p.as, "-s", "/bin/sh", "-c", strings.Join(quoted, " "))
}

// tool returns the path of a PostgreSQL program: the one beside initdb, or
// else the one on PATH.
func (p *Postgres) tool(name string) string {
	path := filepath.Join(p.bin, name)
	if !isExec(path) {
		if found, err := exec.LookPath(name); err == nil {
			return found
		}
	}
	return path
}

// findBin returns the directory holding initdb and pg_ctl, preferring the
// newest installed major version, or "".
func findBin() string {
	var dirs []string
	if p, err := exec.LookPath("initdb"); err == nil {
		// A link on PATH (to /usr/lib/postgresql/N/bin/initdb, say)
		// stands for the directory it points into, which has the other
		// binaries too.
		if real, err := filepath.EvalSymlinks(p); err == nil {
			dirs = append(dirs, filepath.Dir(real))
		}
		dirs = append(dirs, filepath.Dir(p))
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(matches, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	dirs = append(dirs, matches...)
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) && isExec(filepath.Join(d, "postgres")) {
			return d
		}
	}
	return ""
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("faulttest: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
