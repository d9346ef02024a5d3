package session

import (
	"context"
	"log/slog"

	"gorm.io/gorm"

	"github.com/gormsession/gormsession/internal/store"
)

// checkGalera logs one Warn line when db is a node of a Galera cluster
// (MariaDB or Percona XtraDB Cluster) that answers reads without waiting
// for the writes other nodes have certified (wsrep_sync_wait without its
// read bit): a session saved through one node may then look unknown, or
// stale, on the next request that another node serves. Any other database,
// or one that cannot say, is left alone.
func checkGalera(ctx context.Context, db *gorm.DB, logger *slog.Logger, table string) {
	if d, err := store.DialectOf(db); err != nil || d != store.MySQL {
		return
	}
	var on, syncWait int64
	rows, err := db.WithContext(ctx).Raw("SELECT @@wsrep_on, @@wsrep_sync_wait").Rows()
	if err != nil {
		return // MySQL without Galera has no such variables
	}
	defer rows.Close()
	if !rows.Next() || rows.Scan(&on, &syncWait) != nil || on == 0 || syncWait&1 != 0 {
		return
	}
	logger.LogAttrs(ctx, slog.LevelWarn,
		"gormsession: this Galera node may serve reads that miss writes certified on other nodes; when requests can reach different nodes, set wsrep_sync_wait=1 (a DSN parameter, or for the server)",
		slog.String("table", table), slog.Int64("wsrep_sync_wait", syncWait))
}
