package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/gormsession/gormsession/bench"
)

// seedExpired inserts n expired rows expiring at exp in statements the
// server expands itself (a series of numbers, ids hashed from them), which
// takes a second where bench's Seed, row by row from the client, takes a
// minute at a million rows. Every row has the payload of bench's Seed and
// one expires_at, as there. run makes the ids of each run new.
func seedExpired(ctx context.Context, ns *bench.NS, n int, exp int64, run int) error {
	payload, err := json.Marshal(bench.SamplePayload(0))
	if err != nil {
		return err
	}
	conn, err := ns.SQL.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if ns.Dialect == bench.MySQL {
		// MariaDB stops a recursive CTE after max_recursive_iterations
		// (here 1000); MySQL's limit is cte_max_recursion_depth.
		if _, err := conn.ExecContext(ctx, "SET SESSION max_recursive_iterations = 200000"); err != nil {
			if _, err := conn.ExecContext(ctx, "SET SESSION cte_max_recursion_depth = 200000"); err != nil {
				return err
			}
		}
	}
	const chunk = 100_000
	for lo := 1; lo <= n; lo += chunk {
		hi := min(lo+chunk-1, n)
		var q string
		switch ns.Dialect {
		case bench.Postgres:
			q = fmt.Sprintf(`INSERT INTO %s (id, subject, payload, version, created_at, updated_at, deadline, expires_at)
SELECT encode(sha256(('r%d:' || g)::bytea), 'hex'), '', $1::bytea, 1, $2::bigint, $2::bigint, $3::bigint, $3::bigint
FROM generate_series(%d, %d) AS g`, table, run, lo, hi)
		case bench.MySQL:
			q = fmt.Sprintf(`INSERT INTO %s (id, subject, payload, version, created_at, updated_at, deadline, expires_at)
WITH RECURSIVE g(x) AS (SELECT %d UNION ALL SELECT x + 1 FROM g WHERE x < %d)
SELECT sha2(concat('r%d:', x), 256), '', ?, 1, ?, ?, ?, ? FROM g`, table, lo, hi, run)
		default:
			q = fmt.Sprintf(`INSERT INTO %s (id, subject, payload, version, created_at, updated_at, deadline, expires_at)
WITH RECURSIVE g(x) AS (SELECT %d UNION ALL SELECT x + 1 FROM g WHERE x < %d)
SELECT lower(hex(randomblob(32))), '', ?, 1, ?, ?, ?, ? FROM g`, table, lo, hi)
		}
		created := exp - bench.Lifetime.Milliseconds()
		args := []any{payload, created, created, exp, exp}
		if ns.Dialect == bench.Postgres {
			args = []any{payload, created, exp}
		}
		if _, err := conn.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("seed expired: %w", err)
		}
	}
	return ns.Analyze(ctx, table)
}
