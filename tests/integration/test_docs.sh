#!/bin/sh
# test_docs.sh - the documents hold to the tree: the README's layout block
# names every source file and folder there is (and nothing that is not), and
# no link in the README or doc/ leaves the repository.
. tests/lib.sh

# The layout block: the fenced block after "## How it is built".
layout() { # README
	awk '/^## How it is built/ { s = 1 } s && /^```/ { n++; next } s && n == 1' "$1"
}

# Every file under hook/ by its name (a header also by its .c), every folder
# of hook/ and every top-level folder as "NAME/", appears in the block.
layout_missing() { # README: prints what the block lacks
	block=$(layout "$1")
	for f in $(cd "$TOP" && git ls-files hook | sed 's#.*/##' | sort -u); do
		printf '%s\n' "$block" | grep -qw -- "${f%.*}\.${f##*.}" && continue
		case $f in *.h) printf '%s\n' "$block" | grep -qw -- "${f%.h}\.c" && continue ;; esac
		echo "$f"
	done
	for d in $(cd "$TOP" && git ls-files | grep / | sed 's#/.*##' | sort -u) \
		 $(cd "$TOP" && git ls-files hook | sed -n 's#^hook/\([^/]*\)/.*#\1#p' | sort -u); do
		case $d in .*) continue ;; esac
		printf '%s\n' "$block" | grep -q -- "$d/" || echo "$d/"
	done
}

# Every NAME.c / NAME.h / NAME/ the block names exists somewhere in the tree.
layout_stale() { # README: prints what the block names that is not there
	files=$(cd "$TOP" && git ls-files)
	for w in $(layout "$1" | grep -o '[A-Za-z0-9_.-]*\.[ch]\b\|[A-Za-z0-9_-]*/' | sort -u); do
		case $w in
		*/) printf '%s\n' "$files" | grep -q "\(^\|/\)$w" || echo "$w" ;;
		*) printf '%s\n' "$files" | grep -q "\(^\|/\)$w\$" || echo "$w" ;;
		esac
	done
}

# Markdown links that leave the repository: ../, absolute paths, or a
# relative target that does not exist.
links_out() { # FILE...
	for f in "$@"; do
		dir=$(dirname "$f")
		grep -o '\](\([^)#]*\)' "$f" | sed 's/^](//' | while read -r l; do
			case $l in
			http://* | https://* | mailto:*) ;;
			/* | ../* | */../*) echo "$f: $l" ;;
			*) [ -e "$dir/$l" ] || echo "$f: $l (missing)" ;;
			esac
		done
		grep -n '\.\./shared' "$f" | sed "s#^#$f: #"
	done
}

CASE=layout
run layout_missing "$TOP/README.md"
check "README layout names every source file and folder" same "$OUT" ""
run layout_stale "$TOP/README.md"
check "README layout names nothing that is not in the tree" same "$OUT" ""

# the twins: a layout that lost a file, and one that names a gone file
sed '/^  upgrade.c/d' "$TOP/README.md" >"$T/lost.md"
run layout_missing "$T/lost.md"
check "a layout without upgrade.c is caught" out_has "^upgrade.c$"
sed 's/^  upgrade.c /  upgrade.c gone.c /' "$TOP/README.md" >"$T/stale.md"
run layout_stale "$T/stale.md"
check "a layout naming a file not in the tree is caught" same "$OUT" "gone.c"

CASE=links
run links_out "$TOP/README.md" "$TOP"/doc/*.md
check "no link in README.md or doc/ leaves the repository" same "$OUT" ""
printf 'See [the spec](../shared/SPEC.md) and [x](doc/none.md).\n' >"$T/out.md"
run links_out "$T/out.md"
check "a link to ../shared is caught" out_has '\.\./shared/SPEC.md'
check "a link to a missing file is caught" out_has 'doc/none.md (missing)'

finish
