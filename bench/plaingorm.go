package bench

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"gorm.io/gorm"
)

// plainGorm is what a GORM user writes without a session library: a model,
// Create, Take and Save, GORM's default transaction around every write.
type plainGorm struct {
	ns *NS
	db *gorm.DB
}

type gormRow struct {
	ID        string `gorm:"primaryKey;size:64"`
	Payload   []byte `gorm:"not null"`
	ExpiresAt int64  `gorm:"not null;index"`
}

func (gormRow) TableName() string { return rawTable }

type gormHandle struct {
	row gormRow
	p   Payload
}

func newPlainGorm(ctx context.Context, ns *NS) (Subject, error) {
	db, err := ns.Gorm(nil)
	if err != nil {
		return nil, err
	}
	return &plainGorm{ns: ns, db: db}, nil
}

func (g *plainGorm) Name() string { return "gorm" }

func (g *plainGorm) Reset(ctx context.Context) error {
	return g.ns.Exec(ctx, append([]string{"DROP TABLE IF EXISTS " + rawTable}, idTableDDL(g.ns.Dialect, rawTable)...)...)
}

func (g *plainGorm) Seed(ctx context.Context, n int, exp time.Time) ([]string, error) {
	return seedIDTable(ctx, g.ns, n, exp)
}

func (g *plainGorm) Create(ctx context.Context) error {
	b, err := json.Marshal(SamplePayload(0))
	if err != nil {
		return err
	}
	row := gormRow{ID: NewToken(), Payload: b, ExpiresAt: time.Now().Add(Lifetime).UnixMilli()}
	return g.db.WithContext(ctx).Create(&row).Error
}

func (g *plainGorm) get(ctx context.Context, key string, h *gormHandle) error {
	err := g.db.WithContext(ctx).Where("id = ? AND expires_at > ?", key, nowMs()).Take(&h.row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return errMissing
	}
	if err != nil {
		return err
	}
	return json.Unmarshal(h.row.Payload, &h.p)
}

func (g *plainGorm) Load(ctx context.Context, key string) error {
	var h gormHandle
	return g.get(ctx, key, &h)
}

func (g *plainGorm) Open(ctx context.Context, key string) (any, error) {
	h := &gormHandle{}
	return h, g.get(ctx, key, h)
}

func (g *plainGorm) Save(ctx context.Context, h any) error {
	gh := h.(*gormHandle)
	gh.p.Visits++
	b, err := json.Marshal(&gh.p)
	if err != nil {
		return err
	}
	gh.row.Payload, gh.row.ExpiresAt = b, time.Now().Add(Lifetime).UnixMilli()
	return g.db.WithContext(ctx).Save(&gh.row).Error
}

func (g *plainGorm) Cleanup(ctx context.Context) (int64, error) {
	tx := g.db.WithContext(ctx).Where("expires_at <= ?", nowMs()).Delete(&gormRow{})
	return tx.RowsAffected, tx.Error
}

func (g *plainGorm) Close() error {
	if d, err := g.db.DB(); err == nil {
		return d.Close()
	}
	return nil
}
