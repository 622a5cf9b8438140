#!/bin/sh
# test_ntfs.sh - the offline cases on a real NTFS volume (mkntfs, mounted
# with ntfs-3g through FUSE, as guestmount does): the field case, restore
# byte for byte (read back after a remount), crashes, case-variant folder
# names, a junction and symlinks stored the way Windows stores them, an
# entry that cannot be stat'ed, a hibernated volume.  Each odd entry is
# classed invalid, moved aside by rename (or, when it cannot even be
# examined, left where it is) and none stops the repair.
. tests/lib.sh
. tests/ntfs-lib.sh
ntfs_require

BK=ProgramData/khreset/backup
REPARSE=system.ntfs_reparse_data
rpdata() { getfattr -h -e hex -n $REPARSE --only-values "$1" 2>/dev/null | od -An -tx1 | tr -d ' \n'; }

# --- the field case: detected, repaired, restored byte for byte ---
ntfs_fresh field
mtime=$(stat -c %Y "$A/$OLD_KH")
expect_exit 3 kh check
check "field: verdict repair" out_first '^verdict: *repair'
check "field: 61afd file carried-over" out_has "carried-over *$OLD_KH"
expect_exit 2 kh run
check "field: archive emptied" is_empty "$A"
ntfs_remount
check "field, after a remount: the bundle staged byte for byte" cmp -s "$d/bundle/$ROOT_KH" "$I/$ROOT_KH"
check "field, after a remount: registry value set (hivexget)" same "$(regval '\CMIT\Active' IntranetActivationServer)" "http://vdi.example.local"
check "field, after a remount: the backup holds the originals" \
	sh -c "cd '$V/$BK/'*/archive && sha256sum -c --quiet '$d/originals.sha256'"
expect_exit 3 kh check
check "field: after run, verdict activate" out_first '^verdict: *activate'
cp -p "$d/reference/"*.xml "$A/"
CASE="field, archive regenerated"
expect_exit 0 kh check
CASE=restore
expect_exit 0 kh restore --latest
ntfs_remount
check "restore, after a remount: originals back byte for byte" originals_back
check "restore, after a remount: mtimes kept" same "$(stat -c %Y "$A/$OLD_KH")" "$mtime"

# the healthy twin: a healthy NTFS volume is left untouched
ntfs_fresh healthy KH_HEALTHY=1
before=$(voldigest "$V")
expect_exit 0 kh run
check "healthy: run makes no backup" test ! -d "$V/$BK"
ntfs_remount
check "healthy: volume unchanged" same "$(voldigest "$V")" "$before"

# --- crashes: killed, then restore; killed, then run ---
for s in backup-move registry; do
	ntfs_fresh "kill-$s"
	CASE="kill at $s"
	KHRESET_TEST_STOP_AT=$s expect_exit 137 kh run
	ntfs_remount
	CASE="kill at $s, then restore"
	expect_exit 0 kh restore --latest
	check "kill at $s, then restore: interrupted run reported" err_has 'interrupted run'
	ntfs_remount
	check "kill at $s, then restore: every original byte back" originals_back
	check "kill at $s, then restore: nothing staged left" is_empty "$I"
	CASE="kill at $s, then run"
	KHRESET_TEST_STOP_AT=$s kh run
	expect_exit 2 kh run
	check "kill at $s, then run: archive clean" is_empty "$A"
done

# --- folder names in another case (Windows does not care; ntfs-3g does) ---
ntfs_fresh case
mv "$V/ProgramData/Microsoft/Windows/ClipSVC" "$V/ProgramData/Microsoft/Windows/clipsvc"
mv "$V/ProgramData/Microsoft/Windows/clipsvc/Archive" "$V/ProgramData/Microsoft/Windows/clipsvc/ARCHIVE"
mv "$V/Windows/System32/config/SOFTWARE" "$V/Windows/System32/config/software"
A=$V/ProgramData/Microsoft/Windows/clipsvc/ARCHIVE/KeyHolder
I=$V/ProgramData/Microsoft/Windows/clipsvc/Install/KeyHolder
check "case: ntfs-3g looks names up case-sensitively (the fixture)" test ! -e "$V/ProgramData/Microsoft/Windows/ClipSVC"
expect_exit 3 kh check
check "case: the archive found under other spellings" out_has "carried-over *$OLD_KH"
expect_exit 2 kh run
check "case: archive emptied" is_empty "$A"
check "case: staged into the existing folder" cmp -s "$d/bundle/$ROOT_KH" "$I/$ROOT_KH"
check "case: no second ClipSVC folder made" same "$(ls "$V/ProgramData/Microsoft/Windows")" clipsvc
check "case: the hive written under its own spelling" \
	same "$(hivexget "$V/Windows/System32/config/software" '\CMIT\Active' IntranetActivationServer)" "http://vdi.example.local"

