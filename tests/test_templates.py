"""Template hygiene: Django's ``{# … #}`` comments end on their own line, or the rest is printed on the page."""

from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


def test_no_single_line_comment_spans_lines():
    broken = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            rest = line
            while "{#" in rest:
                rest = rest[rest.index("{#") + 2:]
                if "#}" not in rest:
                    broken.append(f"{path.relative_to(TEMPLATES)}:{number}")
                    break
                rest = rest[rest.index("#}") + 2:]
    assert not broken, "use {% comment %} for comments over several lines: " + ", ".join(broken)
