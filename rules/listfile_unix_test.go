//go:build unix

package rules

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestFIFOListFileIsRefused: a FIFO as a list file, or as the rules file,
// once froze every reload for good, waiting for a writer. It is refused at
// once.
func TestFIFOListFileIsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "words.txt")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	rulesPath := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rulesPath, []byte(strings.Replace(listRules, "%s", "words.txt", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(rulesPath); err == nil || !strings.Contains(err.Error(), "not a regular file (a FIFO)") {
		t.Fatalf("list file: err %v", err)
	}
	if _, err := Load(fifo); err == nil || !strings.Contains(err.Error(), "not a regular file (a FIFO)") {
		t.Fatalf("rules file: err %v", err)
	}
}

// TestDeviceRulesFileIsRefused: a device is not read, not even up to the
// size limit.
func TestDeviceRulesFileIsRefused(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	if _, err := Load("/dev/zero"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("err %v", err)
	}
}
