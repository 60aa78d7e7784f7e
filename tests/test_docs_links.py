"""Every relative link in README.md and docs/*.md resolves (run by tests/run).

A link to a file must name a file or folder inside the repository; a link with a
#fragment must name a heading of the target Markdown file (GitHub's slugs: lower
case, punctuation dropped, spaces to dashes, -1, -2 ... for repeated headings) or an
explicit <a id="..."> / <a name="..."> anchor. Links in code blocks and inline code
are text, not links. Links with a scheme (https:, mailto:) are not followed.
Standard library only.

  python3 -m unittest tests/test_docs_links.py
"""

import os
import re
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:[^>]*\s)?(?:id|name)=\"([^\"]+)\"", re.IGNORECASE)
INLINE_CODE = re.compile(r"(`+)(.+?)\1")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def slug(heading_text):
    """GitHub's anchor for a heading: the rendered text, lower case, every character
    but letters, digits, '_', '-' and spaces dropped, spaces turned into '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading_text)  # links: their text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML tags
    text = text.replace("`", "")
    text = re.sub(r"(\*\*|__|\*)", "", text)  # emphasis markers (a lone _ stays: code)
    text = text.strip().lower()
    text = "".join(c for c in text if c.isalnum() or c in "_- ")
    return text.replace(" ", "-")


def markdown_lines(text):
    """The lines outside fenced code blocks, with their 1-based numbers."""
    fence = None
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.lstrip()
        marker = re.match(r"(`{3,}|~{3,})", stripped)
        if marker:
            if fence is None:
                fence = marker.group(1)[0] * len(marker.group(1))
                continue
            if stripped.startswith(fence):
                fence = None
                continue
        if fence is None:
            yield number, line


def anchors(path):
    """Every anchor a Markdown file offers: heading slugs and explicit HTML ids."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    seen = {}
    found = set()
    for _, line in markdown_lines(text):
        found.update(HTML_ANCHOR.findall(line))
        m = HEADING.match(line)
        if m:
            base = slug(m.group(2))
            n = seen.get(base, 0)
            seen[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
    return found


def links(path):
    """(line number, target) of every link in a Markdown file."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for number, line in markdown_lines(text):
        line = INLINE_CODE.sub("", line)
        for target in INLINE_LINK.findall(line):
            yield number, target
        m = REFERENCE_DEF.match(line)
        if m:
            yield number, m.group(1)


def broken_links(path, root):
    """Messages for the relative links of `path` that do not resolve inside `root`."""
    problems = []
    here = os.path.dirname(path)
    where = os.path.relpath(path, root)
    cache = {}
    for number, target in links(path):
        if SCHEME.match(target) or target.startswith("//"):
            continue
        file_part, _, fragment = target.partition("#")
        if file_part:
            resolved = os.path.normpath(os.path.join(here, file_part))
        else:
            resolved = path
        if os.path.commonpath([root, resolved]) != root:
            problems.append(f"{where}:{number}: {target}: points outside the repository")
            continue
        if not os.path.exists(resolved):
            problems.append(f"{where}:{number}: {target}: no such file")
            continue
        if fragment:
            if not resolved.endswith(".md") or os.path.isdir(resolved):
                problems.append(f"{where}:{number}: {target}: an anchor in a file that is not Markdown")
                continue
            if resolved not in cache:
                cache[resolved] = anchors(resolved)
            if fragment not in cache[resolved]:
                problems.append(
                    f"{where}:{number}: {target}: no heading or anchor #{fragment} "
                    f"in {os.path.relpath(resolved, root)}"
                )
    return problems


def documentation_files(root):
    """README.md and every docs/*.md."""
    files = [os.path.join(root, "README.md")]
    docs = os.path.join(root, "docs")
    files += sorted(os.path.join(docs, n) for n in os.listdir(docs) if n.endswith(".md"))
    return files


class TheDocsLinksResolve(unittest.TestCase):
    def test_every_relative_link_in_the_readme_and_docs_resolves(self):
        problems = []
        files = documentation_files(ROOT)
        for path in files:
            problems += broken_links(path, ROOT)
        self.assertGreater(len(files), 1, "README.md and docs/*.md")
        self.assertEqual(problems, [], "\n" + "\n".join(problems))

    def test_the_readme_links_to_every_file_in_docs(self):
        readme_targets = {t.partition("#")[0] for _, t in links(os.path.join(ROOT, "README.md"))}
        docs = [os.path.relpath(p, ROOT) for p in documentation_files(ROOT)[1:]]
        missing = [d for d in docs if d not in readme_targets]
        self.assertEqual(missing, [], "docs files the README does not link to")


class TheCheckerItself(unittest.TestCase):
    """The checker finds what it must, on small files written here."""

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        self.root = os.path.realpath(self.dir.name)
        os.mkdir(os.path.join(self.root, "docs"))

    def write(self, name, text):
        path = os.path.join(self.root, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def test_github_slugs(self):
        self.assertEqual(slug("Scaling real Heroku apps: `[scaler] kind = \"heroku\"`"),
                         "scaling-real-heroku-apps-scaler-kind--heroku")
        self.assertEqual(slug("Heartbeat (dead-man's switch)"), "heartbeat-dead-mans-switch")
        self.assertEqual(slug("`[[formations.inputs]]`"), "formationsinputs")
        self.assertEqual(slug("input `new_relic_nrql`"), "input-new_relic_nrql")
        self.assertEqual(slug("Simulator throughput (benchmark item 5)"),
                         "simulator-throughput-benchmark-item-5")
        self.assertEqual(slug("**Bold** and [a link](x.md)"), "bold-and-a-link")

    def test_repeated_headings_get_numbered_anchors(self):
        path = self.write("docs/a.md", "# A\n## Keys\n## Keys\n```\n## not a heading\n```\n")
        self.assertEqual(anchors(path), {"a", "keys", "keys-1"})

    def test_explicit_html_anchors_count(self):
        path = self.write("docs/a.md", '<a id="here"></a>\ntext\n')
        self.assertIn("here", anchors(path))

    def test_a_missing_file_an_unknown_anchor_and_a_path_outside_are_reported(self):
        self.write("docs/b.md", "# Bee\n")
        path = self.write(
            "docs/a.md",
            "# A\n[ok](b.md#bee) [self](#a) [web](https://example.com/x#y)\n"
            "[gone](c.md)\n[anchor](b.md#wasp)\n[out](../../elsewhere/x.md)\n"
            "[here](#nowhere)\n[ref]: b.md#bee\n[badref]: b.md#hornet\n",
        )
        problems = broken_links(path, self.root)
        self.assertEqual(len(problems), 5, problems)
        self.assertIn("docs/a.md:3: c.md: no such file", problems)
        self.assertTrue(any("b.md#wasp: no heading or anchor #wasp in docs/b.md" in p for p in problems))
        self.assertTrue(any("../../elsewhere/x.md: points outside the repository" in p for p in problems))
        self.assertTrue(any("#nowhere" in p for p in problems))
        self.assertTrue(any("b.md#hornet" in p for p in problems))

    def test_links_in_code_are_not_links(self):
        path = self.write("docs/a.md", "# A\n```md\n[gone](c.md)\n```\nsee `[gone](c.md)`\n")
        self.assertEqual(broken_links(path, self.root), [])


if __name__ == "__main__":
    unittest.main()
