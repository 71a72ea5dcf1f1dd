package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/modgate/modgate/hook/stream"
)

// TestREADMEStartHere: the README's first commands are what they say:
// the signed message it shows gets the answer it shows from modgate with
// the shipped rules, and its test command is the one CI runs.
func TestREADMEStartHere(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	// The two commands open the README; the Start here section goes on
	// from them.
	at := strings.Index(readme, "## Start here")
	if at < 0 || !strings.HasPrefix(readme, "# modgate\n\n```sh\n") {
		t.Fatal("the README does not open with the two commands, followed later by a Start here section")
	}
	section := readme[:at+3+strings.Index(readme[at+3:], "\n## ")]

	serve := regexp.MustCompile(`STREAM_API_KEY=(\S+) STREAM_API_SECRET=(\S+) go run ./cmd/modgate serve`).FindStringSubmatch(section)
	body := regexp.MustCompile(`(?m)^body='(.*)'$`).FindStringSubmatch(section)
	answer := regexp.MustCompile("(?s)```json\n(.*?)\n```").FindStringSubmatch(section)
	if serve == nil || body == nil || answer == nil {
		t.Fatalf("the Start here section lacks the serve command, the body or the answer:\n%s", section)
	}
	if !strings.Contains(section, "-hmac "+serve[2]) || !strings.Contains(section, "X-Api-Key: "+serve[1]) {
		t.Fatal("the curl example does not sign with the secret and key modgate is started with")
	}
	r := start(t, map[string]string{"STREAM_API_KEY": serve[1], "STREAM_API_SECRET": serve[2], "MODGATE_RULES": shippedRules(t)})
	req, _ := http.NewRequest(http.MethodPost, "http://"+r.addr+"/hooks/before-message-send", strings.NewReader(body[1]))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Api-Key", serve[1])
	req.Header.Set("X-Signature", stream.Sign(serve[2], []byte(body[1])))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(got) != answer[1] {
		t.Fatalf("the README's message: %d %s\nthe README says %s", resp.StatusCode, got, answer[1])
	}

	testCmd := regexp.MustCompile(`(?m)^(go test \S+ \./\.\.\.) +# the tests`).FindStringSubmatch(section)
	ci, err := os.ReadFile(filepath.Join("..", "..", ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	if testCmd == nil || !strings.Contains(string(ci), `step "tests" `+testCmd[1]+"\n") {
		t.Fatalf("the README's test command %q is not the one .ci/run runs", testCmd)
	}
}
