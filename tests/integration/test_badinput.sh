#!/bin/sh
# test_badinput.sh - bad input gets a clear message naming the file, line,
# key or entry, the SPEC exit code, and leaves the volume unchanged; each
# case next to its healthy twin.
. tests/lib.sh
chmod 755 "$T"
BK=ProgramData/khreset/backup

# twin for every archive case: the healthy volume is healthy
fresh healthy KH_HEALTHY=1
expect_exit 0 kh check
check "twin: healthy volume checks healthy" out_first '^verdict: *healthy'

# --- archive entries that are not keyholders: classed invalid, named ---
bad_entry() { # name reason-pattern setup-cmd
	fresh "$1" KH_HEALTHY=1
	sh -c "$3" _ "$A" "$T"
	before=$(voldigest "$V")
	expect_exit 3 kh check
	check "$1: entry classed invalid with its reason" out_has "invalid .*$2"
	check "$1: check leaves the volume unchanged" same "$(voldigest "$V")" "$before"
}
bad_entry malformed "line [0-9]" 'printf "<?xml version=\"1.0\"?>\n<License>\n<KeyHolder></License>\n" > "$1/11111111-2222-3333-4444-555555555555.xml"'
bad_entry doctype "DOCTYPE" 'printf "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\"><!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]>\n<License>&lol3;</License>\n" > "$1/11111111-2222-3333-4444-555555555555.xml"'
# The external entity names a FIFO with a writer waiting on it: the writer
# finishes only if something opens the FIFO to read it.
mkfifo "$T/canary"
sh -c 'printf "secret-canary\n" >"$1"' _ "$T/canary" &
canary=$!
bad_entry xxe "DOCTYPE" 'printf "<?xml version=\"1.0\"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM \"file://$2/canary\">]>\n<License>&e;</License>\n" > "$1/11111111-2222-3333-4444-555555555555.xml"'
check "xxe: the entity's target is never opened" kill -0 "$canary"
kill "$canary" 2>/dev/null
wait "$canary" 2>/dev/null
bad_entry oversize "larger than max_file_size" 'head -c 1100000 /dev/zero | tr "\0" " " > "$1/11111111-2222-3333-4444-555555555555.xml"'
# issue 8 item 13: 112,000 attributes in under 1 MiB (check took minutes)
python3 -c '
import itertools, string, sys
names = itertools.islice(itertools.product(string.ascii_letters, repeat=3), 112000)
sys.stdout.write("<License " + " ".join("".join(n) + "=\"\"" for n in names) + "/>")
' >"$T/attrs.xml"
bad_entry attributes "too complex for a keyholder: more than 64 attributes" 'cp "$2/attrs.xml" "$1/11111111-2222-3333-4444-555555555555.xml"'
check "attributes: the file is under max_file_size" test "$(stat -c %s "$T/attrs.xml")" -lt 1048576
check "attributes: and well-formed XML (Python's expat)" python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$T/attrs.xml"
bad_entry badname "not <uuid>.xml" 'cp "$1/f912421d-3371-f33c-3cf8-22df25e5851f.xml" "$1/notes.xml"'
bad_entry directory "a directory" 'mkdir "$1/11111111-2222-3333-4444-555555555555.xml"'
expect_exit 2 kh run --force
check "directory: run moves it aside" sh -c "[ -d '$V/$BK/'*/archive/11111111-2222-3333-4444-555555555555.xml ]"

# a symlink planted in the archive: classed invalid, moved as a link, never followed
bad_entry symlink "a symbolic link" 'echo canary > "$2/outside-file"; ln -s "$2/outside-file" "$1/22222222-2222-3333-4444-555555555555.xml"'
canary=$(sum "$T/outside-file")
expect_exit 2 kh run --force
check "symlink: run moves the link itself" is_link "$(echo "$V/$BK/"*/archive/22222222-2222-3333-4444-555555555555.xml)"
check "symlink: its target untouched" same "$(sum "$T/outside-file")" "$canary"
expect_exit 0 kh restore --latest
check "symlink: restore puts the link back as a link" is_link "$A/22222222-2222-3333-4444-555555555555.xml"
check "symlink: target still untouched" same "$(sum "$T/outside-file")" "$canary"

