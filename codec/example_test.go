package codec_test

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/gormsession/gormsession/codec"
)

// Seal payloads with AES-GCM, rotating from an old key to a new one: put the
// new key first and keep the old one until its sessions have expired.
func ExampleSealed() {
	oldKey := bytes.Repeat([]byte{1}, 32) // load real keys from your secret store
	newKey := bytes.Repeat([]byte{2}, 32)

	before, _ := codec.Sealed(codec.JSON{}, oldKey)
	after, _ := codec.Sealed(codec.JSON{}, newKey, oldKey)

	stored, _ := before.Encode(map[string]int{"visits": 3})
	var v map[string]int
	fmt.Println(after.Decode(stored, &v), v["visits"])

	stored[len(stored)-1] ^= 1 // tamper with one bit
	err := after.Decode(stored, &v)
	fmt.Println(errors.Is(err, codec.ErrInvalid))
	// Output:
	// <nil> 3
	// true
}

func ExampleJSON() {
	var c codec.JSON
	b, _ := c.Encode(struct{ Items []string }{[]string{"apple"}})
	fmt.Println(string(b))

	var out struct{ Items int }
	fmt.Println(c.Decode(b, &out))
	// Output:
	// {"Items":["apple"]}
	// codec: invalid payload (json): field "Items": a array value cannot be stored in Go type int
}
