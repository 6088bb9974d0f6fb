package typedstore_test

import (
	"os"
	"strings"
	"testing"
)

// The README's complete examples are the runnable Examples, word for word,
// so that go test checks what the README shows.
func TestReadmeExamplesAreTheRunnableOnes(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"example_test.go", "httpsession/example_test.go"} {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		s := string(src)
		start := strings.Index(s, "\nfunc Example() {")
		if start < 0 {
			t.Fatalf("%s has no func Example", file)
		}
		end := strings.Index(s[start:], "\n}\n")
		body := s[start+len("\nfunc Example() {") : start+end]
		if !strings.Contains(string(readme), body) {
			t.Errorf("README.md does not contain the body of Example in %s word for word", file)
		}
	}
}