# --- names Windows could not have made (issue 8 item 18) ---
# a backslash: check gave "No such file or directory" for a file that exists
fresh backslash
printf x >"$A/a\\b.xml"
before=$(voldigest "$V")
expect_exit 3 kh check
check "backslash in a name: classed invalid, said why" out_has "invalid .*a.b.xml .*holds a '.'"
expect_exit 65 kh run
check "backslash in a name: run refused naming the entry" err_has "archive entry 'a.b.xml' cannot be moved"
check "backslash in a name: volume unchanged" same "$(voldigest "$V")" "$before"
# not UTF-8: --json dropped the entry that drove the verdict
fresh latin1
printf x >"$A/$(printf 'caf\351.xml')"
expect_exit 3 kh --json check
check "non-UTF-8 name: --json is one document" is_json
check "non-UTF-8 name: --json shows the entry, U+FFFD for the byte" \
	jq_is '[.archive[] | select(.name == "caf\ufffd.xml") | .class] | join(",")' invalid
check "non-UTF-8 name: name_hex holds the exact bytes" \
	jq_is '[.archive[] | select(.name_hex) | .name_hex] | join(",")' "$(printf 'caf\351.xml' | od -An -tx1 | tr -d ' \n')"
check "non-UTF-8 name: every entry listed" jq_is '.archive | length' 3
check "non-UTF-8 name: the same document in status.json" \
	jq_is '.archive | length' 3 "$V/ProgramData/khreset/status.json"
check "twin: a UTF-8 name has no name_hex" jq_is '[.archive[] | select(.name_hex)] | length' 1
expect_exit 3 kh check
check "non-UTF-8 name: the terminal shows the byte escaped" out_has 'caf\\xe9\.xml'
# a newline: the name cannot forge a line of the log or of the output
fresh newline
FORGED='x
2030-01-01T00:00:00Z error   run      FORGED.xml'
printf x >"$A/$FORGED"
expect_exit 2 kh run
check "newline in a name: no forged log line" file_lacks "$V/Windows/Logs/khreset/khreset.log" '^2030-01-01'
check "newline in a name: logged escaped on its own line" \
	file_has "$V/Windows/Logs/khreset/khreset.log" 'info  backup   moved .*x\\x0a2030-01-01T00:00:00Z error'
check "newline in a name: no forged output line" out_lacks '^2030-01-01'

# a symlink on the way to the archive: refused, nothing outside touched
fresh linkpath
mkdir -p "$T/elsewhere/KeyHolder"
echo keep > "$T/elsewhere/KeyHolder/$ROOT_KH"
rm -rf "$V/ProgramData/Microsoft/Windows/ClipSVC/Archive"
ln -s "$T/elsewhere" "$V/ProgramData/Microsoft/Windows/ClipSVC/Archive"
expect_exit 65 kh run
check "link on the path: run names it" err_has 'Archive'
check "link on the path: outside file untouched" same "$(cat "$T/elsewhere/KeyHolder/$ROOT_KH")" keep
check "link on the path: no backup made" test ! -e "$V/$BK"

