package rules

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// TestAliasExpansionIsBounded: aliases that would repeat more than
// MaxAliasExpansion of the file are refused at the alias that goes past it,
// before anything is compiled; reusing small parts stays allowed.
func TestAliasExpansionIsBounded(t *testing.T) {
	t.Parallel()
	var terms strings.Builder // about 1 MB of terms, under 1 MiB of values
	for i := 0; terms.Len() < 1<<20; i++ {
		fmt.Fprintf(&terms, "term%06d, ", i)
	}
	listCopies := "version: 1\nlists:\n  big: &big {terms: [" + terms.String() + "]}\n"
	condCopies := "version: 1\nrules:\n  - {id: r0, action: flag, when: {user.id: {in: &ids [" + terms.String() + "]}}}\n"
	for i := 1; i <= 300; i++ {
		listCopies += fmt.Sprintf("  copy-%d: *big\n", i)
		condCopies += fmt.Sprintf("  - {id: r%d, action: flag, when: {user.id: {in: *ids}}}\n", i)
	}
	listCopies += "rules: []\n"
	small := "version: 1\nsettings: {exempt: &staff {user.role: [admin, moderator]}}\nrules:\n"
	for i := range 50 {
		small += fmt.Sprintf("  - {id: r%d, action: flag, when: {text: {contains: [x%d]}}, exempt: *staff}\n", i, i)
	}
	cases := []struct {
		name, src string
		line      int // where the refusal points (the second copy: the first stays under 1 MiB); 0: accepted
	}{
		{"a 1 MB list aliased 300 times as lists", listCopies, 5},
		{"a 1 MB list of values aliased in 300 conditions", condCopies, 5},
		{"small parts reused", small, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("rules.yaml", []byte(tc.src), nil)
			if tc.line == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var fe *FileError
			if !errors.As(err, &fe) || len(fe.Problems) != 1 || !strings.Contains(fe.Problems[0].Msg, "aliases repeat more than") {
				t.Fatalf("err %v", err)
			}
			if fe.Problems[0].Line != tc.line {
				t.Fatalf("refused at line %d, want %d", fe.Problems[0].Line, tc.line)
			}
		})
	}
}

// TestSetsAreSharedAcrossRules: rules naming the same list in equals, in
// or not_in share one set, and in in_cidr one list of networks, so a long
// list named by many rules is held once.
func TestSetsAreSharedAcrossRules(t *testing.T) {
	t.Parallel()
	src := `version: 1
lists:
  ids: {terms: [a, b, c]}
  nets: {terms: [203.0.113.0/24, 2001:db8::/32]}
rules:
  - {id: one, action: flag, when: {user.id: {in: [list.ids]}}}
  - {id: two, action: flag, when: {channel.id: {not_in: [list.ids]}}}
  - {id: three, action: flag, when: {links: {in: [list.ids]}}}
  - {id: four, action: flag, when: {request_info.ip: {in_cidr: [list.nets]}}}
  - {id: five, action: flag, when: {user.ip: {in_cidr: [list.nets]}}}
`
	set, err := Parse("rules.yaml", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	ptr := func(i int) uintptr { return reflect.ValueOf(set.Rules[i].When.(*setCond).set).Pointer() }
	if ptr(0) != ptr(1) {
		t.Fatal("the same list makes two sets")
	}
	if ptr(0) == ptr(2) {
		t.Fatal("links read their list as domains: their set is not the same")
	}
	nets := func(i int) *netip.Prefix { return &set.Rules[i].When.(*cidrCond).prefixes[0] }
	if nets(3) != nets(4) {
		t.Fatal("the same list of networks is held twice")
	}
}
