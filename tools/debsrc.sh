#!/bin/sh
# tools/debsrc.sh - Debian SOURCE packages through a private apt configuration,
# for the Linux build (minIni) and win/deps.sh (the Windows libraries).
#
#   sh tools/debsrc.sh unpack  PKG VERSION DIR          DIR: a fresh dpkg-source -x tree
#   sh tools/debsrc.sh extract PKG VERSION DIR FILE...  DIR: only these files of the tree
#
# Cache: $DEBSRC (default build/debian): apt/ (its own sources.list, lists
# and cache; the machine's apt configuration is never touched), src/ (the
# downloaded .dsc/.orig/.debian files: once there, no network is needed),
# logs/.  apt-get checks every downloaded file against the signed Sources
# index; dpkg-source -x applies Debian's patches (security fixes included).
#
# Environment: DEBSRC, KH_DEBIAN_MIRROR (the mirror URI; default: the one
# this machine's apt uses for the suite).
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
DEBSRC=${DEBSRC:-$TOP/build/debian}
case $DEBSRC in /*) ;; *) DEBSRC=$PWD/$DEBSRC ;; esac
SUITE=bookworm
APTD=$DEBSRC/apt
SRC=$DEBSRC/src
LOGS=$DEBSRC/logs
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

say() { printf 'debsrc: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

[ $# -ge 4 ] && { [ "$1" = unpack ] || [ "$1" = extract ]; } ||
	die "usage: debsrc.sh unpack|extract PKG VERSION DIR [FILE...]"
OP=$1 PKG=$2 VER=$3 DIR=$4
shift 4
case $DIR in /*) ;; *) DIR=$PWD/$DIR ;; esac

for t in apt-get dpkg-source; do
	command -v $t >/dev/null || die "$t not found (Debian packages apt, dpkg-dev)"
done
mkdir -p "$APTD/lists/partial" "$APTD/cache/archives/partial" "$SRC" "$LOGS"

# One fetch at a time (make -j, make windows and make check may race).
exec 9>"$DEBSRC/.lock"
flock 9

mirror() {
	[ -n "${KH_DEBIAN_MIRROR:-}" ] && { echo "$KH_DEBIAN_MIRROR"; return; }
	# deb822 .sources: the URI of a stanza whose Suites include $SUITE.
	uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk -v s="$SUITE" '
		function flush() { if (!done && ok && u != "" && en != "no") { print u; done = 1; exit } ok = 0; u = ""; en = "" }
		/^[ \t]*$/ { flush(); next }
		/^[ \t]*#/ { next }
		tolower($1) == "uris:" { u = $2 }
		tolower($1) == "enabled:" { en = tolower($2) }
		tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == s) ok = 1 }
		END { flush() }')
	if [ -z "$uri" ]; then
		# one-line format: deb [opts] URI SUITE COMPONENTS
		uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
			sed -e 's/#.*//' -e 's/\[[^]]*\]//' | awk -v s="$SUITE" \
			'($1 == "deb" || $1 == "deb-src") && $3 == s { print $2; exit }')
	fi
	uri=$(printf '%s\n' "$uri" | head -n 1)
	echo "${uri:-http://deb.debian.org/debian}"
}

APTOPTS="-o Dir::Etc::SourceList=$APTD/sources.list -o Dir::Etc::SourceParts=/dev/null
 -o Dir::State::Lists=$APTD/lists -o Dir::Cache=$APTD/cache
 -o Dir::State::status=/dev/null -o APT::Sandbox::User=root -q"

# The .dsc of PKG=VER in $SRC, downloaded (and the index updated) if needed.
DSC="$SRC/${PKG}_$(echo "$VER" | sed 's/^[0-9]*://').dsc"
if [ ! -f "$DSC" ]; then
	if [ ! -f "$APTD/.updated" ]; then
		MIRROR=$(mirror)
		say "private apt: deb-src $MIRROR $SUITE main"
		echo "deb-src [signed-by=$KEYRING] $MIRROR $SUITE main" >"$APTD/sources.list"
		apt-get $APTOPTS update >"$LOGS/apt-update.log" 2>&1 ||
			die "apt-get update failed, see $LOGS/apt-update.log"
		touch "$APTD/.updated"
	fi
	say "fetching $PKG=$VER"
	if ! (cd "$SRC" && apt-get $APTOPTS source --download-only "$PKG=$VER") \
		>"$LOGS/fetch-$PKG.log" 2>&1; then
		served=$(apt-cache $APTOPTS showsrc "$PKG" 2>/dev/null |
			awk '/^Version:/ { printf " %s", $2 }')
		case " $served " in
		*" $VER "*)	# listed, but its files were refused (seen: 404)
			why=$(sed -n 's/^E: *\([^[]*\).*/\1/p' "$LOGS/fetch-$PKG.log" | head -n 1)
			die "the archive lists $PKG=$VER but did not serve its files${why:+ ($why)}; the pin is right, the archive is not: see $LOGS/fetch-$PKG.log" ;;
		*)	die "cannot fetch $PKG=$VER (archive serves:${served:- nothing}); change the pin, see $LOGS/fetch-$PKG.log" ;;
		esac
	fi
	[ -f "$DSC" ] || die "no $DSC after download"
fi

# A tree is made beside DIR and renamed into place: DIR is whole or absent.
TMP=$DIR.tmp.$$
trap 'rm -rf "$TMP" "$TMP.x"' EXIT
rm -rf "$TMP" "$TMP.x"
dpkg-source --no-copy -x "$DSC" "$TMP.x" >"$LOGS/unpack-$PKG.log" 2>&1 ||
	die "dpkg-source -x $DSC failed, see $LOGS/unpack-$PKG.log"
if [ "$OP" = unpack ]; then
	mv "$TMP.x" "$TMP"
else
	mkdir -p "$TMP"
	for f in "$@"; do
		cp "$TMP.x/$f" "$TMP/" || die "$PKG $VER has no $f"
	done
fi
rm -rf "$DIR"
mv "$TMP" "$DIR"
