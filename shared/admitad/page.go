package admitad

import (
	"html/template"
	"strings"
)

// page is the content of an HTML answer. Every field is text: the
// template escapes it.
type page struct {
	Title string
	Lines []string
	Facts []fact
}

type fact struct{ Name, Value string }

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>{{.Title}} · Admitad connection</title>
<style>body{font-family:system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em;line-height:1.5}dt{font-weight:bold}dd{margin:0 0 .5em 0}</style>
</head>
<body>
<h1>{{.Title}}</h1>
{{range .Lines}}{{if .}}<p>{{.}}</p>
{{end}}{{end}}{{if .Facts}}<dl>
{{range .Facts}}<dt>{{.Name}}</dt><dd>{{.Value}}</dd>
{{end}}</dl>
{{end}}</body>
</html>
`))

func render(p page) (string, error) {
	var b strings.Builder
	if err := pageTemplate.Execute(&b, p); err != nil {
		return "", err
	}
	return b.String(), nil
}
