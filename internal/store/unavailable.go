package store

import (
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
)

// Unavailable reports whether err says the database could not be reached
// or cannot take statements right now: the connection was refused, reset
// or broke mid-statement; the server is shutting down, restarting, in
// recovery or read-only (a failover in progress); it has too many
// connections; a Galera node is not ready. The outcome of a write that
// failed this way is unknown: it may have been applied. Lock and statement
// timeouts, deadlocks and the caller's own context ending are not
// unavailability.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return true
	}
	var coded interface{ SQLState() string }
	if errors.As(err, &coded) {
		switch state := coded.SQLState(); {
		case strings.HasPrefix(state, "08"), // connection exception
			state == "57P01", state == "57P02", state == "57P03", // shut down, crashed, not yet accepting
			state == "25006", // read-only transaction: a standby, or a primary being demoted
			state == "53300": // too many connections
			return true
		}
	}
	msg := err.Error()
	for _, s := range []string{
		"invalid connection",            // go-sql-driver/mysql: the connection broke
		"Error 1290",                    // MySQL/MariaDB running with --read-only
		"Error 1836",                    // read-only mode
		"Error 1040",                    // too many connections
		"Error 1047",                    // WSREP has not yet prepared node for application use
		"Error 1053",                    // server shutdown in progress
		"server closed the connection",  // lib/pq, pgx
		"conn closed",                   // pgx
		"connection reset by peer",      // when the cause is not wrapped
		"connection refused",            // when the cause is not wrapped
		"broken pipe",                   // when the cause is not wrapped
		"the database system is",        // PostgreSQL: starting up, shutting down, in recovery
		"terminating connection due to", // PostgreSQL: administrator command, conflict with recovery
	} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// NotSent reports whether err happened before the statement reached the
// server (dialling it failed), so the statement certainly changed nothing
// and may be sent again even if it writes.
func NotSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}
