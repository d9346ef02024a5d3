package model_test

import (
	"fmt"

	"github.com/gormsession/gormsession/model"
)

// A stored row: the hex SHA-256 of the token, never the token, and every
// time in Unix milliseconds.
func ExampleSessionRow() {
	row := model.SessionRow{
		ID:        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		Payload:   []byte(`{"items":["apple"]}`),
		Version:   1,
		CreatedAt: 1767225600000,
		Deadline:  1767312000000, // 24h later
		ExpiresAt: 1767312000000,
	}
	fmt.Println(model.TableDefault, len(row.ID) == 64, (row.Deadline-row.CreatedAt)/3600000)
	// Output: sessions true 24
}
