package rules

import (
	"embed"
	"fmt"
	"strings"
)

//go:embed builtin/*.txt
var builtinFS embed.FS

// Builtin returns the terms of a list built into modgate.
func Builtin(name string) ([]string, error) {
	data, err := builtinFS.ReadFile("builtin/" + name + ".txt")
	if err != nil {
		return nil, fmt.Errorf("no built-in list %q (built-in lists: %s)", name, strings.Join(BuiltinNames(), ", "))
	}
	return splitList(string(data)), nil
}

// BuiltinNames lists the built-in word lists.
func BuiltinNames() []string {
	entries, _ := builtinFS.ReadDir("builtin")
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".txt"))
	}
	return names
}
