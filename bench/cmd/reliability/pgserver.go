package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// errNoServerBinaries: initdb, pg_ctl or postgres was not found.
var errNoServerBinaries = errors.New("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: put them on PATH or name their directory with -pgbin")

// pgServer is a private PostgreSQL server in a temporary directory,
// listening on a free port of 127.0.0.1, that the hardstop figure stops
// the hard way. It never touches a shared server.
type pgServer struct {
	bin  string // directory of initdb, pg_ctl, postgres
	dir  string // owned by the server's user: data/, log, socket
	port int
	as   string // user to run as ("" = the current one); initdb and postgres refuse root
}

// findServerBin returns the directory of initdb, pg_ctl and postgres: bin
// when given, else the directory of initdb on PATH.
func findServerBin(bin string) (string, error) {
	if bin == "" {
		p, err := exec.LookPath("initdb")
		if err != nil {
			return "", errNoServerBinaries
		}
		bin = filepath.Dir(p)
	}
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		fi, err := os.Stat(filepath.Join(bin, name))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return "", errNoServerBinaries
		}
	}
	return bin, nil
}

// startPostgres initialises a cluster in a temporary directory and starts
// it with trust authentication. stop removes it.
func startPostgres(bin string) (*pgServer, error) {
	p := &pgServer{bin: bin}
	dir, err := os.MkdirTemp("", "gormsession-pgfault-")
	if err != nil {
		return nil, err
	}
	p.dir = dir
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			p.remove()
			return nil, fmt.Errorf("running as root needs a postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			p.remove()
			return nil, err
		}
		p.as = "postgres"
	}
	if p.port, err = freePort(); err != nil {
		p.remove()
		return nil, err
	}
	if err := p.run(2*time.Minute, "initdb", "-D", p.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"); err != nil {
		p.remove()
		return nil, err
	}
	// Small, quick-to-recover settings; fsync stays on, as in production.
	conf := fmt.Sprintf("\nlisten_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = '%s'\nmax_connections = 50\nshared_buffers = 32MB\n", p.port, dir)
	f, err := os.OpenFile(filepath.Join(p.data(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteString(conf)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		err = p.start()
	}
	if err != nil {
		p.remove()
		return nil, err
	}
	return p, nil
}

// dsn returns a DSN for the server's "postgres" database.
func (p *pgServer) dsn() string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=disable connect_timeout=5", p.port)
}

// start starts the server and waits until it accepts connections (crash
// recovery included).
func (p *pgServer) start() error {
	return p.run(2*time.Minute, "pg_ctl", "-D", p.data(), "-l", filepath.Join(p.dir, "log"), "-w", "-t", "90", "start")
}

// stopImmediate stops the server the hard way: every server process quits
// at once without a checkpoint, as after a crash. Committed transactions
// survive (the WAL is on disk); connections drop.
func (p *pgServer) stopImmediate() error {
	return p.run(time.Minute, "pg_ctl", "-D", p.data(), "-m", "immediate", "-w", "-t", "60", "stop")
}

// remove stops the server if it runs and deletes its directory.
func (p *pgServer) remove() {
	if _, err := os.Stat(filepath.Join(p.data(), "postmaster.pid")); err == nil {
		_ = p.stopImmediate()
	}
	_ = os.RemoveAll(p.dir)
}

func (p *pgServer) data() string { return filepath.Join(p.dir, "data") }

func (p *pgServer) run(timeout time.Duration, name string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	path := filepath.Join(p.bin, name)
	if p.as != "" {
		if ru, err := exec.LookPath("runuser"); err == nil {
			path, args = ru, append([]string{"-u", p.as, "--", path}, args...)
		} else {
			quoted := make([]string, 0, len(args)+1)
			for _, a := range append([]string{path}, args...) {
				quoted = append(quoted, "'"+strings.ReplaceAll(a, "'", `'\''`)+"'")
			}
			path, args = "su", []string{p.as, "-s", "/bin/sh", "-c", strings.Join(quoted, " ")}
		}
	}
	if out, err := exec.CommandContext(ctx, path, args...).CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(p.dir, "log"))
		return fmt.Errorf("%s: %w\n%s\n%s", name, err, out, log)
	}
	return nil
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
