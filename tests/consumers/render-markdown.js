// Renders Markdown from stdin with two real renderers, raw HTML allowed (as GitHub's and
// GitLab's pipelines see it before sanitizing), and prints {"commonmark": HTML, "markdown_it":
// HTML}. Used by the test suite to check that untrusted text never becomes markup.
const commonmark = require('commonmark');
const MarkdownIt = require('markdown-it');

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const parsed = new commonmark.Parser().parse(input);
  const html = new commonmark.HtmlRenderer({ safe: false }).render(parsed);
  const it = new MarkdownIt({ html: true, linkify: false }).render(input);
  process.stdout.write(JSON.stringify({ commonmark: html, markdown_it: it }));
});
