// Command testreport reads `go test -json` output on stdin, prints failed
// tests' output and a summary, and exits non-zero when any test failed or
// any database subtest (named .../postgres, .../mysql or .../sqlite) was
// skipped. CI uses it so that a database that silently went missing cannot
// pass as green.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

func main() {
	outputs := map[string]*strings.Builder{}
	var passed, failed, skipped int
	var failures, dbSkips []string
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			fmt.Println(sc.Text())
			continue
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "output":
			b := outputs[key]
			if b == nil {
				b = &strings.Builder{}
				outputs[key] = b
			}
			b.WriteString(e.Output)
		case "pass":
			if e.Test != "" {
				passed++
			}
		case "fail":
			if e.Test != "" {
				failed++
			}
			failures = append(failures, key)
		case "skip":
			if e.Test == "" {
				continue
			}
			skipped++
			last := e.Test[strings.LastIndex(e.Test, "/")+1:]
			switch last {
			case "postgres", "mysql", "sqlite":
				dbSkips = append(dbSkips, key)
			}
		}
	}
	sort.Strings(failures)
	for _, k := range failures {
		if b := outputs[k]; b != nil {
			fmt.Printf("--- output of %s\n%s", k, b.String())
		} else {
			fmt.Printf("--- FAIL %s\n", k)
		}
	}
	for _, k := range dbSkips {
		fmt.Printf("--- SKIPPED database test %s: %s", k, outputs[k])
	}
	fmt.Printf("tests: %d passed, %d failed, %d skipped (%d database tests skipped)\n", passed, failed, skipped, len(dbSkips))
	if failed > 0 || len(dbSkips) > 0 {
		os.Exit(1)
	}
}
