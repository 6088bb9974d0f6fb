package frameworks_test

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestDocsShowTheSnippets checks that docs/http.md shows the snippet of
// each framework's file, word for word, inside a ```go block.
func TestDocsShowTheSnippets(t *testing.T) {
	doc, err := os.ReadFile("../../docs/http.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := goBlocks(string(doc))
	for _, file := range []string{"chi.go", "echo.go", "gin.go"} {
		t.Run(file, func(t *testing.T) {
			snippet, err := readSnippet(file)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(blocks, func(b string) bool { return strings.Contains(b, snippet) }) {
				t.Errorf("docs/http.md has no ```go block with the snippet of %s; want one with:\n%s", file, snippet)
			}
		})
	}
}

// readSnippet returns the lines of a file between the lines
// "// snippet:start" and "// snippet:end", without blank lines at either
// end.
func readSnippet(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	lines := strings.Split(string(b), "\n")
	start := slices.Index(lines, "// snippet:start")
	end := slices.Index(lines, "// snippet:end")
	if start < 0 || end < start ||
		slices.Index(lines[start+1:], "// snippet:start") >= 0 || slices.Index(lines[end+1:], "// snippet:end") >= 0 {
		return "", fmt.Errorf("%s: want one line \"// snippet:start\" followed by one line \"// snippet:end\"", file)
	}
	region := strings.Trim(strings.Join(lines[start+1:end], "\n"), "\n")
	if region == "" {
		return "", fmt.Errorf("%s: empty snippet", file)
	}
	return region + "\n", nil
}

// goBlocks returns the contents of the Markdown document's ```go blocks.
func goBlocks(doc string) []string {
	var blocks []string
	var block []string
	in := false
	for line := range strings.Lines(doc) {
		line = strings.TrimSuffix(line, "\n")
		switch {
		case !in && line == "```go":
			in, block = true, nil
		case in && line == "```":
			in = false
			blocks = append(blocks, strings.Join(block, "\n")+"\n")
		case in:
			block = append(block, line)
		}
	}
	return blocks
}
