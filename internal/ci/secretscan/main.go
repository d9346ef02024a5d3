// Command secretscan reads the log files a test run captured (see
// testdb.EnvCaptureLogs) and fails when any line holds something shaped
// like a secret of gormsession: a session token (43 characters of
// base64url that decode canonically to 32 bytes and mix upper case, lower
// case and digits), a stored id (64 hex digits), or a marker of a test
// payload (a JSON-encoded Cart, or the words the tests put in payloads).
//
// Usage: secretscan [-min-lines n] dir
//
// GORM's logger writes each statement as two lines: the caller (file:line,
// then the error if any) and the SQL with its parameters. A statement whose
// caller is a _test.go file is the test's own (a test editing a row by
// hand names its id); its SQL line is not the library's and is skipped,
// and counted. Caller lines, which carry database errors, are always
// checked.
//
// It prints each hit as file:line: kind, with the matched text masked, a
// summary of how many lines it read, and exits 1 on any hit or when fewer
// than -min-lines lines were captured (the capture did not work).
package main

import (
	"bufio"
	"encoding/base64"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

var (
	hexRun   = regexp.MustCompile(`[0-9a-fA-F]+`)
	tokenRun = regexp.MustCompile(`[A-Za-z0-9_-]+`)
	// Payload markers: the JSON shape of the tests' Cart payload and the
	// distinctive words tests store in payloads.
	markers = []string{`"items":[`, `{"items":`, "PAYLOAD-", "secret-payload", "bystander", "victim"}
)

func main() {
	minLines := flag.Int("min-lines", 1, "fail when fewer lines were captured")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: secretscan [-min-lines n] dir")
		os.Exit(2)
	}
	files, err := filepath.Glob(filepath.Join(flag.Arg(0), "*.log"))
	if err != nil || len(files) == 0 {
		fmt.Fprintln(os.Stderr, "secretscan: no .log files in", flag.Arg(0))
		os.Exit(1)
	}
	var lines, hits int
	for _, f := range files {
		n, h, err := scan(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, "secretscan:", err)
			os.Exit(1)
		}
		fmt.Printf("secretscan: %s: %d lines, %d hits\n", filepath.Base(f), n, h)
		lines += n
		hits += h
	}
	fmt.Printf("secretscan: %d files, %d lines, %d hits (%d SQL lines of statements made by test files skipped)\n",
		len(files), lines, hits, skipped)
	if hits > 0 || lines < *minLines {
		if lines < *minLines {
			fmt.Printf("secretscan: only %d lines captured, want at least %d\n", lines, *minLines)
		}
		os.Exit(1)
	}
}

// gormCaller matches the first line of a GORM log entry: date, time, then
// the caller's file:line.
var gormCaller = regexp.MustCompile(`^\d{4}/\d{2}/\d{2} [\d:.]+ (\S+\.go):\d+`)

// skipped counts SQL lines of the tests' own statements.
var skipped int

func scan(path string) (lines, hits int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	testCaller := false
	for sc.Scan() {
		lines++
		text := sc.Text()
		if m := gormCaller.FindStringSubmatch(text); m != nil {
			testCaller = strings.HasSuffix(m[1], "_test.go")
		} else if testCaller && strings.HasPrefix(text, "[") {
			testCaller = false
			skipped++
			continue
		}
		for _, h := range check(text) {
			hits++
			fmt.Printf("%s:%d: %s\n", path, lines, h)
		}
	}
	return lines, hits, sc.Err()
}

// check returns a description of every secret-shaped thing in line.
func check(line string) []string {
	var out []string
	for _, m := range hexRun.FindAllString(line, -1) {
		if len(m) == 64 {
			out = append(out, "stored id (64 hex digits) "+mask(m))
		}
	}
	for _, m := range tokenRun.FindAllString(line, -1) {
		if isToken(m) {
			out = append(out, "token-shaped string "+mask(m))
		}
	}
	for _, m := range markers {
		if strings.Contains(line, m) {
			out = append(out, "payload marker "+m)
		}
	}
	return out
}

func isToken(s string) bool {
	if len(s) != 43 {
		return false
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(raw) != 32 || base64.RawURLEncoding.EncodeToString(raw) != s {
		return false
	}
	return strings.ContainsAny(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") &&
		strings.ContainsAny(s, "abcdefghijklmnopqrstuvwxyz") &&
		strings.ContainsAny(s, "0123456789")
}

func mask(s string) string { return s[:4] + "..." + s[len(s)-2:] }
