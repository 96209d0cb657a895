#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks that C files are formatted as .clang-format says: lists each file clang-format
# would change, with how many lines, and exits 1 if there is any (0 if none, 2 if
# clang-format is missing). Files: the arguments, or every tracked *.c and *.h.
# `clang-format -i FILE` applies the format.
set -uo pipefail
cd "$(dirname "$0")/.."
CF=${CLANG_FORMAT:-clang-format}
command -v "$CF" >/dev/null || { echo "check-format: $CF not found (scripts/install-deps.sh installs it)" >&2; exit 2; }

if [ $# -gt 0 ]; then
	files=("$@")
else
	mapfile -t files < <(git ls-files '*.c' '*.h')
fi
bad=0 lines=0
for f in "${files[@]}"; do
	# Lines that change: per hunk of the diff, the larger of the lines out and the lines in.
	n=$("$CF" --style=file "$f" | diff -U0 "$f" - | awk '/^@@/ {
		split($2, a, ","); split($3, b, ",")
		o = (2 in a) ? a[2] : 1; i = (2 in b) ? b[2] : 1
		n += o > i ? o : i
	} END { print n + 0 }')
	if [ "$n" -gt 0 ]; then
		echo "$f: $n lines differ"
		bad=$((bad + 1))
		lines=$((lines + n))
	fi
done
if [ "$bad" -gt 0 ]; then
	echo "check-format: $bad of ${#files[@]} files differ from .clang-format ($lines lines); clang-format -i FILE fixes one" >&2
	exit 1
fi
echo "check-format: ${#files[@]} files formatted as .clang-format says"
