package main

import (
	"bytes"
	"context"
	"errors"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/model"
	"github.com/gormsession/gormsession/repository"
	"github.com/gormsession/gormsession/session"
)

// TestLayers checks that the command uses only the row-level packages of
// this module: it must work on any application's table without knowing
// the payload type.
func TestLayers(t *testing.T) {
	t.Parallel()
	const module = "github.com/gormsession/gormsession/"
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	var checked int
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		require.NoError(t, err)
		for _, imp := range f.Imports {
			path, err := strconv.Unquote(imp.Path.Value)
			require.NoError(t, err)
			if rest, ok := strings.CutPrefix(path, module); ok {
				require.Contains(t, []string{"model", "repository"}, rest, "%s imports %s", name, path)
			}
		}
		checked++
	}
	require.Positive(t, checked)
}

// buildBinary builds the command into a temporary directory and returns
// its path.
func buildBinary(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "sessionctl")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, goTool, "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// runBinary runs bin in the working directory dir ("" for the current
// one) with stdin, $GORMSESSION_DSN set to envDSN, and args. It returns
// the exit code, stdout and stderr.
func runBinary(t *testing.T, bin, dir, envDSN, stdin string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), EnvDSN+"="+envDSN)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), stdout.String(), stderr.String()
	}
	require.NoError(t, err)
	return 0, stdout.String(), stderr.String()
}

// TestBinary builds the command and runs it as a user would, against a
// SQLite file.
func TestBinary(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	dir := t.TempDir()
	ctx := context.Background()

	path := filepath.Join(dir, "demo.db")
	db := testdb.OpenAt(t, testdb.SQLite, path, nil)
	repo, err := repository.New(db, model.TableDefault)
	require.NoError(t, err)
	require.NoError(t, repo.Migrate(ctx))
	now := time.Now().UnixMilli()
	require.NoError(t, insertRow(db, model.TableDefault, model.SessionRow{ID: strings.Repeat("a", 64), Subject: "user:42",
		Payload: []byte("{}"), Version: 1, CreatedAt: now, UpdatedAt: now, Deadline: now + 3600_000, ExpiresAt: now + 3600_000}))

	sessionctl := func(stdin string, args ...string) (int, string, string) {
		return runBinary(t, bin, "", "", stdin, args...)
	}

	code, stdout, stderr := sessionctl("", "stats", "--dsn", path)
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, "Sessions        1 stored\n")
	require.Contains(t, stdout, "     1  user:42\n")

	code, stdout, _ = sessionctl("", "--help")
	require.Equal(t, exitOK, code)
	require.Contains(t, stdout, "Exit codes:")

	code, _, stderr = sessionctl("", "stats", "--dsn", filepath.Join(dir, "missing.db"))
	require.Equal(t, exitConnect, code)
	requireOneLine(t, stderr, "does not exist")

	code, _, stderr = sessionctl("", "stats", "--dsn", path, "--table", "nope")
	require.Equal(t, exitNoTable, code)
	requireOneLine(t, stderr, `table "nope" does not exist`)

	code, _, stderr = sessionctl("", "stats", "--dsn", "postgres://u:hunter2@db:notaport/x")
	require.Equal(t, exitBadDSN, code)
	requireOneLine(t, stderr, "bad DSN")
	require.NotContains(t, stderr, "hunter2")

	code, _, _ = sessionctl("", "revoke", "--all", "--dsn", path)
	require.Equal(t, exitAborted, code, "no answer on stdin: nothing revoked")
	code, stdout, _ = sessionctl("y\n", "revoke", "--all", "--dsn", path)
	require.Equal(t, exitOK, code)
	require.Equal(t, `revoked 1 session in table "sessions"`+"\n", stdout)
}

// TestSQLiteParamsAreTheRecommendedOnes: a SQLite DSN without parameters
// gets exactly the ones session.SQLiteDSN recommends.
func TestSQLiteParamsAreTheRecommendedOnes(t *testing.T) {
	t.Parallel()
	require.Equal(t, session.SQLiteDSN("x.db"), "file:x.db?"+sqliteParams)
}
