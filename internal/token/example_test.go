package token_test

import (
	"fmt"

	"github.com/gormsession/gormsession/internal/token"
)

func ExampleParse() {
	tok, id := token.New()
	got, ok := token.Parse(tok)
	fmt.Println(len(tok), ok, got == id, len(id))

	_, ok = token.Parse(id) // a stored id is not a token
	fmt.Println(ok)
	// Output:
	// 43 true true 64
	// false
}
