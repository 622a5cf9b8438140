#!/bin/sh
# make-media.sh OUT - assembles the payload folder that `khreset bake` puts
# into install.wim: khreset.exe (when the Windows build exists), khreset.ini,
# bundle/ and SetupComplete.cmd.
#   BUNDLE=DIR   the official keyholder set (default: the demo bundle)
#   PUBKEY=FILE  its Ed25519 public key; copied into bundle/ and named in
#                khreset.ini so that the image verifies the signature
set -eu
OUT=$1
BUILD=${BUILD:-build}
rm -rf "$OUT"
mkdir -p "$OUT"
if [ -z "${BUNDLE:-}" ]; then
	BUILD=$BUILD sh tests/mkvolume.sh "$BUILD/media-demo" >/dev/null
	BUNDLE=$BUILD/media-demo/bundle
	PUBKEY=${PUBKEY:-$BUILD/media-demo/keys/demo.pub}
fi
cp -r "$BUNDLE" "$OUT/bundle"
cp setupcomplete/SetupComplete.cmd "$OUT/"
cp setupcomplete/khreset.ini "$OUT/khreset.ini"
if [ -n "${PUBKEY:-}" ]; then
	cp "$PUBKEY" "$OUT/bundle/signing.pub"
	sed -i 's/^public_key *=.*/public_key = bundle\\signing.pub/' "$OUT/khreset.ini"
fi
if [ -f "$BUILD/win/khreset.exe" ]; then
	cp "$BUILD/win/khreset.exe" "$OUT/"
else
	echo "make media: $BUILD/win/khreset.exe not built (make windows); payload has no khreset.exe" >&2
fi
"$BUILD/khreset" bundle verify "$OUT/bundle" ${PUBKEY:+--pubkey "$OUT/bundle/signing.pub"} >/dev/null
echo "payload ready: $OUT"
ls -l "$OUT"
