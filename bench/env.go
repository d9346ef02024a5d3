package bench

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "github.com/go-sql-driver/mysql" // database/sql driver "mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "github.com/mattn/go-sqlite3"    // database/sql driver "sqlite3"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// The databases a run covers.
const (
	Postgres = "postgres"
	SQLite   = "sqlite"
	MySQL    = "mysql"
)

// Env says where the databases are.
type Env struct {
	// PostgresDSN is a keyword/value DSN without search_path.
	PostgresDSN string
	// MySQLServer is "user:password@tcp(host:port)"; the database name and
	// parameters are added per namespace.
	MySQLServer string
	// Dir holds the SQLite files.
	Dir string
	// RunID makes this run's namespace names unique, so that two runs at
	// once (say the CI guard and a full run) never share or drop each
	// other's tables; the process id by default.
	RunID string
	// Conns is the connection pool size of every subject on PostgreSQL and
	// MySQL; SQLiteConns on SQLite.
	Conns, SQLiteConns int
}

// EnvFromEnvironment reads BENCH_POSTGRES_DSN, BENCH_MYSQL_SERVER and
// BENCH_DIR; without them it uses the test suite's GORMSESSION_TEST_*_DSN
// servers, and without those this project's machines (PostgreSQL and
// MariaDB on 127.0.0.1, database test).
func EnvFromEnvironment() Env {
	e := Env{
		PostgresDSN: "host=127.0.0.1 port=5432 user=postgres dbname=test sslmode=disable",
		MySQLServer: "root@tcp(127.0.0.1:3306)",
		Dir:         os.TempDir(),
		RunID:       strconv.Itoa(os.Getpid()),
		Conns:       32,
		SQLiteConns: 8,
	}
	// The test suite's variables, when set, point at the same servers.
	if v := os.Getenv("GORMSESSION_TEST_POSTGRES_DSN"); v != "" {
		e.PostgresDSN = v
	}
	if v := os.Getenv("GORMSESSION_TEST_MYSQL_DSN"); v != "" {
		if i := strings.Index(v, ")/"); i >= 0 {
			e.MySQLServer = v[:i+1]
		}
	}
	if v := os.Getenv("BENCH_POSTGRES_DSN"); v != "" {
		e.PostgresDSN = v
	}
	if v := os.Getenv("BENCH_MYSQL_SERVER"); v != "" {
		e.MySQLServer = v
	}
	if v := os.Getenv("BENCH_DIR"); v != "" {
		e.Dir = v
	}
	return e
}

// NS is one subject's namespace on one database.
type NS struct {
	Dialect string
	Name    string // bench_gs_<run id>_<subject>
	DSN     string // for the dialect's driver
	// SQL is a database/sql handle on the namespace, for seeding.
	SQL   *sql.DB
	env   Env
	path  string
	pools []*sql.DB
	pgx   []interface{ Reset() }
}

// Namespace creates (or reuses) the namespace of subject on dialect.
func (e Env) Namespace(ctx context.Context, dialect, subject string) (*NS, error) {
	ns := &NS{Dialect: dialect, Name: "bench_gs_" + e.RunID + "_" + subject, env: e}
	var driver string
	switch dialect {
	case Postgres:
		admin, err := sql.Open("pgx", e.PostgresDSN)
		if err != nil {
			return nil, err
		}
		_, err = admin.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+ns.Name)
		_ = admin.Close()
		if err != nil {
			return nil, err
		}
		ns.DSN, driver = e.PostgresDSN+" search_path="+ns.Name, "pgx"
	case MySQL:
		admin, err := sql.Open("mysql", e.MySQLServer+"/")
		if err != nil {
			return nil, err
		}
		_, err = admin.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+ns.Name)
		_ = admin.Close()
		if err != nil {
			return nil, err
		}
		// interpolateParams: one round trip per statement instead of
		// prepare, execute, close. Every subject gets the same DSN.
		ns.DSN, driver = e.MySQLServer+"/"+ns.Name+"?parseTime=true&interpolateParams=true", "mysql"
	case SQLite:
		ns.path = filepath.Join(e.Dir, ns.Name+".db")
		// The DSN the project recommends (WAL, busy timeout, immediate
		// transactions, synchronous=NORMAL); the same for every subject.
		ns.DSN, driver = "file:"+ns.path+"?_journal_mode=WAL&_busy_timeout=10000&_txlock=immediate&_synchronous=NORMAL", "sqlite3"
	default:
		return nil, fmt.Errorf("unknown dialect %q", dialect)
	}
	db, err := sql.Open(driver, ns.DSN)
	if err != nil {
		return nil, err
	}
	ns.configure(db)
	ns.SQL = db
	return ns, db.PingContext(ctx)
}

