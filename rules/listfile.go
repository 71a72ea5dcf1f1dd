package rules

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// The rules file and its list files are read by a process that may run as
// a more privileged user than the moderators who edit them, and a reload
// error can travel further than the file's folder. So a list file must be a
// regular file inside the rules file's folder (no `..`, no absolute path,
// no symbolic link leading out of it); a FIFO or device is refused rather
// than waited on; reading is bounded in size (MaxFileSize) and time
// (MaxReadTime); and no error quotes a list file's content, only its
// file:line:column.

// MaxReadTime bounds the reading of one file, for a file system that hangs.
const MaxReadTime = 5 * time.Second

// ListFolder returns the ReadFile that reads list files from dir, refusing
// any path or symbolic link that leads out of it and any file that is not a
// regular one.
func ListFolder(dir string) ReadFile {
	return func(name string) ([]byte, error) {
		return withinTime(name, func() ([]byte, error) {
			root, err := os.OpenRoot(dir)
			if err != nil {
				return nil, err
			}
			defer root.Close()
			f, err := root.OpenFile(name, os.O_RDONLY|openNonBlocking, 0)
			if err != nil {
				return nil, err
			}
			defer f.Close()
			return readOpened(f, name)
		})
	}
}

// readRegular reads the rules file itself with the same limits.
func readRegular(path string) ([]byte, error) {
	return withinTime(path, func() ([]byte, error) {
		f, err := os.OpenFile(path, os.O_RDONLY|openNonBlocking, 0)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return readOpened(f, path)
	})
}

func readOpened(f *os.File, name string) ([]byte, error) {
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file (%s)", name, kindOf(info.Mode()))
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, MaxFileSize)
	}
	return data, nil
}

func kindOf(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a folder"
	case m&os.ModeNamedPipe != 0:
		return "a FIFO"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	}
	return "not a plain file"
}

// errTooSlow is returned for a file that took longer than MaxReadTime.
var errTooSlow = fmt.Errorf("reading took longer than %s", MaxReadTime)

// withinTime runs read, giving up after MaxReadTime. A read that hangs is
// left behind: its goroutine ends when the file system answers.
func withinTime(name string, read func() ([]byte, error)) ([]byte, error) {
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		data, err := read()
		done <- result{data, err}
	}()
	timer := time.NewTimer(MaxReadTime)
	defer timer.Stop()
	select {
	case r := <-done:
		return r.data, r.err
	case <-timer.C:
		return nil, fmt.Errorf("%s: %w", name, errTooSlow)
	}
}

// listFile reads a list file into list: one term a line; blank lines and
// lines starting with # are ignored. Each term keeps its line and column,
// so that errors point at the list file, not at rules.yaml.
func (p *parser) listFile(n *yaml.Node, path, file string, list *List) {
	if !filepath.IsLocal(file) {
		p.errorf(n, "%s.file: %q is not inside the rules file's folder: a list file is named relative to it, "+
			"without `..` or a leading /", path, file)
		return
	}
	full := filepath.Join(p.dir, file)
	data, err := p.read(filepath.Clean(file))
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = fmt.Errorf("%s: %w", file, pe.Err)
		}
		p.errorf(n, "%s.file: %v", path, err)
		return
	}
	p.hash.Write([]byte(full))
	p.hash.Write(data)
	p.files = append(p.files, full)
	list.file, list.first = full, len(list.Terms)
	for i, line := range strings.Split(string(data), "\n") {
		term := strings.TrimSpace(line)
		if term == "" || strings.HasPrefix(term, "#") {
			continue
		}
		col := utf8.RuneCountInString(line[:strings.Index(line, term)]) + 1
		list.Terms = append(list.Terms, term)
		list.at = append(list.at, [2]int32{int32(i + 1), int32(col)})
	}
}

// listTerm names one term of a list, for reporting each bad one once.
type listTerm struct {
	list  string
	index int
}

// fileTermError reports term i of list at its line of the list file,
// without quoting it, once however many rules use the list. It reports
// false for a term that does not come from a list file.
func (p *parser) fileTermError(list *List, i int, reason string) bool {
	k := i - list.first
	if list.file == "" || k < 0 || k >= len(list.at) {
		return false
	}
	if !p.reported[listTerm{list.Name, i}] {
		if p.reported == nil {
			p.reported = map[listTerm]bool{}
		}
		p.reported[listTerm{list.Name, i}] = true
		p.problems = append(p.problems, Problem{File: list.file, Line: int(list.at[k][0]), Column: int(list.at[k][1]),
			Msg: fmt.Sprintf("lists.%s: the term on this line: %s", list.Name, reason)})
	}
	return true
}

// splitList reads a built-in list: one term a line, # for comments.
func splitList(data string) []string {
	var terms []string
	for _, line := range strings.Split(data, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		terms = append(terms, line)
	}
	return terms
}
