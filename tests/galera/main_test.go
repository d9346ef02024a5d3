// Tests of gormsession on a real three-node MariaDB Galera cluster, which
// TestMain starts on loopback ports (package internal/cluster) and stops
// when the tests end. Without MariaDB, Galera or rsync on the host every
// test is skipped, or fails when GORMSESSION_TEST_REQUIRE contains
// "galera".
package galera_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gorm.io/driver/mysql"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/gormsession/gormsession/session"
	"github.com/gormsession/gormsession/tests/galera/internal/cluster"
)

var (
	running *cluster.Cluster
	missing string // what the host lacks, when the cluster did not start
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	missing = cluster.Missing()
	if missing == "" {
		logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		c, err := cluster.Start(ctx, logf)
		cancel()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		running = c
		defer c.Stop()
		// Interrupted: stop the servers before going.
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
		go func() {
			<-sigs
			c.Stop()
			os.Exit(2)
		}()
	}
	return m.Run()
}

// need returns the running cluster, or skips t (fails it when
// GORMSESSION_TEST_REQUIRE names galera) when the host cannot run one.
func need(t *testing.T) *cluster.Cluster {
	t.Helper()
	if running != nil {
		return running
	}
	if slices.Contains(strings.Split(os.Getenv("GORMSESSION_TEST_REQUIRE"), ","), "galera") {
		t.Fatalf("a Galera cluster is required (GORMSESSION_TEST_REQUIRE) but the host lacks %s", missing)
	}
	t.Skipf("no Galera cluster: the host lacks %s", missing)
	return nil
}

// openNode opens a connection pool to node i (0-based) with the DSN
// parameters params, closed when t ends.
func openNode(t *testing.T, c *cluster.Cluster, i int, params string) *gorm.DB {
	t.Helper()
	db, err := gorm.Open(mysql.Open(c.Nodes[i].DSN(params)), &gorm.Config{Logger: logger.Discard})
	require.NoError(t, err)
	sqlDB, err := db.DB()
	require.NoError(t, err)
	sqlDB.SetMaxOpenConns(16)
	sqlDB.SetMaxIdleConns(16)
	t.Cleanup(func() { _ = sqlDB.Close() })
	return db
}

// table returns a table name of its own for t, dropped (on node 1, which
// replicates the DDL) when t ends.
func table(t *testing.T, db *gorm.DB) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "g_" + hex.EncodeToString(b[:])
	t.Cleanup(func() { _ = db.Migrator().DropTable(name) })
	return name
}

// statusInt returns the numeric wsrep status variable name of node i.
func statusInt(t *testing.T, c *cluster.Cluster, i int, name string) int64 {
	t.Helper()
	st, err := c.Status(context.Background(), i)
	require.NoError(t, err)
	v, err := strconv.ParseInt(st[name], 10, 64)
	require.NoError(t, err, name)
	return v
}

// quiet sends a container's log lines nowhere: the tests that run with
// wsrep_sync_wait=0 on purpose need not print New's warning about it
// (TestNewWarnsWithoutSyncWait checks it).
var quiet = session.WithLogger(slog.New(slog.DiscardHandler))

// Counter is the payload of the tests' sessions.
type Counter struct {
	Count int    `json:"count"`
	Note  string `json:"note"`
}
