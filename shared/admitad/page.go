package admitad

import (
	"html"
	"strings"
)

// page is the content of an HTML answer. Every field is plain text,
// escaped by render.
type page struct {
	Title string
	Lines []string
	Facts []fact
}

type fact struct{ Name, Value string }

const (
	pageHead = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>`
	pageStyle = ` · Admitad connection</title>
<style>body{font-family:system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em;line-height:1.5}dt{font-weight:bold}dd{margin:0 0 .5em 0}</style>
</head>
<body>
`
	pageFoot = "</body>\n</html>\n"
)

// render writes p as a small HTML page. Every text is escaped with
// html.EscapeString and only ever placed in element content, where that
// escaping is complete. (html/template would do the same here, but its use
// of reflection keeps every exported method of the AWS SDK in the binary:
// 2.8 MB more.)
func render(p page) (string, error) {
	var b strings.Builder
	esc := html.EscapeString
	b.WriteString(pageHead)
	b.WriteString(esc(p.Title))
	b.WriteString(pageStyle)
	b.WriteString("<h1>" + esc(p.Title) + "</h1>\n")
	for _, l := range p.Lines {
		if l != "" {
			b.WriteString("<p>" + esc(l) + "</p>\n")
		}
	}
	if len(p.Facts) > 0 {
		b.WriteString("<dl>\n")
		for _, f := range p.Facts {
			b.WriteString("<dt>" + esc(f.Name) + "</dt><dd>" + esc(f.Value) + "</dd>\n")
		}
		b.WriteString("</dl>\n")
	}
	b.WriteString(pageFoot)
	return b.String(), nil
}
