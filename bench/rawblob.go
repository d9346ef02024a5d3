package bench

import (
	"context"
	"database/sql"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gormsession/gormsession/codec"
)

// rawBlob is the second hand-written baseline, the one an outside harness
// used: the statements and drivers of raw, but the payload stays an opaque
// blob both ways. A load reads the bytes and does not decode them; a save
// writes the bytes it holds back with one blind upsert (no version check,
// no encoding). It is the floor of the database round trip alone: what
// gormsession adds over it is the codec (measured on its own by
// CodecBench), the library and GORM.
type rawBlob struct {
	*raw
	blob []byte // what Create stores: SamplePayload(0) encoded once
}

type rawBlobHandle struct {
	key  string
	blob []byte
}

func newRawBlob(ctx context.Context, ns *NS) (Subject, error) {
	r, err := newRaw(ctx, ns)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(SamplePayload(0))
	if err != nil {
		return nil, err
	}
	return &rawBlob{raw: r.(*raw), blob: b}, nil
}

func (r *rawBlob) Name() string { return "rawblob" }

func (r *rawBlob) Create(ctx context.Context) error {
	_, err := r.exec(ctx, r.upsert, NewToken(), r.blob, time.Now().Add(Lifetime).UnixMilli())
	return err
}

// read returns the stored bytes of key, undecoded.
func (r *rawBlob) read(ctx context.Context, key string) ([]byte, error) {
	var b []byte
	var err error
	if r.pool != nil {
		err = r.pool.QueryRow(ctx, r.load, key, nowMs()).Scan(&b)
		if err == pgx.ErrNoRows {
			return nil, errMissing
		}
	} else {
		err = r.db.QueryRowContext(ctx, r.load, key, nowMs()).Scan(&b)
		if err == sql.ErrNoRows {
			return nil, errMissing
		}
	}
	return b, err
}

func (r *rawBlob) Load(ctx context.Context, key string) error {
	_, err := r.read(ctx, key)
	return err
}

func (r *rawBlob) Open(ctx context.Context, key string) (any, error) {
	b, err := r.read(ctx, key)
	return &rawBlobHandle{key: key, blob: b}, err
}

func (r *rawBlob) Save(ctx context.Context, h any) error {
	bh := h.(*rawBlobHandle)
	_, err := r.exec(ctx, r.upsert, bh.key, bh.blob, time.Now().Add(Lifetime).UnixMilli())
	return err
}

// Codec micro-benchmarks: the cost of gormsession's default codec
// (codec.JSON) on the benchmark's payload, which rawblob never pays.
const (
	CodecDecode = "decode"
	CodecEncode = "encode"
)

// CodecBench returns the benchmark of the default codec decoding (into a
// fresh Payload, as a load does) or encoding SamplePayload(0).
func CodecBench(op string) func(*testing.B) {
	var c codec.JSON
	p := SamplePayload(0)
	blob, err := c.Encode(&p)
	if err != nil {
		panic(err)
	}
	if op == CodecEncode {
		return func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Encode(&p); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	return func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var q Payload
			if err := c.Decode(blob, &q); err != nil {
				b.Fatal(err)
			}
		}
	}
}
