"""Fail when the LaTeX log reports undefined references, citations or missing glyphs.

latexmk succeeds on a PDF with "??" where a reference was broken; this script
reads the final log and exits 1 listing each undefined reference or citation.
Usage: python tools/latex_log_check.py docs/_build/latex/fmref.log
"""

import re
import sys
from pathlib import Path

PATTERNS = (
    r"LaTeX Warning: Reference `[^']*' on page \d+ undefined",
    r"LaTeX Warning: Citation `[^']*' on page \d+ undefined",
    r"LaTeX Warning: There were undefined references",
    r"Missing character: There is no .* in font [^!]*!",
)


def problems(log: str) -> list[str]:
    found = []
    for pattern in PATTERNS:
        found += re.findall(pattern, log)
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    log = Path(argv[1]).read_text(errors="replace")
    found = problems(log)
    for line in found:
        print("ERROR:", line)
    print(f"LaTeX log: {len(found)} undefined references or citations")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
