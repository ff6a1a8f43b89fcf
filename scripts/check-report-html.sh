#!/usr/bin/env bash
# Opens a report.html in headless Chromium (Debian's chromium) and fails unless every image in it
# decodes. A one-off check of what `cbs report` writes; not part of CI.
# Usage: scripts/check-report-html.sh DIR/report.html [SCREENSHOT.png]
set -euo pipefail
if [ $# -lt 1 ] || [ ! -f "$1" ]; then
    echo "usage: $0 DIR/report.html [SCREENSHOT.png]" >&2
    exit 2
fi
chromium=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
    echo "check-report-html: needs Debian's chromium (apt-get install chromium)" >&2
    exit 2
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A copy of the report plus a probe that, once the page has loaded, counts the images and the
# ones that failed to decode (naturalWidth 0) and writes both into attributes of <body>.
cp "$1" "$tmp/probe.html"
cat >> "$tmp/probe.html" <<'PROBE'
<script>
window.addEventListener("load", () => {
  const images = [...document.images];
  const broken = images.filter(i => !i.complete || i.naturalWidth === 0);
  document.body.dataset.images = images.length;
  document.body.dataset.broken = broken.length;
  document.body.dataset.brokenNames = broken.map(i => i.alt).join("; ");
});
</script>
PROBE
flags=(--headless --no-sandbox --disable-gpu --virtual-time-budget=10000)
dom=$("$chromium" "${flags[@]}" --dump-dom "file://$tmp/probe.html" 2>/dev/null)
images=$(grep -o 'data-images="[0-9]*"' <<<"$dom" | grep -o '[0-9]*' || true)
broken=$(grep -o 'data-broken="[0-9]*"' <<<"$dom" | grep -o '[0-9]*' || true)
if [ -z "$images" ] || [ -z "$broken" ]; then
    echo "check-report-html: the page did not finish loading in Chromium" >&2
    exit 1
fi
if [ $# -ge 2 ]; then
    "$chromium" "${flags[@]}" --window-size=1200,2400 --screenshot="$2" "file://$(realpath "$1")" \
        >/dev/null 2>&1
fi
echo "check-report-html: $1: $images images, $broken broken"
if [ "$images" -eq 0 ] || [ "$broken" -ne 0 ]; then
    grep -o 'data-broken-names="[^"]*"' <<<"$dom" >&2 || true
    exit 1
fi
