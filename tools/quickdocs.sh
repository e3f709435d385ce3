#!/usr/bin/env bash
# Build the manual into a private folder, so several people can build at once.
#   tools/quickdocs.sh NAME [plot|noplot] [chapters/05-....rst ...]
# NAME: your build folder name (/tmp/fmref-docs-NAME). Without "plot" the gallery
# is not executed (plot_gallery=0): figures from an earlier executed build are
# reused if present. With "plot", only new or changed examples run.
# Uses a private copy of docs/ so that generated files (api/, auto_examples/)
# never collide with someone else's build; the chapter files are read from the
# shared checkout at the moment the copy is made. Runs the Python of tox's docs
# environment (.tox/docs) unless PYTHON names another.
set -euo pipefail
name=${1:?usage: tools/quickdocs.sh NAME [plot]}
plot=${2:-}
shift $(( $# < 2 ? $# : 2 ))
only=("$@")   # documents whose doctests to run (default: every chapter)
root=$(cd "$(dirname "$0")/.." && pwd)
work=/tmp/fmref-docs-$name
mkdir -p "$work"
rm -rf "$work/src" && mkdir -p "$work/src"
(cd "$root/docs" && tar cf - --exclude=./_build --exclude=./api --exclude=./auto_examples \
  --exclude=./gen_modules --exclude=./sg_execution_times.rst .) | (cd "$work/src" && tar xf -)
# keep generated gallery output between runs (it lives beside the copy)
mkdir -p "$work/auto_examples" "$work/gen_modules"
ln -sfn "$work/auto_examples" "$work/src/auto_examples"
ln -sfn "$work/gen_modules" "$work/src/gen_modules"
ln -sfn "$root/gallery" "$work/gallery"
# The Python of tox's docs environment (create it once with: tox -e docs --notest),
# or the one named by $PYTHON.
py=${PYTHON:-$root/.tox/docs/bin/python}
if [ ! -x "$py" ]; then
  echo "quickdocs: no Python at $py: run 'tox -e docs --notest' once, or set PYTHON=..." >&2
  exit 2
fi
flags=(-n -T --keep-going -q -b html -d "$work/doctrees")
[ "$plot" = plot ] || flags+=(-D plot_gallery=0)
export PYTHONPATH="$root" OMP_NUM_THREADS=2 MPLBACKEND=Agg FMREF_CACHE=${FMREF_CACHE:-$root/.tox/fmref-cache}
cd "$work"
"$py" -m sphinx "${flags[@]}" src html 2>&1 | tee "$work/html.log"
echo "warnings: $(grep -c -i 'warning\|error' "$work/html.log" || true)  (log: $work/html.log)"
echo "--- doctest builder"
"$py" -m sphinx -n -T -q -b doctest -d "$work/doctrees-doctest" -D plot_gallery=0 src doctest "${only[@]/#/src/}" 2>&1 | tail -5
grep -E "^(Document|[0-9]+ (passed|failed)|\*\*\*Test Failed)" doctest/output.txt | grep -B1 -i fail || echo "doctests: no failures"
echo "HTML: $work/html/index.html"
