package admitad

import (
	"strings"
	"testing"
)

func TestRenderEscapesEverything(t *testing.T) {
	evil := `<script>alert("x")</script>&'`
	out, err := render(page{Title: evil, Lines: []string{evil, ""}, Facts: []fact{{Name: evil, Value: evil}}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "<script>") || strings.Contains(out, `"x"`) {
		t.Errorf("unescaped text in page:\n%s", out)
	}
	if got := strings.Count(out, "&lt;script&gt;"); got != 5 {
		t.Errorf("escaped script appears %d times, want 5 (title, heading, line, name, value)", got)
	}
	if strings.Count(out, "<p>") != 1 {
		t.Errorf("empty lines must not render:\n%s", out)
	}
}
