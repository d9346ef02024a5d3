package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/gormsession/gormsession/bench"
)

// counters are a database's cache counters: per table on PostgreSQL
// (pg_statio_user_tables), for the whole server on MariaDB (key "").
type counters map[string][4]int64

// cacheStats reads the cache counters of ns's database.
func cacheStats(ctx context.Context, ns *bench.NS, tables []*bench.ScaleTable) (counters, error) {
	c := counters{}
	switch ns.Dialect {
	case bench.Postgres:
		for _, st := range tables {
			var v [4]int64
			err := ns.SQL.QueryRowContext(ctx, `SELECT coalesce(heap_blks_read,0), coalesce(heap_blks_hit,0), coalesce(idx_blks_read,0), coalesce(idx_blks_hit,0)
				FROM pg_statio_user_tables WHERE schemaname = current_schema() AND relname = $1`, st.Table).Scan(&v[0], &v[1], &v[2], &v[3])
			if err != nil {
				return c, err
			}
			c[st.Table] = v
		}
	case bench.MySQL:
		var v [4]int64
		for i, name := range []string{"Innodb_buffer_pool_reads", "Innodb_buffer_pool_read_requests"} {
			var n string
			if err := ns.SQL.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE '"+name+"'").Scan(&n, &v[i]); err != nil {
				return c, err
			}
		}
		c[""] = v
	}
	return c, nil
}

func ratio(hit, read int64) string {
	if hit+read == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f%% (%d reads)", 100*float64(hit)/float64(hit+read), read)
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// explain prints what explains the curve on ns: table and index sizes
// next to the cache size, cache hit ratios over the timed passes, B-tree
// depth where the database tells it, and the plan of a load on the
// largest table.
func explain(ctx context.Context, ns *bench.NS, tables []*bench.ScaleTable, before, after counters) error {
	big := tables[len(tables)-1]
	key := bench.StoredID(big.Keys[0])
	fmt.Printf("Evidence (%s):\n\n", ns.Dialect)
	switch ns.Dialect {
	case bench.Postgres:
		var sb string
		if err := ns.SQL.QueryRowContext(ctx, "SHOW shared_buffers").Scan(&sb); err != nil {
			return err
		}
		fmt.Printf("- shared_buffers %s\n", sb)
		// pageinspect tells the depth of the primary key's B-tree; made in
		// the namespace's schema, it goes with it.
		_, _ = ns.SQL.ExecContext(ctx, "CREATE EXTENSION IF NOT EXISTS pageinspect SCHEMA "+ns.Name)
		for _, st := range tables {
			var heap, pk, exp int64
			err := ns.SQL.QueryRowContext(ctx, "SELECT pg_relation_size($1::regclass), pg_relation_size($2::regclass), pg_relation_size($3::regclass)",
				st.Table, st.Table+"_pkey", st.Table+"_expires_at_idx").Scan(&heap, &pk, &exp)
			if err != nil {
				return err
			}
			level := "?"
			var lv int
			if err := ns.SQL.QueryRowContext(ctx, "SELECT level FROM bt_metap($1)", st.Table+"_pkey").Scan(&lv); err == nil {
				level = fmt.Sprint(lv + 1)
			}
			b, a := before[st.Table], after[st.Table]
			fmt.Printf("- %d live: heap %s, primary key %s (B-tree depth %s), expires_at index %s; over the timed passes heap hit ratio %s, index hit ratio %s\n",
				st.Live, mib(heap), mib(pk), level, mib(exp), ratio(a[1]-b[1], a[0]-b[0]), ratio(a[3]-b[3], a[2]-b[2]))
		}
		rows, err := ns.SQL.QueryContext(ctx, "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT subject, payload, version, created_at, updated_at, deadline, expires_at FROM "+
			big.Table+" WHERE id = $1 AND expires_at > $2", key, 0)
		if err != nil {
			return err
		}
		fmt.Printf("\nPlan of a load on the %d table:\n\n```\n", big.Live)
		for rows.Next() {
			var line string
			_ = rows.Scan(&line)
			fmt.Println(line)
		}
		fmt.Printf("```\n\n")
		return rows.Close()
	case bench.MySQL:
		var bp int64
		if err := ns.SQL.QueryRowContext(ctx, "SELECT @@innodb_buffer_pool_size").Scan(&bp); err != nil {
			return err
		}
		fmt.Printf("- innodb_buffer_pool_size %s\n", mib(bp))
		for _, st := range tables {
			var data, idx int64
			err := ns.SQL.QueryRowContext(ctx, "SELECT data_length, index_length FROM information_schema.TABLES WHERE table_schema = DATABASE() AND table_name = ?", st.Table).Scan(&data, &idx)
			if err != nil {
				return err
			}
			var cached int64
			_ = ns.SQL.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.INNODB_BUFFER_PAGE WHERE TABLE_NAME = CONCAT('`', DATABASE(), '`.`', ?, '`')", st.Table).Scan(&cached)
			fmt.Printf("- %d live: clustered index (rows) %s, secondary indexes %s; %d of its 16 KiB pages in the buffer pool after the run\n", st.Live, mib(data), mib(idx), cached)
		}
		b, a := before[""], after[""]
		fmt.Printf("- buffer pool over the timed passes (whole server, other clients included): hit ratio %s\n", ratio(a[1]-b[1]-(a[0]-b[0]), a[0]-b[0]))
		rows, err := ns.SQL.QueryContext(ctx, "EXPLAIN SELECT subject, payload, version, created_at, updated_at, deadline, expires_at FROM "+big.Table+" WHERE id = ? AND expires_at > ?", key, 0)
		if err != nil {
			return err
		}
		cols, _ := rows.Columns()
		fmt.Printf("\nPlan of a load on the %d table:\n\n```\n%s\n", big.Live, strings.Join(cols, " | "))
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			_ = rows.Scan(ptrs...)
			var parts []string
			for _, v := range vals {
				if b, ok := v.([]byte); ok {
					v = string(b)
				}
				parts = append(parts, fmt.Sprint(v))
			}
			fmt.Println(strings.Join(parts, " | "))
		}
		fmt.Printf("```\n\n")
		return rows.Close()
	default:
		var pageSize, pages, cache int64
		_ = ns.SQL.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize)
		_ = ns.SQL.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages)
		_ = ns.SQL.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&cache)
		cacheBytes := cache * pageSize
		if cache < 0 {
			cacheBytes = -cache * 1024
		}
		var file int64
		if fi, err := os.Stat(strings.TrimPrefix(strings.SplitN(ns.DSN, "?", 2)[0], "file:")); err == nil {
			file = fi.Size()
		}
		fmt.Printf("- page cache per connection (PRAGMA cache_size %d): %s; database file %s (%d pages of %d bytes) holding all %d tables\n",
			cache, mib(cacheBytes), mib(file), pages, pageSize, len(tables))
		rows, err := ns.SQL.QueryContext(ctx, "EXPLAIN QUERY PLAN SELECT subject, payload, version, created_at, updated_at, deadline, expires_at FROM "+big.Table+" WHERE id = ? AND expires_at > ?", key, 0)
		if err != nil {
			return err
		}
		fmt.Printf("\nPlan of a load on the %d table:\n\n```\n", big.Live)
		for rows.Next() {
			var id, parent, notused int
			var detail string
			_ = rows.Scan(&id, &parent, &notused, &detail)
			fmt.Println(detail)
		}
		fmt.Printf("```\n\n")
		return rows.Close()
	}
}
