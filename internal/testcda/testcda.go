// Package testcda validates CDA documents in tests with an independent
// validator: xmllint (Debian's libxml2-utils) against HL7's normative CDA R2
// schema committed in interop/cda/schema.
package testcda

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Schema is the path of the CDA R2 schema's entry point.
func Schema() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "interop", "cda", "schema", "infrastructure", "cda", "CDA.xsd")
}

// Validate checks every document against the schema in one xmllint run; it
// skips locally without xmllint and fails in CI.
func Validate(tb testing.TB, docs ...[]byte) {
	tb.Helper()
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatal("xmllint is missing (Debian: libxml2-utils)")
		}
		tb.Skip("xmllint not installed: apt-get install libxml2-utils")
	}
	dir := tb.TempDir()
	args := []string{"--noout", "--nonet", "--schema", Schema()}
	for i, d := range docs {
		f := filepath.Join(dir, fmt.Sprintf("%d.xml", i))
		if err := os.WriteFile(f, d, 0o600); err != nil {
			tb.Fatal(err)
		}
		args = append(args, f)
	}
	if out, err := exec.Command(xmllint, args...).CombinedOutput(); err != nil {
		tb.Fatalf("not valid CDA R2: %v\n%.3000s", err, out)
	}
}
