"""The docs stay readable and true where a machine can tell: every Markdown table in docs/, README.md and
examples/README.md has its header and separator rows and the header's number of cells in every row (a
paragraph inserted in the middle of a table used to leave the rows after it without a header), and the
client-listener API table of docs/compatibility.md lists exactly the APIs and version ranges the broker
advertises (proto_broker_apis in broker/proto/api_support.c). No process is started."""
import glob
import os
import re
import unittest

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SEPARATOR = re.compile(r"^\|(\s*:?-+:?\s*\|)+\s*$")


def cells(row):
    """The number of cells of a table row, as GitHub counts them: every '|' not escaped splits (also inside
    backticks)."""
    return row.strip().strip("|").replace("\\|", "").count("|") + 1


def table_problems(text):
    """(line number, problem) for every malformed table of a Markdown text."""
    problems = []
    lines = text.split("\n")
    i, fenced = 0, False
    while i < len(lines):
        if lines[i].startswith("```"):
            fenced = not fenced
        if fenced or not lines[i].startswith("|"):
            i += 1
            continue
        start = i
        while i < len(lines) and lines[i].startswith("|"):
            i += 1
        block = lines[start:i]
        if start > 0 and lines[start - 1].strip():
            problems.append((start + 1, "a table row right after a paragraph line (no blank line before it)"))
        if len(block) < 2 or not SEPARATOR.match(block[1]):
            problems.append((start + 1, "table rows without a header and separator row: %s" % block[0][:60]))
            continue
        want = cells(block[0])
        for k, row in enumerate(block):
            if cells(row) != want:
                problems.append((start + k + 1, "%d cells, the header has %d" % (cells(row), want)))
        if i < len(lines) and lines[i].strip():
            problems.append((i + 1, "a paragraph line right after a table continues it"))
    return problems


def api_keys():
    """API_* constant -> key, from broker/proto/api_support.h's enum."""
    with open(os.path.join(REPO, "broker", "proto", "api_support.h")) as f:
        return {m.group(1): int(m.group(2)) for m in re.finditer(r"\b(API_\w+) = (\d+),", f.read())}


def advertised_client_apis():
    """{key: (min, max)} of proto_broker_apis."""
    with open(os.path.join(REPO, "broker", "proto", "api_support.c")) as f:
        src = f.read()
    body = src[src.index("proto_broker_apis[] = {"):]
    body = body[:body.index("};")]
    out = {}
    for m in re.finditer(r"\{\s*(API_\w+|\d+)[^,]*,\s*(\d+)\s*,\s*(\d+)\s*\}", body):
        name = m.group(1)
        out[name] = (int(m.group(2)), int(m.group(3)))
    return out


def documented_client_apis():
    """{key: (min, max)} of the first table of docs/compatibility.md."""
    with open(os.path.join(REPO, "docs", "compatibility.md")) as f:
        text = f.read()
    section = text[text.index("## Kafka APIs on the client listener"):]
    section = section[:section.index("\n\n", section.index("|---"))]
    out = {}
    for row in section.split("\n"):
        m = re.match(r"\| [A-Za-z ]+ \((\d+)\) \| (\d+)(?:[–-](\d+))? \|", row)
        if m:
            out[int(m.group(1))] = (int(m.group(2)), int(m.group(3) or m.group(2)))
    return out


class DocsTest(unittest.TestCase):
    def test_every_table_is_well_formed(self):
        paths = sorted(glob.glob(os.path.join(REPO, "docs", "*.md"))) + [
            os.path.join(REPO, "README.md"), os.path.join(REPO, "examples", "README.md")]
        found = []
        for path in paths:
            with open(path) as f:
                for line, problem in table_problems(f.read()):
                    found.append("%s:%d: %s" % (os.path.relpath(path, REPO), line, problem))
        self.assertEqual(found, [], "\n".join(found))

    def test_table_checker_finds_a_headless_table(self):
        bad = "| a | b |\n|---|---|\n| 1 | 2 |\n\ntext in the middle\n\n| 3 | 4 |\n"
        self.assertEqual([p[0] for p in table_problems(bad)], [7])
        self.assertEqual(table_problems("| a | b |\n|---|---|\n| 1 | 2 | 3 |\n")[0][0], 3)

    def test_client_api_table_matches_what_is_advertised(self):
        keys = api_keys()
        advertised = {}
        for name, rng in advertised_client_apis().items():
            self.assertTrue(name.isdigit() or name in keys, "no key for %s" % name)
            advertised[int(name) if name.isdigit() else keys[name]] = rng
        self.assertGreaterEqual(len(advertised), 20)
        self.assertEqual(documented_client_apis(), advertised)


if __name__ == "__main__":
    unittest.main()