# --- registry hives ---
fresh nohive
rm "$V/Windows/System32/config/SYSTEM"
before=$(voldigest "$V")
expect_exit 65 kh run
check "missing SYSTEM hive: named" err_has 'config/SYSTEM'
check "missing SYSTEM hive: volume unchanged" same "$(voldigest "$V")" "$before"
fresh corrupthive
printf 'garbage' | dd of="$V/Windows/System32/config/SOFTWARE" bs=1 seek=0 conv=notrunc 2>/dev/null
before=$(voldigest "$V")
expect_exit 65 kh run
check "corrupt SOFTWARE hive: named" err_has 'SOFTWARE'
check "corrupt SOFTWARE hive: volume unchanged" same "$(voldigest "$V")" "$before"
# issue 8 item 13: a hive of a size no hive has (a 6 GiB sparse SOFTWARE made
# run use 6.3 GB of memory and write it back dense) is refused unopened
HIVE=Windows/System32/config/SOFTWARE
for size in 6G 1G; do
	fresh "sparse-$size"
	truncate -s "$size" "$V/$HIVE"
	bytes=$(stat -c %s "$V/$HIVE")
	expect_exit 65 kh run
	check "sparse $size hive: refused, saying why" \
		err_has "SOFTWARE: $bytes bytes\(: larger than a registry hive can be\|, but its base block says 12288\)"
	check "sparse $size hive: still sparse, same size" \
		same "$(stat -c '%s %b' "$V/$HIVE" | awk '{ print $1, ($2 * 512 < 1048576) }')" "$bytes 1"
	check "sparse $size hive: archive untouched" originals_back
	check "sparse $size hive: no backup made" test ! -e "$V/$BK"
done
fresh truncated-hive
truncate -s 8192 "$V/$HIVE"
expect_exit 65 kh check
check "truncated hive: refused, saying why" err_has 'SOFTWARE: 8192 bytes: shorter than its base block says'
# item 19: a hive that cannot be read (EIO) is a failure (1), not bad input
# (65); tests/tools/failio.so fails the calls of a failing disk
if [ -f "$B/tools/failio.so" ]; then
	eio() { # CALL VERB...: khreset VERB with CALL on SOFTWARE failing with EIO
		c=$1
		shift
		ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
		KH_FAILIO_PATH=/$HIVE KH_FAILIO_CALL=$c LD_PRELOAD=$B/tools/failio.so kh_exec "$@"
	}
	fresh eio
	before=$(voldigest "$V")
	for c in mmap pread; do
		expect_exit 1 eio $c check
		check "EIO ($c) reading the hive: said as a read error" err_has 'SOFTWARE: cannot read: Input/output error'
	done
	expect_exit 1 eio pread run
	check "EIO (pread) before run's first step: said" err_has 'SOFTWARE: cannot read: Input/output error'
	check "EIO before the first step: volume as before" same "$(voldigest "$V")" "$before"
	# hivex's own read of the whole hive, in the registry step (what the
	# rollback then does is issue 8 item 9, not checked here)
	expect_exit 1 eio read run
	check "EIO (read) in run's registry step: said" err_has 'SOFTWARE: cannot read: Input/output error'
	fresh eio-twin
	expect_exit 2 kh run
	check "twin: the same volume without the failing disk repairs" is_empty "$A"
else
	skip "EIO reading a hive ($B/tools/failio.so not built: make all)"
fi
fresh nosource KH_NO_UPGRADE=1
expect_exit 3 kh --json check
check "missing Source OS keys: upgraded_from null" jq_is .system.upgraded_from null
check "missing Source OS keys: verdict blocked" jq_is .verdict blocked

# --- configuration ---
INI=Windows/Setup/Scripts/khreset/khreset.ini
fresh ini
printf '[policy]\nthis line is wrong\n' >> "$V/$INI"
before=$(voldigest "$V")
expect_exit 65 kh run
check "malformed INI: message names file and line" err_has 'khreset.ini line 13: expected'
check "malformed INI: volume unchanged" same "$(voldigest "$V")" "$before"
fresh inival
printf '[clipsvc]\ntimeout = soon\n' >> "$V/$INI"
expect_exit 65 kh check
check "invalid value: message names line and key" err_has 'line 13: \[clipsvc\] timeout'
fresh iniunknown
printf '[policy]\nfrobnicate = 1\n' >> "$V/$INI"
expect_exit 3 kh check
check "unknown key: a warning" err_has 'unknown key \[policy\] frobnicate'
check "unknown key: check goes on" out_first '^verdict: *repair'
expect_exit 65 kh --config "$T/nonexistent.ini" check
check "missing --config file: named" err_has nonexistent.ini

