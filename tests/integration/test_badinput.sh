#!/bin/sh
# test_badinput.sh - bad input gets a clear message naming the file, line,
# key or entry, the SPEC exit code, and leaves the volume unchanged; each
# case next to its healthy twin.
. tests/integration/lib.sh
chmod 755 "$T"

# twin for every archive case: the healthy volume is healthy
fresh healthy KH_HEALTHY=1
kh check
check "twin: healthy volume checks healthy" rc_is 0

# --- archive entries that are not keyholders: classed invalid, named ---
bad_entry() { # name desc reason-pattern setup-cmd
	fresh "$1" KH_HEALTHY=1
	sh -c "$3" _ "$A" "$T"
	before=$(voldigest "$V")
	kh check
	check "$1: check exit 3, entry invalid with reason" sh -c "[ $RC = 3 ] && printf '%s' \"\$1\" | grep -q \"invalid .*$2\"" _ "$OUT"
	check "$1: check leaves the volume unchanged" same "$(voldigest "$V")" "$before"
}
X=$A
bad_entry malformed "line [0-9]" 'printf "<?xml version=\"1.0\"?>\n<License>\n<KeyHolder></License>\n" > "$1/11111111-2222-3333-4444-555555555555.xml"'
bad_entry doctype "DOCTYPE" 'printf "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\"><!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]>\n<License>&lol3;</License>\n" > "$1/11111111-2222-3333-4444-555555555555.xml"'
bad_entry xxe "DOCTYPE" 'echo secret-canary > "$2/canary"; printf "<?xml version=\"1.0\"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM \"file://$2/canary\">]>\n<License>&e;</License>\n" > "$1/11111111-2222-3333-4444-555555555555.xml"'
check "xxe: the entity target never shows up" sh -c "! grep -rq secret-canary '$V/ProgramData/khreset' && ! printf '%s' \"\$1\" | grep -q secret-canary" _ "$OUT"
bad_entry oversize "larger than max_file_size" 'head -c 1100000 /dev/zero | tr "\0" " " > "$1/11111111-2222-3333-4444-555555555555.xml"'
bad_entry badname "not <uuid>.xml" 'cp "$1/f912421d-3371-f33c-3cf8-22df25e5851f.xml" "$1/notes.xml"'
bad_entry directory "a directory" 'mkdir "$1/11111111-2222-3333-4444-555555555555.xml"'
kh run --force
check "directory: run moves it aside (exit 2)" sh -c "[ $RC = 2 ] && [ -d '$V/ProgramData/khreset/backup/'*/archive/11111111-2222-3333-4444-555555555555.xml ]"

# a symlink planted in the archive: classed invalid, moved as a link, never followed
bad_entry symlink "a symbolic link" 'echo canary > "$2/outside-file"; ln -s "$2/outside-file" "$1/22222222-2222-3333-4444-555555555555.xml"'
canary=$(sha256sum < "$T/outside-file")
kh run --force
check "symlink: run moves the link itself" sh -c "[ $RC = 2 ] && [ -L \"\$(echo '$V/ProgramData/khreset/backup/'*/archive/22222222-2222-3333-4444-555555555555.xml)\" ]"
check "symlink: its target untouched" same "$(sha256sum < "$T/outside-file")" "$canary"
kh restore --latest
check "symlink: restore puts the link back as a link" sh -c "[ $RC = 0 ] && [ -L '$A/22222222-2222-3333-4444-555555555555.xml' ]"
check "symlink: target still untouched" same "$(sha256sum < "$T/outside-file")" "$canary"

# a symlink on the way to the archive: refused, nothing outside touched
fresh linkpath
mkdir -p "$T/elsewhere/KeyHolder"
echo keep > "$T/elsewhere/KeyHolder/$ROOT_KH"
rm -rf "$V/ProgramData/Microsoft/Windows/ClipSVC/Archive"
ln -s "$T/elsewhere" "$V/ProgramData/Microsoft/Windows/ClipSVC/Archive"
kh run
check "link on the path: run refused (exit 65) naming it" sh -c "[ $RC = 65 ] && printf '%s' \"\$1\" | grep -qi 'Archive'" _ "$ERR"
check "link on the path: outside file untouched" sh -c "[ \"\$(cat '$T/elsewhere/KeyHolder/$ROOT_KH')\" = keep ] && [ ! -e '$V/ProgramData/khreset/backup' ]"

