package testdb

import (
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"gorm.io/gorm/logger"
)

// EnvCaptureLogs names a directory. When it is set, every pool Open makes
// without a logger of its own logs every statement at GORM's Info level
// to <dir>/gorm-<pid>.log, and the process's default slog logger (which
// session.New uses unless given WithLogger) writes at Debug level to
// <dir>/slog-<pid>.log. CI runs the session tests once this way and scans
// the files for tokens, ids and payloads (.ci/steps/20-secrets.sh).
const EnvCaptureLogs = "GORMSESSION_TEST_CAPTURE_LOGS"

var capture struct {
	once sync.Once
	gorm logger.Interface
}

// Logger returns the GORM logger Open installs when its config has none:
// logger.Discard normally, the capturing Info logger when
// GORMSESSION_TEST_CAPTURE_LOGS is set. Tests that open a *gorm.DB
// themselves use it so that their statements are captured too.
func Logger() logger.Interface {
	capture.once.Do(startCapture)
	return capture.gorm
}

func startCapture() {
	capture.gorm = logger.Discard
	dir := os.Getenv(EnvCaptureLogs)
	if dir == "" {
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		panic(fmt.Sprintf("testdb: %s: %v", EnvCaptureLogs, err))
	}
	open := func(kind string) *os.File {
		f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("%s-%d.log", kind, os.Getpid())),
			os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			panic(fmt.Sprintf("testdb: %s: %v", EnvCaptureLogs, err))
		}
		return f // left open for the life of the test process
	}
	capture.gorm = logger.New(log.New(open("gorm"), "", log.LstdFlags|log.Lmicroseconds), logger.Config{
		SlowThreshold:             time.Second,
		LogLevel:                  logger.Info,
		IgnoreRecordNotFoundError: false,
		Colorful:                  false,
	})
	slog.SetDefault(slog.New(slog.NewTextHandler(open("slog"), &slog.HandlerOptions{Level: slog.LevelDebug})))
}