# bad_ini NAME TEXT RE: TEXT appended to the volume's khreset.ini makes run
# exit 65 before anything changes, the message matching RE (file, line, key)
bad_ini() {
	fresh "$1"
	printf "$2" >> "$V/$INI"
	before=$(voldigest "$V")
	expect_exit 65 kh run
	check "$1: message names file, line and key" err_has "khreset.ini line $3"
	check "$1: volume unchanged" same "$(voldigest "$V")" "$before"
	check "$1: no backup made" test ! -e "$V/$BK"
}
REGKEY='HKLM\\SOFTWARE\\CMIT\\Active'
# issue 8 item 12: a [registry] value name that is not UTF-8 (run crashed
# inside hivex after the archive had moved)
bad_ini reg-name-utf8 "value4 = $REGKEY | Name\\377\\376 | REG_SZ | x\\n" '12: \[registry\] value4 .*not UTF-8'
# item 14: what the registry writer refused after the archive moved (exit 1)
bad_ini reg-dword-sign "value4 = $REGKEY | Count | REG_DWORD | +5\\n" '12: \[registry\] value4 .*REG_DWORD'
bad_ini reg-data-utf8 "value4 = $REGKEY | Url | REG_SZ | caf\\351\\n" '12: \[registry\] value4 .*not UTF-8'
bad_ini reg-key-long "value4 = $REGKEY\\\\$(printf '%0256d' 0) | N | REG_SZ | x\\n" '12: \[registry\] value4 .*256 characters long, more than the 255'
# item 15: config misreads
bad_ini ini-nul '[clipsvc]\nservice = Clip\000SVC\n' '13: NUL byte'
bad_ini ini-dup '[policy]\nkeep_backups = 3\n' '13: \[policy\] keep_backups .*given twice (first on line 7)'
bad_ini reg-dword-octal "value4 = $REGKEY | Count | REG_DWORD | 010\\n" '12: \[registry\] value4 .*leading zero'
for dur in P PT P1H; do
	bad_ini "task-delay-$dur" "[task]\\ndelay = $dur\\n" "13: \\[task\\] delay = '$dur': expected an ISO 8601 duration"
done
# twin: the same keys written as meant are taken
fresh ini-good
printf "value4 = $REGKEY | Count | REG_DWORD | 10\\n[task]\\ndelay = PT1H\\n" >> "$V/$INI"
expect_exit 2 kh run
check "twin: DWORD 10 is written as 10" same "$(regval '\CMIT\Active' Count)" 10

# --- the bundle ---
PB=Windows/Setup/Scripts/khreset/bundle
fresh digest
printf ' ' >> "$V/$PB/$ROOT_KH"
before=$(voldigest "$V")
expect_exit 65 kh run
check "bundle digest mismatch: the file named" err_has "$ROOT_KH"
check "bundle digest mismatch: volume unchanged" same "$(voldigest "$V")" "$before"
fresh unsigned
rm "$V/$PB/manifest.sig"
before=$(voldigest "$V")
expect_exit 65 kh run
check "unsigned bundle with public_key set: manifest.sig named" err_has 'manifest.sig'
check "unsigned bundle: volume unchanged" same "$(voldigest "$V")" "$before"
fresh unsigned-ok KH_UNSIGNED=1
rm "$V/$PB/manifest.sig"
expect_exit 2 kh run
check "twin: unsigned bundle without public_key repairs" is_empty "$A"
fresh forged
sed -i 's/^name = .*/name = forged/' "$V/$PB/manifest.ini"
before=$(voldigest "$V")
expect_exit 65 kh run
check "forged bundle: the signature named" err_has '[Ss]ignature'
check "forged bundle: volume unchanged" same "$(voldigest "$V")" "$before"

