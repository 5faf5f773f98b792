"""Rebuild static/icons/sprite.svg from an unpacked lucide-static package, with only the icons
the UI names ({% icon "..." %} in templates, EVENT_ICONS in crm/views/affiliates.py).

    npm pack lucide-static && tar xzf lucide-static-*.tgz
    .venv/bin/python -m devtools.icon_sprite package/ ICON-NAME...
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

SPRITE = Path(__file__).resolve().parents[1] / "static" / "icons" / "sprite.svg"
ATTRIBUTES = (
    'viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" '
    'stroke-linecap="round" stroke-linejoin="round"'
)


def sprite_build(*, package: Path, names: list[str]) -> str:
    version = json.loads((package / "package.json").read_text())["version"]
    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg">\n',
        f"<!-- Lucide icons v{version} (ISC licence, see LICENSE beside this file); "
        "only the icons the UI uses. -->\n",
    ]
    for name in sorted(set(names)):
        text = (package / "icons" / f"{name}.svg").read_text()
        match = re.search(r"<svg[^>]*>(.*)</svg>", text, re.S)
        if match is None:
            raise SystemExit(f"{name}.svg has no <svg> element")
        body = "".join(line.strip() for line in match.group(1).strip().splitlines())
        parts.append(f'<symbol id="{name}" {ATTRIBUTES}>{body}</symbol>\n')
    parts.append("</svg>\n")
    return "".join(parts)


if __name__ == "__main__":
    SPRITE.write_text(sprite_build(package=Path(sys.argv[1]), names=sys.argv[2:]))
