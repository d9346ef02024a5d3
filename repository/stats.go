package repository

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/gormsession/gormsession/internal/store"
)

// Stats summarises a sessions table at one instant, for operators. It
// carries subjects (owner keys such as "user:42") but never a stored id or
// a payload.
type Stats struct {
	// Total is the number of stored rows, live or expired.
	Total int64
	// Live is the number of rows whose expires_at is after now.
	Live int64
	// Expired is Total minus Live: rows a cleanup would delete.
	Expired int64
	// Anonymous is the number of live rows without a subject.
	Anonymous int64
	// Subjects is the number of distinct subjects among the live rows.
	Subjects int64
	// OldestCreated and NewestCreated are the smallest and largest
	// created_at (Unix milliseconds) over all stored rows; both are 0 when
	// the table is empty.
	OldestCreated, NewestCreated int64
	// TopSubjects are the subjects with the most live rows, most first,
	// ties by subject; at most the topN asked for.
	TopSubjects []SubjectCount
	// Size is the disk space in bytes that SizeScope describes, or -1 when
	// the database cannot tell.
	Size int64
	// SizeScope says what Size measures: "table" (the table with its
	// indexes and, on PostgreSQL, its TOAST data; on MySQL/MariaDB InnoDB's
	// estimate, which can lag), "database" (the whole SQLite file, which may
	// hold other tables, without its WAL file), or "" when Size is -1.
	SizeScope string
	// GaleraSyncWait is the node's wsrep_sync_wait when the database is a
	// node of a Galera cluster, -1 otherwise. Without its read bit (an even
	// value, 0 by default) the node answers reads without waiting for
	// writes other nodes have certified, so a session saved through one
	// node can look unknown on another: set wsrep_sync_wait=1 when
	// requests can reach different nodes.
	GaleraSyncWait int
}

// SubjectCount is one subject and its number of live rows.
type SubjectCount struct {
	Subject string
	Live    int64
}

// Stats reports counts as of at, the topN subjects
// with the most live rows (none when topN < 1) and the table's disk size
// where the database can tell; a failing size query only makes the size
// unknown. On PostgreSQL, run it outside a transaction, since a failed
// statement aborts the transaction. The figures come from a few separate
// statements, so under concurrent writes they may not add up exactly. A
// missing table is the database's error; see TableExists.
func (r *Repository) Stats(ctx context.Context, at time.Time, topN int) (Stats, error) {
	var s Stats
	now := at.UnixMilli()
	t := r.st.Quote(r.st.Table())
	_, err := r.st.QueryRow(ctx,
		"SELECT COUNT(*),"+
			" COALESCE(SUM(CASE WHEN expires_at > ? THEN 1 ELSE 0 END), 0),"+
			" COALESCE(SUM(CASE WHEN expires_at > ? AND subject = '' THEN 1 ELSE 0 END), 0),"+
			" COALESCE(MIN(created_at), 0), COALESCE(MAX(created_at), 0)"+
			" FROM "+t,
		[]any{now, now}, &s.Total, &s.Live, &s.Anonymous, &s.OldestCreated, &s.NewestCreated)
	if err != nil {
		return Stats{}, fmt.Errorf("repository: stats: %w", err)
	}
	s.Expired = s.Total - s.Live
	_, err = r.st.QueryRow(ctx,
		"SELECT COUNT(DISTINCT subject) FROM "+t+" WHERE subject <> '' AND expires_at > ?",
		[]any{now}, &s.Subjects)
	if err != nil {
		return Stats{}, fmt.Errorf("repository: stats: %w", err)
	}
	if topN > 0 {
		if s.TopSubjects, err = r.topSubjects(ctx, now, topN); err != nil {
			return Stats{}, fmt.Errorf("repository: stats: %w", err)
		}
	}
	if s.Size, s.SizeScope, err = r.size(ctx); err != nil {
		// A database that cannot tell (a PostgreSQL- or MySQL-compatible
		// one without the function or view) is not a failure of Stats; an
		// ended ctx is.
		if ctx.Err() != nil {
			return Stats{}, fmt.Errorf("repository: stats: size: %w", err)
		}
		s.Size, s.SizeScope = -1, ""
	}
	s.GaleraSyncWait = r.galeraSyncWait(ctx)
	return s, nil
}