# issue 8 item 10: offline, the bundle and its key are read below the root
# through the safe path walk; the volume's own khreset.ini cannot name a
# bundle elsewhere (run staged a bundle from outside --root)
fresh bundle-abs
cp -r "$d/bundle" "$T/outside-bundle"
sed -i "s|^dir .*|dir = $T/outside-bundle|" "$V/$INI"
before=$(voldigest "$V")
expect_exit 65 kh run
check "absolute bundle dir in the volume's khreset.ini: line and key named" \
	err_has 'khreset.ini line 3: \[bundle\] dir = .*outside the volume'
check "absolute bundle dir: volume unchanged" same "$(voldigest "$V")" "$before"
check "absolute bundle dir: nothing staged" is_empty "$I"
fresh bundle-dotdot
sed -i "s|^dir .*|dir = ../../../../../bundle|" "$V/$INI"
expect_exit 65 kh check
check "bundle dir with '..': line and key named" err_has 'khreset.ini line 3: \[bundle\] dir'
fresh bundle-link
mv "$V/$PB" "$T/linked-bundle"
ln -s "$T/linked-bundle" "$V/$PB"
before=$(voldigest "$V")
expect_exit 65 kh run
check "symlinked bundle folder: refused, named" err_has 'khreset.bundle: a symbolic link, refused'
check "symlinked bundle folder: volume unchanged" same "$(voldigest "$V")" "$before"
check "symlinked bundle folder: nothing staged" is_empty "$I"
fresh payload-link
mv "$V/Windows/Setup/Scripts/khreset" "$T/linked-payload"
ln -s "$T/linked-payload" "$V/Windows/Setup/Scripts/khreset"
expect_exit 65 kh check
check "symlinked payload folder: refused, named" err_has 'Scripts/khreset.*refused'
expect_exit 3 kh --config "$T/linked-payload/khreset.ini" check
check "twin: --config names a host file: its bundle is read on the host" \
	out_has '^bundle: .*signature verified'
fresh pubkey-link
mv "$V/Windows/Setup/Scripts/khreset/demo.pub" "$T/outside.pub"
ln -s "$T/outside.pub" "$V/Windows/Setup/Scripts/khreset/demo.pub"
expect_exit 65 kh run
check "symlinked public key: refused" err_has 'demo.pub'
check "symlinked public key: nothing staged" is_empty "$I"
# twin: --config FILE on the host names host paths (SPEC section 6)
fresh host-config
sed -e "s|^dir .*|dir = $d/bundle|" -e "s|^public_key .*|public_key = $d/keys/demo.pub|" \
	"$V/$INI" >"$T/host.ini"
rm -r "$V/$PB"
expect_exit 2 kh --config "$T/host.ini" run
check "twin: --config on the host: its bundle staged" same "$(sum "$I/$ROOT_KH")" "$(sum "$d/bundle/$ROOT_KH")"

# issue 8 item 19: the bundle error is said once by check
fresh bundle-once
printf ' ' >> "$V/$PB/$ROOT_KH"
expect_exit 65 kh check
check "bundle error: check says it once" same "$(grep -c 'without the official keyholder set' "$T/err")" 1
# item 19: [bundle] target_build against the running build (17763)
fresh target-build KH_UNSIGNED=1
sed -i 's/^target_build = .*/target_build = 19044/' "$V/$PB/manifest.ini"
rm "$V/$PB/manifest.sig"
expect_exit 3 kh check
check "target_build 19044 on build 17763: check says so" \
	err_has 'the bundle targets build 19044, this system runs build 17763: run refuses it without --force'
