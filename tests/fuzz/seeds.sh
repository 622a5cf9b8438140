#!/bin/sh
# seeds.sh OUT - the seed corpora of the fuzz targets, made from the test
# fixtures at build time (nothing binary is committed): OUT/fixture is the
# field case of tests/mkvolume.sh; OUT/NAME/ the seeds of target NAME.
# A target tests/fuzz/NAME.c of its own may bring tests/fuzz/NAME.seeds.sh,
# run as `sh NAME.seeds.sh SEEDDIR FIXTUREDIR` (from the top of the tree).
# Environment: BUILD (the native build, for build/tools/mkhive).
set -eu
OUT=$1
FX=$OUT/fixture
PAY=$FX/vol/Windows/Setup/Scripts/khreset
ARCH=$FX/vol/ProgramData/Microsoft/Windows/ClipSVC/Archive/KeyHolder

rm -rf "$OUT"
mkdir -p "$OUT"
BUILD=${BUILD:-build} sh tests/mkvolume.sh "$FX" >"$OUT/mkvolume.log" 2>&1

# the SPEC's example of section $1 (its first fenced block)
spec_block() {
	sed -n "/^## $1\\./,/^## /p" doc/SPEC.md | awk '/^```/ { if (f) exit; f = 1; next } f'
}

mkdir -p "$OUT/fuzz_config" "$OUT/fuzz_bundle" "$OUT/fuzz_keyholder"
cp setupcomplete/khreset.ini "$OUT/fuzz_config/media.ini"
cp "$PAY/khreset.ini" "$OUT/fuzz_config/volume.ini"
spec_block 6 >"$OUT/fuzz_config/spec.ini"
cp "$PAY/bundle/manifest.ini" "$OUT/fuzz_bundle/volume.ini"
spec_block 5 >"$OUT/fuzz_bundle/spec.ini"
for f in "$PAY/bundle/"*.xml "$ARCH/"*.xml; do
	cp "$f" "$OUT/fuzz_keyholder/$(basename "$(dirname "$f")")-$(basename "$f")"
done
printf '<?xml version="1.0"?>\n<!DOCTYPE a [<!ENTITY e "x">]>\n<a>&e;</a>\n' >"$OUT/fuzz_keyholder/doctype.xml"
printf '<a xmlns:p="urn:x" p:b="1"><![CDATA[x]]><!-- c --><?pi x?>&amp;</a>' >"$OUT/fuzz_keyholder/kinds.xml"

for s in tests/fuzz/*.seeds.sh; do
	[ -f "$s" ] || continue
	name=$(basename "$s" .seeds.sh)
	mkdir -p "$OUT/$name"
	sh "$s" "$OUT/$name" "$FX"
done
