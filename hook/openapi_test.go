package hook_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestOpenAPIMatchesTheRoutes: every admin route is in the document, and
// every operation of the document is a route.
func TestOpenAPIMatchesTheRoutes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	rec := f.do(httptest.NewRequest(http.MethodGet, "/admin/openapi.json", nil))
	if rec.Code != 200 {
		t.Fatalf("openapi.json: %d", rec.Code)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("not an OpenAPI 3 document: %v", err)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	param := regexp.MustCompile(`:([a-z]+)`)
	var routed []string
	for _, r := range f.server.Routes() {
		if strings.HasPrefix(r.Path, "/admin/") {
			routed = append(routed, r.Method+" "+param.ReplaceAllString(r.Path, "{$1}"))
		}
	}
	sort.Strings(documented)
	sort.Strings(routed)
	if strings.Join(documented, "\n") != strings.Join(routed, "\n") {
		t.Fatalf("documented:\n%s\nrouted:\n%s", strings.Join(documented, "\n"), strings.Join(routed, "\n"))
	}
}

// TestOpenAPIStructure: what a linter asks of the document (redocly's
// recommended rules, run by CI when npx is there) holds without one: a
// licence and a server, every operation with a unique operationId, known
// tags, a summary, a description and a 4xx answer, 401 where a token is
// needed and 403 where a moderator's is, its path parameters declared,
// and every $ref found.
func TestOpenAPIStructure(t *testing.T) {
	rec := newFixture(t, nil).do(httptest.NewRequest(http.MethodGet, "/admin/openapi.json", nil))
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	info, _ := doc["info"].(map[string]any)
	license, _ := info["license"].(map[string]any)
	if license["name"] != "Apache-2.0" || license["url"] == nil || info["description"] == nil {
		t.Errorf("info: %v", info)
	}
	if servers, _ := doc["servers"].([]any); len(servers) == 0 {
		t.Error("no servers")
	}
	tags := map[string]bool{}
	for _, tg := range doc["tags"].([]any) {
		tag := tg.(map[string]any)
		if tag["description"] == nil {
			t.Errorf("tag %v has no description", tag["name"])
		}
		tags[tag["name"].(string)] = true
	}
	ids := map[string]bool{}
	param := regexp.MustCompile(`\{([a-z_]+)\}`)
	for path, ops := range doc["paths"].(map[string]any) {
		for method, o := range ops.(map[string]any) {
			op := o.(map[string]any)
			name := strings.ToUpper(method) + " " + path
			id, _ := op["operationId"].(string)
			if id == "" || ids[id] {
				t.Errorf("%s: operationId %q missing or not unique", name, id)
			}
			ids[id] = true
			opTags, _ := op["tags"].([]any)
			if len(opTags) == 0 {
				t.Errorf("%s: no tag", name)
			}
			for _, tg := range opTags {
				if !tags[tg.(string)] {
					t.Errorf("%s: tag %v is not declared", name, tg)
				}
			}
			if op["summary"] == nil || op["description"] == nil {
				t.Errorf("%s: no summary or description", name)
			}
			responses := op["responses"].(map[string]any)
			has := func(code string) bool { _, ok := responses[code]; return ok }
			fourxx := false
			for code := range responses {
				fourxx = fourxx || strings.HasPrefix(code, "4")
			}
			if !fourxx {
				t.Errorf("%s: no 4xx answer", name)
			}
			if sec, ok := op["security"].([]any); !(ok && len(sec) == 0) && !has("401") {
				t.Errorf("%s needs a token and does not say 401", name)
			}
			if strings.Contains(op["summary"].(string), "(moderator)") && !has("403") {
				t.Errorf("%s takes a moderator's token and does not say 403", name)
			}
			declared := map[string]bool{}
			params, _ := op["parameters"].([]any)
			for _, p := range params {
				pm := p.(map[string]any)
				if ref, ok := pm["$ref"].(string); ok {
					pm = resolve(t, doc, ref)
				}
				if pm["in"] == "path" {
					declared[pm["name"].(string)] = true
				}
			}
			for _, m := range param.FindAllStringSubmatch(path, -1) {
				if !declared[m[1]] {
					t.Errorf("%s: path parameter %s is not declared", name, m[1])
				}
			}
		}
	}
	var refs func(v any)
	refs = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if ref, ok := x.(string); ok && k == "$ref" {
					resolve(t, doc, ref)
				}
				refs(x)
			}
		case []any:
			for _, x := range v {
				refs(x)
			}
		}
	}
	refs(doc)
}

// resolve finds a local $ref in doc, failing the test when it is not there.
func resolve(t *testing.T, doc map[string]any, ref string) map[string]any {
	t.Helper()
	var cur any = doc
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		m, _ := cur.(map[string]any)
		cur = m[part]
	}
	found, ok := cur.(map[string]any)
	if !ok {
		t.Errorf("$ref %s finds nothing", ref)
	}
	return found
}