func (r *Repository) topSubjects(ctx context.Context, now int64, n int) ([]SubjectCount, error) {
	q := fmt.Sprintf("SELECT subject, COUNT(*) FROM %s WHERE subject <> '' AND expires_at > ?"+
		" GROUP BY subject ORDER BY COUNT(*) DESC, subject LIMIT %d", r.st.Quote(r.st.Table()), n)
	rows, err := r.st.Rows(ctx, q, []any{now})
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []SubjectCount{}
	for rows.Next() {
		var c SubjectCount
		if err := rows.Scan(&c.Subject, &c.Live); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// galeraSyncWait returns wsrep_sync_wait on a Galera node, -1 elsewhere
// (including a database that cannot say).
func (r *Repository) galeraSyncWait(ctx context.Context) int {
	if r.st.Dialect() != store.MySQL {
		return -1
	}
	var on, wait int
	if _, err := r.st.QueryRow(ctx, "SELECT @@wsrep_on, @@wsrep_sync_wait", nil, &on, &wait); err != nil || on == 0 {
		return -1
	}
	return wait
}

// size measures the table per dialect: PostgreSQL's
// pg_total_relation_size; MySQL's information_schema data and index
// lengths; on SQLite the dbstat virtual table when the driver was built
// with it, else the database file's page_count * page_size.
func (r *Repository) size(ctx context.Context) (int64, string, error) {
	var n sql.NullInt64
	switch r.st.Dialect() {
	case store.Postgres:
		if _, err := r.st.QueryRow(ctx, "SELECT pg_total_relation_size(to_regclass(?))",
			[]any{r.st.Quote(r.st.Table())}, &n); err != nil {
			return -1, "", err
		}
		if n.Valid {
			return n.Int64, "table", nil
		}
		return -1, "", nil
	case store.MySQL:
		schema, name := store.SplitTable(r.st.Table())
		found, err := r.st.QueryRow(ctx, "SELECT data_length + index_length FROM information_schema.tables"+
			" WHERE table_schema = COALESCE(NULLIF(?, ''), DATABASE()) AND table_name = ?", []any{schema, name}, &n)
		if err != nil {
			return -1, "", err
		}
		if found && n.Valid {
			return n.Int64, "table", nil
		}
		return -1, "", nil
	default:
		// dbstat is optional in SQLite builds; its absence is not an error.
		found, err := r.st.QueryRow(ctx, "SELECT SUM(pgsize) FROM dbstat WHERE name IN (?, ?, ?)",
			[]any{r.st.Table(), r.st.Table() + "_expires_at_idx", r.st.Table() + "_subject_idx"}, &n)
		if err == nil && found && n.Valid {
			return n.Int64, "table", nil
		}
		var pages, pageSize int64
		if _, err := r.st.QueryRow(ctx, "SELECT page_count, page_size FROM pragma_page_count(), pragma_page_size()",
			nil, &pages, &pageSize); err != nil {
			return -1, "", err
		}
		return pages * pageSize, "database", nil
	}
}

// TableExists reports whether the table exists where the repository's
// statements look for it: in its schema when the name is qualified, else
// PostgreSQL's search_path, MySQL's current database, SQLite's main
// schema. A failure to ask is an error, never a false.
func (r *Repository) TableExists(ctx context.Context) (bool, error) {
	var q string
	var args []any
	schema, name := store.SplitTable(r.st.Table())
	switch r.st.Dialect() {
	case store.Postgres:
		q, args = "SELECT COUNT(*) FROM (SELECT to_regclass(?) AS c) AS x WHERE c IS NOT NULL", []any{r.st.Quote(r.st.Table())}
	case store.MySQL:
		q, args = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = COALESCE(NULLIF(?, ''), DATABASE()) AND table_name = ?", []any{schema, name}
	default:
		q, args = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?", []any{name}
	}
	var n int64
	if _, err := r.st.QueryRow(ctx, q, args, &n); err != nil {
		return false, fmt.Errorf("repository: table exists: %w", err)
	}
	return n > 0, nil
}

// CountSubject reports how many rows of subject the table holds, live or
// expired: what DeleteSubject would delete. An empty subject counts
// nothing.
func (r *Repository) CountSubject(ctx context.Context, subject string) (int64, error) {
	var n int64
	if _, err := r.st.QueryRow(ctx, "SELECT COUNT(*) FROM "+r.st.Quote(r.st.Table())+
		" WHERE subject = ? AND subject <> ''", []any{subject}, &n); err != nil {
		return 0, fmt.Errorf("repository: count subject: %w", err)
	}
	return n, nil
}