// configure sizes a pool the same way for every subject.
func (ns *NS) configure(db *sql.DB) {
	ns.pools = append(ns.pools, db)
	n := ns.env.Conns
	if ns.Dialect == SQLite {
		n = ns.env.SQLiteConns
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxLifetime(time.Hour)
	// Idle connections go soon, so that the pools of the subjects not
	// running do not hold the server's connection slots.
	db.SetConnMaxIdleTime(2 * time.Second)
}

// Release closes the idle connections of every pool of the namespace, so
// that a subject that is not running holds none of the server's slots.
func (ns *NS) Release() {
	n := ns.env.Conns
	if ns.Dialect == SQLite {
		n = ns.env.SQLiteConns
	}
	for _, db := range ns.pools {
		db.SetMaxIdleConns(0)
		db.SetMaxIdleConns(n)
	}
	for _, p := range ns.pgx {
		p.Reset()
	}
}

// Gorm opens GORM on the namespace with a silent logger and the pool sized
// like every other subject's.
func (ns *NS) Gorm(cfg *gorm.Config) (*gorm.DB, error) {
	if cfg == nil {
		cfg = &gorm.Config{}
	}
	cfg.Logger = logger.Discard
	var d gorm.Dialector
	switch ns.Dialect {
	case Postgres:
		d = postgres.Open(ns.DSN)
	case MySQL:
		d = mysql.Open(ns.DSN)
	default:
		d = sqlite.Open(ns.DSN)
	}
	db, err := gorm.Open(d, cfg)
	if err != nil {
		return nil, err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	ns.configure(sqlDB)
	return db, nil
}

// Drop removes the namespace and everything in it.
func (ns *NS) Drop(ctx context.Context) error {
	if ns.SQL != nil {
		_ = ns.SQL.Close()
	}
	switch ns.Dialect {
	case Postgres:
		admin, err := sql.Open("pgx", ns.env.PostgresDSN)
		if err != nil {
			return err
		}
		defer admin.Close()
		_, err = admin.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+ns.Name+" CASCADE")
		return err
	case MySQL:
		admin, err := sql.Open("mysql", ns.env.MySQLServer+"/")
		if err != nil {
			return err
		}
		defer admin.Close()
		_, err = admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+ns.Name)
		return err
	default:
		for _, suffix := range []string{"", "-wal", "-shm"} {
			_ = os.Remove(ns.path + suffix)
		}
		return nil
	}
}

// Exec runs statements on the namespace.
func (ns *NS) Exec(ctx context.Context, stmts ...string) error {
	for _, s := range stmts {
		if _, err := ns.SQL.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", firstLine(s), err)
		}
	}
	return nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// BulkInsert inserts n rows into table in multi-row INSERTs of up to 500
// rows, each batch in its own transaction; row(i) gives row i's values in
// the order of cols.
func (ns *NS) BulkInsert(ctx context.Context, table string, cols []string, n int, row func(i int) []any) error {
	const batch = 500
	for start := 0; start < n; start += batch {
		end := min(start+batch, n)
		var b strings.Builder
		b.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
		args := make([]any, 0, (end-start)*len(cols))
		p := 0
		for i := start; i < end; i++ {
			if i > start {
				b.WriteString(", ")
			}
			b.WriteByte('(')
			for j := range cols {
				if j > 0 {
					b.WriteString(", ")
				}
				p++
				if ns.Dialect == Postgres {
					fmt.Fprintf(&b, "$%d", p)
				} else {
					b.WriteByte('?')
				}
			}
			b.WriteByte(')')
			args = append(args, row(i)...)
		}
		tx, err := ns.SQL.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			_ = tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// Analyze refreshes the planner's statistics of table after seeding.
func (ns *NS) Analyze(ctx context.Context, table string) error {
	switch ns.Dialect {
	case Postgres:
		return ns.Exec(ctx, "ANALYZE "+table)
	case MySQL:
		return ns.Exec(ctx, "ANALYZE TABLE "+table)
	default:
		return ns.Exec(ctx, "ANALYZE")
	}
}
