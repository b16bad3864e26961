// Package testenv finds what tests need outside the repository: the shared
// public captures and reference data beside the repository root
// (../shared), and external tools such as tshark. Where one is absent a test
// skips with a clear message, except under CI (TAPWIRE_CI=1, set by .ci/run),
// where absence is a failure, so CI always runs these tests.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// CI reports whether the tests run under CI (TAPWIRE_CI=1).
func CI() bool { return os.Getenv("TAPWIRE_CI") == "1" }

// Missing skips the test, or fails it under CI, with the reason.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if CI() {
		t.Fatalf("CI (TAPWIRE_CI=1): "+format, args...)
	}
	t.Skipf(format, args...)
}

// RepoRoot is the directory holding go.mod, found upwards from the test's
// working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testenv: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Shared returns ../shared/<sub> beside the repository root, skipping (or
// failing under CI) when it is absent.
func Shared(t testing.TB, sub string) string {
	t.Helper()
	p := filepath.Join(filepath.Dir(RepoRoot(t)), "shared", sub)
	if _, err := os.Stat(p); err != nil {
		Missing(t, "public reference data %s is absent beside the repository (../shared/%s): %v", p, sub, err)
	}
	return p
}

// Tool returns the path of an external program, skipping (or failing under
// CI) when it is not installed.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "%s is not installed (.ci/run installs it): %v", name, err)
	}
	return p
}

// Testdata returns a path under the repository's top-level testdata/.
func Testdata(t testing.TB, elem ...string) string {
	t.Helper()
	return filepath.Join(append([]string{RepoRoot(t), "testdata"}, elem...)...)
}
