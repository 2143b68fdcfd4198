#!/usr/bin/env bash
# Rebuilds assets/web/favicon.ico (16, 32 and 48 px PNGs in an ICO container) from the UI's
# icon.svg. Run after changing the icon; needs rsvg-convert (Debian: librsvg2-bin).
set -euo pipefail
cd "$(dirname "$0")/../crates/poker-server/assets/web"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for size in 16 32 48; do
    rsvg-convert -w "$size" -h "$size" static/icon.svg -o "$tmp/$size.png"
done
python3 - "$tmp" <<'PY'
import struct, sys
sizes = [16, 32, 48]
pngs = [open(f"{sys.argv[1]}/{s}.png", "rb").read() for s in sizes]
out = struct.pack("<HHH", 0, 1, len(pngs))  # reserved, type 1 = icon, count
offset = 6 + 16 * len(pngs)
for size, png in zip(sizes, pngs):
    # width, height, colours, reserved, planes, bits per pixel, bytes, offset
    out += struct.pack("<BBBBHHII", size, size, 0, 0, 1, 32, len(png), offset)
    offset += len(png)
open("favicon.ico", "wb").write(out + b"".join(pngs))
PY
echo "wrote $(pwd)/favicon.ico"