# --- a junction and symlinks as Windows stores them (reparse points) ---
ntfs_fresh reparse
J=33333333-2222-3333-4444-555555555555.xml
S=44444444-2222-3333-4444-555555555555.xml
R=55555555-2222-3333-4444-555555555555.xml
echo canary >"$V/canary.txt"
mkdir -p "$V/Target/sub"
echo keep >"$V/Target/sub/$OLD_KH"
mkdir "$A/$J"
touch "$A/$S" "$A/$R"
ntfs_reparse "$A/$J" junction 'C:\Target'
ntfs_reparse "$A/$S" symlink 'C:\canary.txt'
ntfs_reparse "$A/$R" relsymlink '..\..\..\..\..\..\canary.txt'
ntfs_remount
jdata=$(rpdata "$A/$J")
sdata=$(rpdata "$A/$S")
check "reparse: the fixture: ntfs-3g shows the junction as a link" is_link "$A/$J"
check "reparse: the fixture: the relative symlink reaches the canary" same "$(cat "$A/$R")" canary
canary=$(sum "$V/canary.txt")
target=$(treedigest "$V/Target")
expect_exit 3 kh check
check "reparse: the junction classed invalid" out_has "invalid *$J *a symbolic link"
check "reparse: the symlink classed invalid" out_has "invalid *$S *a symbolic link"
check "reparse: the relative symlink classed invalid" out_has "invalid *$R *a symbolic link"
expect_exit 2 kh run
check "reparse: run emptied the archive" is_empty "$A"
ntfs_remount
bid=$(ls "$V/$BK")
check "reparse: the junction moved as it is (the same reparse data)" same "$(rpdata "$V/$BK/$bid/archive/$J")" "$jdata"
check "reparse: the symlink moved as it is (the same reparse data)" same "$(rpdata "$V/$BK/$bid/archive/$S")" "$sdata"
check "reparse: the relative symlink moved as a link" is_link "$V/$BK/$bid/archive/$R"
check "reparse: the canary untouched" same "$(sum "$V/canary.txt")" "$canary"
check "reparse: what the junction names untouched" same "$(treedigest "$V/Target")" "$target"
expect_exit 0 kh restore --latest
ntfs_remount
check "reparse: restore puts the junction back as it was" same "$(rpdata "$A/$J")" "$jdata"
check "reparse: the canary still untouched" same "$(sum "$V/canary.txt")" "$canary"

# --- an entry that cannot be stat'ed (a damaged MFT record) ---
ntfs_fresh eio
BAD=66666666-2222-3333-4444-555555555555.xml
cp "$A/$OLD_KH" "$A/$BAD"
fixture "eio: the record of $BAD broken" ntfs_corrupt "$A/$BAD"
check "eio: the fixture: listed, but stat fails with EIO" \
	sh -c "ls '$A' | grep -qx '$BAD' && ! stat '$A/$BAD' 2>'$T/stat.err' && grep -q 'Input/output error' '$T/stat.err'"
expect_exit 3 kh check
check "eio: check does not stop: the entry classed invalid" out_has "invalid *$BAD *cannot be examined (Input/output error)"
check "eio: the other entries classified" out_has "carried-over *$OLD_KH"
expect_exit 2 kh run
check "eio: run warns that it is left where it is" err_has "$BAD cannot be examined (Input/output error): left where it is"
check "eio: the other entries moved aside" same "$(ls "$A")" "$BAD"
check "eio: the bundle staged" cmp -s "$d/bundle/$ROOT_KH" "$I/$ROOT_KH"
bid=$(ls "$V/$BK")
check "eio: the backup holds the originals" sh -c "cd '$V/$BK/$bid/archive' && sha256sum -c --quiet '$d/originals.sha256'"
check "eio: the manifest lists what moved" file_has "$V/$BK/$bid/manifest" " file name=$OLD_KH "
check "eio: the manifest does not list it" file_lacks "$V/$BK/$bid/manifest" "name=$BAD "
expect_exit 3 kh --json check
check "eio: json: invalid, with the reason" \
	jq_is "[.archive[] | select(.name == \"$BAD\") | .class + \": \" + .reason][0]" \
	"invalid: cannot be examined (Input/output error): left where it is; check the file system (chkdsk /f)"

# --- a hibernated Windows (Fast Startup): ntfs-3g mounts read-only ---
ntfs_fresh hibernated
fixture "hibernated: hiberfil.sys of a hibernated Windows" ntfs_hibernate
check "hibernated: the fixture: ntfs-3g fell back to read-only" \
	sh -c "grep -q 'hibernated' '$T/ntfs-3g.log' && ! touch '$V/probe' 2>/dev/null"
imgdigest before
expect_exit 77 kh run
check "hibernated: run says why, before anything" err_has 'mounted read-only; ntfs-3g .*hibernated or was not shut down cleanly'
check "hibernated: run says what to do" err_has 'shut it down fully'
check "hibernated: nothing was attempted" err_lacks 'journal\|backup\|lock'
expect_exit 77 kh restore --latest
check "hibernated: restore refuses the same way" err_has 'hibernated'
expect_exit 3 kh check
check "hibernated: check still diagnoses, and warns" err_has 'mounted read-only.*may be stale'
imgdigest after
check "hibernated: the image byte for byte (sha256sum)" same "$after" "$before"

finish
