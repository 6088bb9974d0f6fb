package typedstore_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// The complete examples of the documentation are the runnable Examples,
// word for word, so that go test checks what the documentation shows: the
// store's in the README, the middleware's in docs/http.md.
func TestReadmeExamplesAreTheRunnableOnes(t *testing.T) {
	for _, c := range []struct{ doc, example string }{
		{"README.md", "example_test.go"},
		{"docs/http.md", "httpsession/example_test.go"},
	} {
		doc, err := os.ReadFile(c.doc)
		if err != nil {
			t.Fatal(err)
		}
		src, err := os.ReadFile(c.example)
		if err != nil {
			t.Fatal(err)
		}
		s := string(src)
		start := strings.Index(s, "\nfunc Example() {")
		if start < 0 {
			t.Fatalf("%s has no func Example", c.example)
		}
		end := strings.Index(s[start:], "\n}\n")
		body := s[start+len("\nfunc Example() {") : start+end]
		if !strings.Contains(string(doc), body) {
			t.Errorf("%s does not contain the body of Example in %s word for word", c.doc, c.example)
		}
	}
}

// The code blocks of docs/users.md are parts of ExampleStore_DeleteOwned,
// word for word but for their indentation.
func TestUsersDocIsTheRunnableExample(t *testing.T) {
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	start := strings.Index(s, "\nfunc ExampleStore_DeleteOwned() {")
	if start < 0 {
		t.Fatal("example_test.go has no func ExampleStore_DeleteOwned")
	}
	body := s[start : start+strings.Index(s[start:], "\n}\n")+1]
	checkDocBlocks(t, "docs/users.md", body, "ExampleStore_DeleteOwned", 2)
}

// Every Go block in docs/lifetime.md is code of the runnable
// ExampleOptions_lifetime, word for word.
func TestLifetimeDocIsTheRunnableExample(t *testing.T) {
	src, err := os.ReadFile("httpsession/example_lifetime_test.go")
	if err != nil {
		t.Fatal(err)
	}
	checkDocBlocks(t, "docs/lifetime.md", string(src), "httpsession/example_lifetime_test.go", 4)
}

// The Go blocks of docs/schema.md that show code are the runnable
// ExampleOptions_migrations, word for word; the last is a sketch of Migrate.
func TestSchemaDocIsTheRunnableExample(t *testing.T) {
	src, err := os.ReadFile("example_schema_test.go")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("docs/schema.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(doc), "```go\n")[1:]
	if len(blocks) != 3 {
		t.Fatalf("docs/schema.md has %d Go code blocks; want 3", len(blocks))
	}
	for _, block := range blocks[:2] {
		block, _, _ = strings.Cut(block, "```")
		if !strings.Contains(dedent(string(src)), dedent(block)) {
			t.Errorf("docs/schema.md has a code block that is not in example_schema_test.go:\n%s", block)
		}
	}
}

// checkDocBlocks fails the test unless the doc has want Go code blocks,
// each of them in code (named where), word for word but for indentation.
func checkDocBlocks(t *testing.T, doc, code, where string, want int) {
	t.Helper()
	text, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	code = dedent(code)
	blocks := 0
	for _, block := range strings.Split(string(text), "```go\n")[1:] {
		block, _, _ = strings.Cut(block, "```")
		blocks++
		if !strings.Contains(code, dedent(block)) {
			t.Errorf("%s has a code block that is not in %s:\n%s", doc, where, block)
		}
	}
	if blocks != want {
		t.Errorf("%s has %d Go code blocks; want %d", doc, blocks, want)
	}
}

// dedent removes the leading tabs of every line.
func dedent(s string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		b.WriteString(strings.TrimLeft(line, "\t"))
	}
	return b.String()
}

// Every relative link of the README, docs/ and benchmarks/README.md leads to
// a file that exists, and every #anchor into a Markdown file to one of its
// headings.
func TestReadmeLinksResolve(t *testing.T) {
	docs, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	docs = append(docs, "README.md", "benchmarks/README.md")
	link := regexp.MustCompile(`\]\(([^)\s]+)\)|src="([^"]+)"`)
	for _, doc := range docs {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(withoutCode(string(text)), -1) {
			target := m[1] + m[2]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			path, anchor, _ := strings.Cut(target, "#")
			file := doc
			if path != "" {
				file = filepath.Join(filepath.Dir(doc), path)
				if _, err := os.Stat(file); err != nil {
					t.Errorf("%s: link to %s: %v", doc, target, err)
					continue
				}
			}
			if anchor == "" || !strings.HasSuffix(file, ".md") {
				continue
			}
			if !hasHeading(t, file, anchor) {
				t.Errorf("%s: link to %s: %s has no heading #%s", doc, target, file, anchor)
			}
		}
	}
}

// withoutCode returns Markdown text without its fenced code blocks.
func withoutCode(text string) string {
	var b strings.Builder
	in := false
	for line := range strings.Lines(text) {
		if strings.HasPrefix(line, "```") {
			in = !in
			continue
		}
		if !in {
			b.WriteString(line)
		}
	}
	return b.String()
}

// hasHeading reports whether the Markdown file has a heading whose
// GitHub anchor is anchor.
func hasHeading(t *testing.T, file, anchor string) bool {
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(withoutCode(string(text))) {
		title, ok := strings.CutPrefix(strings.TrimLeft(line, "#"), " ")
		if !ok || !strings.HasPrefix(line, "#") {
			continue
		}
		var slug strings.Builder
		for _, r := range strings.ToLower(strings.TrimSpace(title)) {
			switch {
			case unicode.IsLetter(r), unicode.IsDigit(r), r == '-', r == '_':
				slug.WriteRune(r)
			case r == ' ':
				slug.WriteByte('-')
			}
		}
		if slug.String() == anchor {
			return true
		}
	}
	return false
}
