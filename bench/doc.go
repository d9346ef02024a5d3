// Package bench compares gormsession with hand-written SQL, plain GORM and
// the peer session stores on PostgreSQL, SQLite and MySQL/MariaDB.
//
// It is a module of its own so that the peers and drivers it needs never
// enter the library's go.mod. The driver program in cmd/sessionbench runs
// the workloads interleaved over several passes and writes the tables of
// docs/performance.md; bench_test.go exposes the same workloads as ordinary
// Go benchmarks for profiling (go test -bench . -cpuprofile ...).
//
// Every subject keeps its data in a namespace of its own (a PostgreSQL
// schema, a MySQL database or a SQLite file) named bench_gs_<run>_<subject>,
// so that stores with fixed table names ("sessions") never meet and two
// runs at once never touch each other's tables; Drop removes it afterwards.
package bench
