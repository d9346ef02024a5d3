// Command galera starts a private three-node MariaDB Galera cluster on
// loopback ports, runs a command with GORMSESSION_TEST_MYSQL_DSN set to
// node 1 (with wsrep_sync_wait=1), and stops the cluster's processes by
// their pids afterwards, whatever the command did:
//
//	go run ./cmd/galera -- go test ./session/...
//
// GORMSESSION_GALERA_DSNS is set too: the three nodes' DSNs, space
// separated. The exit status is the command's, or 1 when the cluster did
// not start. When the host lacks MariaDB, Galera or rsync, the command is
// not run and the exit status is 0, unless GORMSESSION_TEST_REQUIRE
// contains "galera" (then it is 1).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/gormsession/gormsession/tests/galera/internal/cluster"
)

func main() { os.Exit(run()) }

func run() int {
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: galera -- command [args...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	args := flag.Args()
	if len(args) == 0 {
		flag.Usage()
		return 2
	}
	logf := func(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) }
	if miss := cluster.Missing(); miss != "" {
		if slices.Contains(strings.Split(os.Getenv("GORMSESSION_TEST_REQUIRE"), ","), "galera") {
			logf("galera: missing %s, and GORMSESSION_TEST_REQUIRE names galera", miss)
			return 1
		}
		logf("galera: missing %s; not running %q", miss, strings.Join(args, " "))
		return 0
	}

	// SIGINT or SIGTERM: pass it on to the command, and stop the cluster
	// once it has ended.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	started := make(chan struct{})
	go func() {
		select {
		case <-sigs:
			cancel() // abandons a start under way
		case <-started:
		}
	}()
	c, err := cluster.Start(ctx, logf)
	close(started)
	cancel()
	if err != nil {
		logf("galera: %v", err)
		return 1
	}
	defer c.Stop()

	var dsns []string
	for _, n := range c.Nodes {
		dsns = append(dsns, n.DSN("wsrep_sync_wait=1"))
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(),
		"GORMSESSION_TEST_MYSQL_DSN="+dsns[0],
		"GORMSESSION_GALERA_DSNS="+strings.Join(dsns, " "))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf("galera: %v", err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case sig := <-sigs:
			_ = cmd.Process.Signal(sig)
			continue
		case err = <-done:
		}
		break
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit) && exit.ExitCode() > 0:
		return exit.ExitCode()
	default:
		logf("galera: %v", err)
		return 1
	}
}
