package codec_test

import (
	"fmt"

	"github.com/gormsession/gormsession/codec"
)

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
