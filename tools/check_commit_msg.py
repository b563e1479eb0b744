"""Commit-message check (pre-commit's commit-msg stage): ``area: summary`` in at most 72 characters.

Then a blank line and a body with the why and the measurements. Merge commits git writes itself
("Merge branch ...") are left alone.
"""

import re
import sys

_SUBJECT = re.compile(r"^[\w./-]+(, ?[\w./-]+)*: \S")


def problems(message):
    lines = [line for line in message.splitlines() if not line.startswith("#")]
    subject = lines[0] if lines else ""
    if subject.startswith(("Merge ", "Revert ", "fixup! ", "squash! ")):
        return []
    found = []
    if not _SUBJECT.match(subject):
        found.append(f"the subject must read 'area: summary', got {subject!r}")
    if len(subject) > 72:
        found.append(f"the subject must be at most 72 characters, got {len(subject)}")
    if len(lines) > 1 and lines[1].strip():
        found.append("a blank line must separate the subject from the body")
    return found


def main(argv=None):
    path = (argv or sys.argv[1:])[0]
    with open(path, encoding="utf-8") as fh:
        found = problems(fh.read())
    for problem in found:
        print(f"commit message: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