check "target_build: the summary says it too" out_has '^bundle: .*FOR BUILD 19044 (this is 17763)'
expect_exit 3 kh --json check
check "target_build: in the status document" jq_is .bundle.target_build 19044
before=$(voldigest "$V")
expect_exit 65 kh run
check "target_build: run refuses, says why" err_has 'targets build 19044, this system runs build 17763: not used'
check "target_build: volume unchanged" same "$(voldigest "$V")" "$before"
expect_exit 2 kh run --force
check "target_build: --force uses it, saying so" err_has 'used anyway (--force)'
fresh target-same
expect_exit 3 kh check
check "twin: a bundle for this build: nothing said" err_lacks 'targets build'
# item 19: a symlinked backup folder (run failed with exit 1)
fresh backup-link
mkdir -p "$V/ProgramData/khreset" "$T/elsewhere-backup"
ln -s "$T/elsewhere-backup" "$V/$BK"
before=$(voldigest "$V")
expect_exit 65 kh run
check "symlinked backup folder: refused, named" err_has 'khreset.backup: refused: a symbolic link'
check "symlinked backup folder: archive untouched" originals_back
check "symlinked backup folder: volume unchanged" same "$(voldigest "$V")" "$before"
check "symlinked backup folder: nothing written through it" is_empty "$T/elsewhere-backup"

# --- files khreset writes: one name each, and a log that cannot be written ---
LOGD=Windows/Logs/khreset
# issue 8 item 11: a hard-linked khreset.log (run appended outside the root)
fresh hardlog
mkdir -p "$V/$LOGD"
echo canary >"$T/outside.log"
ln "$T/outside.log" "$V/$LOGD/khreset.log"
expect_exit 2 kh run
check "hard-linked khreset.log: the file outside is untouched" same "$(cat "$T/outside.log")" canary
check "hard-linked khreset.log: the run says the log is not written" \
	err_has 'log Windows.Logs.khreset.khreset.log cannot be written: .*2 hard links'
check "hard-linked khreset.log: said once" same "$(grep -c 'cannot be written' "$T/err")" 1
check "hard-linked khreset.log: the repair itself went on" is_empty "$A"
fresh hardstatus
mkdir -p "$V/ProgramData/khreset"
echo canary >"$T/outside.json"
ln "$T/outside.json" "$V/ProgramData/khreset/status.json"
expect_exit 3 kh check
check "hard-linked status.json: the file outside is untouched" same "$(cat "$T/outside.json")" canary
check "hard-linked status.json: said" err_has 'status.json.*2 hard links'
# twin: a log of one name is written
fresh onelink
expect_exit 2 kh run
check "twin: khreset.log written" file_has "$V/$LOGD/khreset.log" 'outcome pending'
check "twin: no complaint about the log" err_lacks 'cannot be written'
# item 19: the log cannot be written at all (a file where its folder goes)
fresh nolog
rm -rf "$V/Windows/Logs"
echo x >"$V/Windows/Logs"
expect_exit 2 kh run
check "log folder is a file: the run says the log is not written" \
	err_has 'log Windows.Logs.khreset.khreset.log cannot be written'

# --- concurrency and permissions ---
# The lock is held by a subshell that reads from a FIFO the test keeps open:
# it holds the lock until the test writes a line.
fresh busy
LOCK=$V/ProgramData/khreset/lock
mkdir -p "$V/ProgramData/khreset"
touch "$LOCK"
mkfifo "$T/release"
exec 8<>"$T/release"
( flock 9 && read -r _ <"$T/release" ) 9<"$LOCK" &
holder=$!
held() { ! flock -n "$LOCK" true; }
fixture "another process holds the lock" wait_for 10 held
before=$(voldigest "$V")
expect_exit 75 kh run
check "second concurrent run: says why" err_has 'another khreset is running'
check "second concurrent run: volume unchanged" same "$(voldigest "$V")" "$before"
echo >&8
wait $holder
exec 8>&-
CASE="busy, lock released"
expect_exit 2 kh run
check "twin: once the lock is free, run repairs" is_empty "$A"

fresh readonly
before=$(voldigest "$V")
expect_exit 77 setpriv --reuid=65534 --regid=65534 --clear-groups "$KH" --root "$V" run
check "read-only volume: says it is not writable" err_has 'not writable'
check "read-only volume: unchanged" same "$(voldigest "$V")" "$before"

finish