# --- registry hives ---
fresh nohive
rm "$V/Windows/System32/config/SYSTEM"
before=$(voldigest "$V")
kh run
check "missing SYSTEM hive: exit 65 naming it" sh -c "[ $RC = 65 ] && printf '%s' \"\$1\" | grep -q 'config/SYSTEM'" _ "$ERR"
check "missing SYSTEM hive: volume unchanged" same "$(voldigest "$V")" "$before"
fresh corrupthive
printf 'garbage' | dd of="$V/Windows/System32/config/SOFTWARE" bs=1 seek=0 conv=notrunc 2>/dev/null
before=$(voldigest "$V")
kh run
check "corrupt SOFTWARE hive: exit 65 naming it" sh -c "[ $RC = 65 ] && printf '%s' \"\$1\" | grep -q 'SOFTWARE'" _ "$ERR"
check "corrupt SOFTWARE hive: volume unchanged" same "$(voldigest "$V")" "$before"
fresh nosource KH_NO_UPGRADE=1
kh --json check
check "missing Source OS keys: upgraded_from null, blocked" jq_is '"\(.system.upgraded_from) \(.verdict)"' "null blocked"

# --- configuration ---
INI=Windows/Setup/Scripts/khreset/khreset.ini
fresh ini
printf '[policy]\nthis line is wrong\n' >> "$V/$INI"
before=$(voldigest "$V")
kh run
check "malformed INI: exit 65 with file and line" sh -c "[ $RC = 65 ] && printf '%s' \"\$1\" | grep -q 'khreset.ini line 13: expected'" _ "$ERR"
check "malformed INI: volume unchanged" same "$(voldigest "$V")" "$before"
fresh inival
printf '[clipsvc]\ntimeout = soon\n' >> "$V/$INI"
kh check
check "invalid value: exit 65 naming line and key" sh -c "[ $RC = 65 ] && printf '%s' \"\$1\" | grep -q 'line 13: \[clipsvc\] timeout'" _ "$ERR"
fresh iniunknown
printf '[policy]\nfrobnicate = 1\n' >> "$V/$INI"
kh check
check "unknown key: warning only, check goes on (exit 3)" sh -c "[ $RC = 3 ] && printf '%s' \"\$1\" | grep -q 'unknown key \[policy\] frobnicate'" _ "$ERR"
kh --config "$T/nonexistent.ini" check
check "missing --config file: exit 65 naming it" sh -c "[ $RC = 65 ] && printf '%s' \"\$1\" | grep -q nonexistent.ini" _ "$ERR"

# --- the bundle ---
PB=Windows/Setup/Scripts/khreset/bundle
fresh digest
printf ' ' >> "$V/$PB/$ROOT_KH"
before=$(voldigest "$V")
kh run
check "bundle digest mismatch: run exit 65 naming the file" sh -c "[ $RC = 65 ] && printf '%s' \"\$1\" | grep -q '$ROOT_KH'" _ "$ERR"
check "bundle digest mismatch: volume unchanged" same "$(voldigest "$V")" "$before"
fresh unsigned
rm "$V/$PB/manifest.sig"
before=$(voldigest "$V")
kh run
check "unsigned bundle with public_key set: exit 65" sh -c "[ $RC = 65 ] && printf '%s' \"\$1\" | grep -q 'manifest.sig'" _ "$ERR"
check "unsigned bundle: volume unchanged" same "$(voldigest "$V")" "$before"
fresh unsigned-ok KH_UNSIGNED=1
rm "$V/$PB/manifest.sig"
kh run
check "twin: unsigned bundle without public_key repairs (exit 2)" rc_is 2
fresh forged
sed -i 's/^name = .*/name = forged/' "$V/$PB/manifest.ini"
before=$(voldigest "$V")
kh run
check "forged bundle: exit 65" sh -c "[ $RC = 65 ] && printf '%s' \"\$1\" | grep -qi 'signature'" _ "$ERR"
check "forged bundle: volume unchanged" same "$(voldigest "$V")" "$before"

# --- concurrency and permissions ---
fresh busy
mkdir -p "$V/ProgramData/khreset"
touch "$V/ProgramData/khreset/lock"
flock "$V/ProgramData/khreset/lock" sleep 5 &
holder=$!
sleep 0.5
before=$(voldigest "$V")
kh run
check "second concurrent run: exit 75" sh -c "[ $RC = 75 ] && printf '%s' \"\$1\" | grep -qi 'another khreset is running'" _ "$ERR"
check "second concurrent run: volume unchanged" same "$(voldigest "$V")" "$before"
wait $holder
kh run
check "twin: once the lock is free, run works (exit 2)" rc_is 2

fresh readonly
before=$(voldigest "$V")
setpriv --reuid=65534 --regid=65534 --clear-groups "$KH" --root "$V" run >"$T/out" 2>"$T/err"
RC=$?
ERR=$(cat "$T/err")
check "read-only volume: exit 77" sh -c "[ $RC = 77 ] && printf '%s' \"\$1\" | grep -q 'not writable'" _ "$ERR"
check "read-only volume: unchanged" same "$(voldigest "$V")" "$before"

finish
