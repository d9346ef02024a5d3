// Package codec turns session payloads into bytes and back. JSON is the
// default; Gob is the standard library's gob encoding. Encryption at rest is
// not a codec: it is session.WithEncryption, which binds each sealed payload
// to its row, so no wrapping can lose that binding.
//
// Decode errors never quote the payload: they say which codec failed and,
// where it helps, where (a byte offset, a field name and Go type), and they
// all match ErrInvalid with errors.Is.
package codec

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
)

// Codec encodes a session payload to bytes and decodes it back.
//
// Decode is given a pointer to a zero value and must either fill it
// completely or return an error; callers discard the value on error.
// Implementations must be safe for concurrent use.
type Codec interface {
	Encode(v any) ([]byte, error)
	Decode(data []byte, v any) error
}

// ErrInvalid matches every error returned for data a codec cannot decode:
// malformed, of another Go type, truncated or tampered with.
var ErrInvalid = errors.New("codec: invalid payload")

// JSON encodes with encoding/json. Unknown fields are ignored and missing
// ones keep their zero value, so adding or removing payload fields between
// deploys keeps old sessions readable; a field whose type changed
// incompatibly fails with ErrInvalid. The zero value is ready to use.
type JSON struct{}

// Encode implements Codec.
func (JSON) Encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("codec: json: encode: %w", sanitizeJSON(err))
	}
	return b, nil
}

// Decode implements Codec.
func (JSON) Decode(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w (json): %w", ErrInvalid, sanitizeJSON(err))
	}
	return nil
}

// sanitizeJSON keeps the position and types of a JSON error and drops any
// quoted value, which would be part of the payload.
func sanitizeJSON(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var uns *json.UnsupportedValueError
	var ute *json.UnsupportedTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ):
		where := typ.Field
		if typ.Struct != "" {
			where = typ.Struct + "." + typ.Field
		}
		return fmt.Errorf("field %q: a %s value cannot be stored in Go type %s", where, jsonKind(typ.Value), typ.Type)
	case errors.As(err, &uns):
		return errors.New("unsupported value")
	case errors.As(err, &ute):
		return fmt.Errorf("unsupported type %s", ute.Type)
	default:
		return errors.New("invalid JSON")
	}
}

// jsonKind reduces UnmarshalTypeError.Value ("number 42", "string", ...) to
// its kind, without the literal.
func jsonKind(v string) string {
	for i := 0; i < len(v); i++ {
		if v[i] == ' ' {
			return v[:i]
		}
	}
	return v
}

// Gob encodes with encoding/gob. Types must follow gob's rules (exported
// fields; interface values registered). The zero value is ready to use.
type Gob struct{}

// Encode implements Codec.
func (Gob) Encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(v); err != nil {
		return nil, fmt.Errorf("codec: gob: encode: %w", err)
	}
	return buf.Bytes(), nil
}

// Decode implements Codec. A panic inside encoding/gob on hostile input is
// turned into ErrInvalid.
func (Gob) Decode(data []byte, v any) (err error) {
	defer func() {
		if recover() != nil {
			err = fmt.Errorf("%w (gob)", ErrInvalid)
		}
	}()
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(v); err != nil {
		return fmt.Errorf("%w (gob)", ErrInvalid)
	}
	return nil
}
