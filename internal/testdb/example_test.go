package testdb_test

import (
	"fmt"

	"github.com/gormsession/gormsession/internal/testdb"
)

func ExampleSQLiteDSN() {
	fmt.Println(testdb.SQLiteDSN("app.db"))
	// Output: file:app.db?_journal_mode=WAL&_busy_timeout=10000&_txlock=immediate&_synchronous=NORMAL
}
