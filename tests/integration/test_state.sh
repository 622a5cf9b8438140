#!/bin/sh
# test_state.sh - nothing lost, provably (issue 8): the journal and the
# backups hold any name, any crash and any registry state.  One case per
# finding (items 1-9, 16, 17, 20), each with its negative twin; results are
# checked with independent tools (python3 for names as bytes, sha256sum on
# hive files, hivexget, strace's fault injection for kills and failures).
. tests/lib.sh
# strace, with LeakSanitizer off (it cannot run under ptrace: ASan builds)
st() { ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace "$@"; }

BK=ProgramData/khreset/backup
J=ProgramData/khreset/journal
CFG=Windows/System32/config
SOFTWARE_HIVE=$CFG/SOFTWARE
INI=Windows/Setup/Scripts/khreset/khreset.ini
have_strace() { command -v strace >/dev/null 2>&1; }

# dirsum DIR: names (as bytes), types, sizes, mtimes and contents of DIR's
# entries, by python3 (names with a TAB, a newline or any byte included)
dirsum() {
	python3 - "$1" <<'EOF'
import hashlib, os, stat, sys
d = os.fsencode(sys.argv[1])
h = hashlib.sha256()
for n in sorted(os.listdir(d)):
    p = os.path.join(d, n)
    st = os.lstat(p)
    h.update(repr((n, stat.S_IFMT(st.st_mode), st.st_size, int(st.st_mtime))).encode())
    if stat.S_ISREG(st.st_mode):
        h.update(hashlib.sha256(open(p, 'rb').read()).digest())
print(h.hexdigest())
EOF
}
# pyname DIR NAME-AS-PYTHON-BYTES CONTENT: a file whose name is any bytes
pyname() {
	python3 -c "import os,sys; open(os.path.join(os.fsencode(sys.argv[1]), $2), 'wb').write(sys.argv[3].encode())" "$1" "$3"
}
# reg HIVEFILE REGTEXT: merge .reg text (values of any type) into a hive
reg() {
	printf 'Windows Registry Editor Version 5.00\n\n%s\n' "$2" >"$T/merge.reg"
	fixture "hivexregedit merges $2" hivexregedit --merge --prefix 'HKEY_LOCAL_MACHINE\SOFTWARE' "$1" "$T/merge.reg"
}
# rec PAYLOAD: one journal record as record.h writes it, made here by hand
rec() {
	printf '%d %s %s\n' "$(printf %s "$1" | wc -c)" "$(printf %s "$1" | sha256sum | cut -c1-64)" "$1"
}
nojournal() { test ! -e "$V/$J"; }
state_of() { grep -o ' state=[a-z-]*' "$V/$BK/$1/manifest" | cut -d= -f2; }

# --- 1. names that differ only in case: refused before anything moves ---
fresh case-archive
cp "$A/$ROOT_KH" "$A/$(echo "$ROOT_KH" | tr a-z A-Z)"
printf 'other bytes' >>"$A/$(echo "$ROOT_KH" | tr a-z A-Z)"
before=$(voldigest "$V")
expect_exit 65 kh run
check "item 1: the two spellings are named" err_has "$(echo "$ROOT_KH" | tr a-z A-Z).*$ROOT_KH\|$ROOT_KH.*$(echo "$ROOT_KH" | tr a-z A-Z)"
check "item 1: nothing changed (volume digest)" same "$(voldigest "$V")" "$before"
check "item 1: no journal left" nojournal
fresh case-install
cp "$d/bundle/$ROOT_KH" "$I/$(echo "$ROOT_KH" | tr a-z A-Z)"
printf 'x' >>"$I/$(echo "$ROOT_KH" | tr a-z A-Z)"
printf 'y' >"$I/$ROOT_KH"
before=$(voldigest "$V")
expect_exit 65 kh run
check "item 1: install spellings refused, nothing changed" same "$(voldigest "$V")" "$before"
fresh backslash
printf 'b' >"$A/back\\slash.xml"
before=$(voldigest "$V")
expect_exit 65 kh run
check "item 1: a name with a backslash is named" err_has 'back.slash.xml'
check "item 1: and nothing changed" same "$(voldigest "$V")" "$before"
# twin: one upper-case spelling alone is backed up and restored byte for byte
fresh case-one
mv "$A/$ROOT_KH" "$A/$(echo "$ROOT_KH" | tr a-z A-Z)"
arch=$(dirsum "$A")
expect_exit 2 kh run
expect_exit 0 kh restore --latest
check "item 1 twin: an upper-case name alone comes back byte for byte" same "$(dirsum "$A")" "$arch"

# --- 2. restore killed after the old backup is marked restored ---
fresh restore-kill
expect_exit 2 kh run
old=$(ls "$V/$BK")
if have_strace; then
	# the kill lands on the unlinkat that removes the journal, found by a
	# dry run on a copy (every earlier unlinkat is a probe)
	cp -a "$d" "$T/restore-dry"
	st -f -qq -o "$T/unlinks" -e trace=unlinkat "$KH" --root "$T/restore-dry/vol" \
		restore --latest >/dev/null 2>&1
	n=$(grep -c 'unlinkat(' "$T/unlinks" | tr -d ' ')
	nj=$(grep -n 'unlinkat(.*"journal"' "$T/unlinks" | head -n 1 | cut -d: -f1)
	CASE="item 2"
	check "item 2: the dry run removed its journal (unlinkat $nj of $n)" test -n "$nj"
	run st -f -qq -o /dev/null -e inject=unlinkat:signal=KILL:when="$nj" \
		"$KH" --root "$V" restore --latest
	check "item 2: killed just before the journal was removed" rc_is 137
	kh restore --latest
	check "item 2: afterwards the originals are in the archive" originals_back
	check "item 2: and the old backup is marked restored (not stranded)" same "$(state_of "$old")" restored
	check "item 2: no journal left" nojournal
else
	skip "item 2: strace is not installed"
fi
# twin: killed after marking, before the commit record: undone, then restorable
fresh restore-kill2
expect_exit 2 kh run
old=$(ls "$V/$BK")
CASE="item 2 twin"
KHRESET_TEST_STOP_AT=restore-marked expect_exit 137 kh restore --latest
check "item 2 twin: the journal is left for recovery" test -s "$V/$J"
expect_exit 0 kh restore --latest
check "item 2 twin: the interrupted restore is reported" err_has "interrupted run"
check "item 2 twin: originals back" originals_back
check "item 2 twin: the old backup restored once" same "$(state_of "$old")" restored

# --- 3. names with ';', a leading '#', leading and trailing spaces ---
fresh odd-names
for n in 'a;b.xml' '#lead.xml' ' lead-space.xml' 'trail-space.xml ' '=eq.xml' '%41.xml'; do
	printf 'odd %s' "$n" >"$A/$n"
done
arch=$(dirsum "$A")
expect_exit 2 kh run
check "item 3: every odd name left the archive" is_empty "$A"
expect_exit 0 kh restore --latest
check "item 3: the backup restores every name byte for byte" same "$(dirsum "$A")" "$arch"

# --- 4. names with a TAB or a newline, and a kill ---
fresh tab-names
pyname "$A" "b'tab\\tname.xml'" tab
pyname "$A" "b'new\\nline.xml'" newline
pyname "$A" "b'not-utf8-\\xff\\xfe.xml'" bytes
arch=$(dirsum "$A")
CASE="item 4"
KHRESET_TEST_STOP_AT=backup expect_exit 137 kh run
expect_exit 0 kh restore --latest
check "item 4: after the kill every name is back byte for byte" same "$(dirsum "$A")" "$arch"
check "item 4: the backup keeps nothing of them" sh -c "! ls -A '$V/$BK'/*/archive | grep -q ."
# twin: the same names through a run and a restore
fresh tab-names2
pyname "$A" "b'tab\\tname.xml'" tab
arch=$(dirsum "$A")
expect_exit 2 kh run
expect_exit 0 kh restore --latest
check "item 4 twin: a TAB name through run and restore" same "$(dirsum "$A")" "$arch"

# --- 5, 6, 16. any old registry value; a kill after the registry step ---
for c in "5:\"ActiveMode\"=\"not a dword\"" "6:\"IntranetActivationServer\"=\"a	b\"" \
	 "16:\"IntranetSkuId\"=hex(7):61,00,00,00,62,00,00,00,00,00" \
	 "16:\"ActiveMode\"=hex:de,ad,be,ef"; do
	item=${c%%:*}
	fresh "reg-$item"
	reg "$V/$SOFTWARE_HIVE" "[HKEY_LOCAL_MACHINE\\SOFTWARE\\CMIT]

[HKEY_LOCAL_MACHINE\\SOFTWARE\\CMIT\\Active]
${c#*:}"
	vname=$(printf '%s' "${c#*:}" | cut -d'"' -f2)
	check "item $item: the fixture holds $vname (hivexregedit)" sh -c "hivexregedit --export '$V/$SOFTWARE_HIVE' '\\CMIT\\Active' | grep -q '^\"$vname\"='"
	hive=$(sum "$V/$SOFTWARE_HIVE")
	CASE="item $item (${c#*:})"
	KHRESET_TEST_STOP_AT=registry expect_exit 137 kh run
	check "item $item: the registry step had changed the hive" test "$(sum "$V/$SOFTWARE_HIVE")" != "$hive"
	expect_exit 0 kh restore --latest
	check "item $item: the hive is back byte for byte (sha256sum)" same "$(sum "$V/$SOFTWARE_HIVE")" "$hive"
	check "item $item: the archive is back" originals_back
	fresh "reg-$item-b"
	reg "$V/$SOFTWARE_HIVE" "[HKEY_LOCAL_MACHINE\\SOFTWARE\\CMIT]

[HKEY_LOCAL_MACHINE\\SOFTWARE\\CMIT\\Active]
${c#*:}"
	expect_exit 2 kh run
	check "item $item: a run over that value sets it" same "$(regval '\CMIT\Active' IntranetActivationServer)" "http://vdi.example.local"
	check "item $item: the old hive is kept in the backup" test -f "$V/$BK/$(ls "$V/$BK")/registry/SOFTWARE"
done

# --- 7. torn records: the last one, and a move cut at a folder ---
fresh torn-reg
KHRESET_TEST_STOP_AT=stage kh run
hive=$(sum "$V/$SOFTWARE_HIVE")
# power lost while a record of the older text journal was being written
printf 'reg\tHKLM\\SOFTWARE\\CMIT\\Active\tIntranetActivationServer\t1\t1\thttp://vd' >>"$V/$J"
expect_exit 0 kh restore --latest
check "item 7: a torn last record writes nothing into the registry" same "$(sum "$V/$SOFTWARE_HIVE")" "$hive"
check "item 7: the archive is back" originals_back
fresh torn-move
KHRESET_TEST_STOP_AT=stage kh run
bid=$(ls "$V/$BK")
printf 'move\t%s\\%s\tProgramData\\khreset\\backup\\%s' "$(echo "$ARCH_REL" | tr / '\\')" x.xml "$bid" >>"$V/$J"
expect_exit 0 kh restore --latest
check "item 7: a move cut at a folder moves no backup folder" test -d "$V/$BK/$bid"
check "item 7: nothing named x.xml in the archive" test ! -e "$A/x.xml"
check "item 7: the archive is back" originals_back
# twin: a real torn write (test seam: half of record 4 on disk, then killed)
fresh torn-seam
KHRESET_TEST_STOP_AT=journal-tear-4 expect_exit 137 kh run
expect_exit 0 kh restore --latest
check "item 7 twin: after a torn write the originals are back" originals_back

# --- 8. a hand-edited journal: only what khreset owns is touched ---
ARCHW=$(echo "$ARCH_REL" | tr / '\\')
for form in text records; do
	fresh "forged-$form"
	expect_exit 2 kh run
	bid=$(ls "$V/$BK")
	kept=$(sum "$V/$BK/$bid/archive/$OLD_KH")
	hive=$(sum "$V/$SOFTWARE_HIVE")
	if [ $form = text ]; then
		# the older text journal's form
		{
			printf 'begin\t-\t1\n'
			printf 'stage\tProgramData\\khreset\\backup\\%s\\archive\\%s\t%s\n' "$bid" "$OLD_KH" "$kept"
			printf 'move\tWindows\\System32\\config\\SOFTWARE\tProgramData\\khreset\\lock\n'
		} >"$V/$J"
	else
		# well-formed, checksummed records that name what khreset does not own
		{
			rec "khreset-journal format=1 kind=run pid=1"
			rec "backup id=20990101T000000Z role=own"
			rec "stage dir=ProgramData\\khreset\\backup\\$bid\\archive name=$OLD_KH sha256=$kept"
			rec "move name=SOFTWARE from=Windows\\System32\\config to=ProgramData\\khreset type=file size=0 sha256="
			rec "move name=lock from=Windows\\System32\\config to=ProgramData\\khreset type=file size=0 sha256="
			rec "move name=$bid from=$ARCHW to=ProgramData\\khreset\\backup type=directory size=0 sha256="
			rec "hive dir=Windows\\System32\\config name=SOFTWARE temp=.SOFTWARE.khtmp.1 hold=ProgramData\\khreset old=$hive new=$hive"
		} >"$V/$J"
	fi
	CASE="item 8 ($form)"
	expect_exit 2 kh run
	check "item 8 ($form): the backup's only copy is still there" same "$(sum "$V/$BK/$bid/archive/$OLD_KH")" "$kept"
	check "item 8 ($form): the hive is still the hive" same "$(sum "$V/$SOFTWARE_HIVE")" "$hive"
	check "item 8 ($form): the lock file is where it was" test -f "$V/ProgramData/khreset/lock"
	check "item 8 ($form): the backup folder is where it was" test -d "$V/$BK/$bid/archive"
	check "item 8 ($form): the ignored records are logged" file_has "$V/Windows/Logs/khreset/khreset.log" "ignored"
	check "item 8 ($form): the journal is kept aside for a person to read" test -s "$V/$J.damaged"
done
# twin: a record naming only what khreset owns is acted on, verified
fresh forged-twin
expect_exit 2 kh run
bid=$(ls "$V/$BK")
f=$V/$BK/$bid/archive/$OLD_KH
{
	rec "khreset-journal format=1 kind=run pid=1"
	rec "backup id=$bid role=own"
	rec "move name=$OLD_KH from=$ARCHW to=ProgramData\\khreset\\backup\\$bid\\archive type=file size=$(stat -c %s "$f") sha256=$(sum "$f")"
	rec "move name=$ROOT_KH from=$ARCHW to=ProgramData\\khreset\\backup\\$bid\\archive type=file size=1 sha256=$(sum "$f")"
} >"$V/$J"
CASE="item 8 twin"
expect_exit 2 kh run
check "item 8 twin: an owned, verified move is undone" file_has "$V/Windows/Logs/khreset/khreset.log" "moved .*$OLD_KH back to"
check "item 8 twin: one whose digest does not match is not" file_lacks "$V/Windows/Logs/khreset/khreset.log" "moved .*$ROOT_KH back to"

# --- 9. a hive that cannot be written: the rollback still moves the archive back ---
fresh hive-dir
hive=$(sum "$V/$SOFTWARE_HIVE")
CASE="item 9 (a folder named .SOFTWARE.khtmp.PID)"
expect_exit 1 sh -c 'mkdir "$1/.SOFTWARE.khtmp.$$" && exec "$2" --root "$3" run' _ "$V/$CFG" "$KH" "$V"
check "item 9: the rollback moved the archive back" originals_back
check "item 9: the hive unchanged" same "$(sum "$V/$SOFTWARE_HIVE")" "$hive"
check "item 9: nothing staged left" is_empty "$I"
check "item 9: no journal left" nojournal
check "item 9: the folder in the way is left alone" sh -c "ls -a '$V/$CFG' | grep -q '^.SOFTWARE.khtmp'"
CASE="item 9, the folder gone"
rmdir "$V/$CFG"/.SOFTWARE.khtmp.*
expect_exit 2 kh run
check "item 9: the next run repairs" is_empty "$A"
if mkdir -p "$T/ro" && mount --bind "$T/ro" "$T/ro" 2>/dev/null && umount "$T/ro"; then
	fresh hive-ro
	hive=$(sum "$V/$SOFTWARE_HIVE")
	mount --bind "$V/$CFG" "$V/$CFG" && mount -o remount,bind,ro "$V/$CFG"
	CASE="item 9 (a read-only hive folder)"
	expect_exit 1 kh run
	umount "$V/$CFG"
	check "item 9 ro: the rollback moved the archive back" originals_back
	check "item 9 ro: no journal left" nojournal
	expect_exit 2 kh run
	check "item 9 ro: the next run repairs" is_empty "$A"
else
	skip "item 9: no bind mounts here (read-only hive folder)"
fi

# --- 17. the end of a good run ---
if have_strace; then
	fresh end-rm
	cp -a "$d" "$T/end-dry"
	st -f -qq -o "$T/unlinks" -e trace=unlinkat "$KH" --root "$T/end-dry/vol" run >/dev/null 2>&1
	nj=$(grep -n 'unlinkat(.*"journal"' "$T/unlinks" | head -n 1 | cut -d: -f1)
	CASE="item 17 (journal removal fails)"
	run st -f -qq -o /dev/null -e inject=unlinkat:error=EIO:when="$nj" "$KH" --root "$V" run
	check "item 17: a good run whose journal cannot be removed is pending, not failed" rc_is 2
	check "item 17: outcome pending" out_has '^outcome: *pending'
	expect_exit 2 kh run
	check "item 17: the next run undoes nothing" err_lacks "interrupted run"
	check "item 17: the repair stands" is_empty "$A"
	check "item 17: the journal is gone" nojournal
else
	skip "item 17: strace is not installed"
fi
if mkdir -p "$T/full" && mount -t tmpfs -o size=4m tmpfs "$T/full" 2>/dev/null; then
	on_exit "umount '$T/full' 2>/dev/null"
	fresh full-src
	cp -a "$d" "$T/full/d"
	V=$T/full/d/vol A=$V/$ARCH_REL I=$V/$INST_REL d=$T/full/d
	# a full disk: the journal's first record does not fit
	cat /dev/zero >"$T/full/fill" 2>/dev/null
	CASE="item 17 (a full disk)"
	expect_exit 1 kh run
	check "item 17 full: the run failed on the full disk" err_has "No space left"
	check "item 17 full: nothing moved" originals_back
	check "item 17 full: its journal is not left behind" nojournal
	rm -f "$T/full/fill"
	expect_exit 2 kh run
	check "item 17 full: the next run reports no interrupted run" err_lacks "interrupted run"
else
	skip "item 17: no tmpfs mount here (a full disk)"
fi

# --- 20. keys an interrupted run created go with its rollback ---
fresh keys
hive=$(sum "$V/$SOFTWARE_HIVE")
CASE="item 20"
KHRESET_TEST_STOP_AT=registry expect_exit 137 kh run
check "item 20: the run created CMIT\\Active" sh -c "hivexregedit --export '$V/$SOFTWARE_HIVE' '\\CMIT' >/dev/null 2>&1"
expect_exit 0 kh restore --latest
check "item 20: no CMIT key after the rollback" sh -c "! hivexregedit --export '$V/$SOFTWARE_HIVE' '\\CMIT' >/dev/null 2>&1"
check "item 20: the hive byte for byte" same "$(sum "$V/$SOFTWARE_HIVE")" "$hive"

# --- a backup of an older khreset (manifest.ini) is named, not read ---
fresh legacy
mkdir -p "$V/$BK/20200101T000000Z/archive"
printf '[backup]\nid = 20200101T000000Z\nreason = repair\nstate = complete\n' >"$V/$BK/20200101T000000Z/manifest.ini"
expect_exit 0 kh restore --list
check "legacy: listed as unreadable, saying why" out_has 'older khreset (manifest.ini'
expect_exit 65 kh restore 20200101T000000Z
check "legacy: restore refuses it, saying why" err_has 'older khreset'

# --- 13 (in part). every pass over the entries is linear: the folder reads
# (getdents64, counted by strace) of run and restore do not grow with the
# number of entries ---
if have_strace; then
	reads() { # N: folder reads of a run and a restore over N more entries
		fresh "many-$1"
		python3 -c "import sys
for i in range(int(sys.argv[2])): open('%s/%08x-0000-4000-8000-000000000000.xml' % (sys.argv[1], i), 'w').write('<a/>')" "$A" "$1"
		st -f -qq -o "$T/reads-$1" -e trace=getdents64 "$KH" --root "$V" run >/dev/null 2>&1
		st -f -qq -o "$T/reads-$1" -A -e trace=getdents64 "$KH" --root "$V" restore --latest >/dev/null 2>&1
		grep -c getdents64 "$T/reads-$1"
	}
	r100=$(reads 100)
	r800=$(reads 800)
	check "item 13: folder reads for 800 entries ($r800) are not 8 times those for 100 ($r100)" \
		test "$r800" -lt $((2 * r100 + 40))
	check "item 13: and the restore brought the 800 back" originals_back
else
	skip "item 13: strace is not installed"
fi

# --- live twins of 5, 6, 16, 20: the fake live body (tests/fake), whose
# registry undo is value by value, exact in type and bytes ---
OFFLINE_KH=$KH
KH=${FAKE_KH:-$B/tests/khreset-fake}
export KHRESET_FAKE_SVC=$B/tools/fakesvc
cmit() { hivexregedit --export "$V/$SOFTWARE_HIVE" '\CMIT' 2>/dev/null; }
ODD='"ActiveMode"="not a dword"
"IntranetActivationServer"="a	b"
"IntranetSkuId"=hex(7):61,00,00,00,62,00,00,00,00,00'
fresh live-fail
reg "$V/$SOFTWARE_HIVE" "[HKEY_LOCAL_MACHINE\\SOFTWARE\\CMIT]

[HKEY_LOCAL_MACHINE\\SOFTWARE\\CMIT\\Active]
$ODD"
before=$(cmit)
CASE="live, the registry step fails after writing"
# after the archive repair nothing fails the run: pending (issue 10 item 4)
KHRESET_TEST_FAIL_AT=registry-written expect_exit 2 kh run --wait 1
check "live 5/6/16: every old value back, type and bytes (hivexregedit)" same "$(cmit)" "$before"
check "live: the rollback says the registry values are as before" out_has "rollback.*registry values as before"
fresh live-keys
CASE="live, no CMIT key before"
KHRESET_TEST_FAIL_AT=registry-written expect_exit 2 kh run --wait 1
check "live 20: the keys the step created are gone" sh -c "! hivexregedit --export '$V/$SOFTWARE_HIVE' '\\CMIT' >/dev/null 2>&1"
fresh live-kill
reg "$V/$SOFTWARE_HIVE" "[HKEY_LOCAL_MACHINE\\SOFTWARE\\CMIT]

[HKEY_LOCAL_MACHINE\\SOFTWARE\\CMIT\\Active]
$ODD"
before=$(cmit)
CASE="live, killed after the registry step"
KHRESET_TEST_STOP_AT=registry expect_exit 137 kh run --wait 1
check "live: the registry journal is left" test -s "$V/$J"
expect_exit 0 kh restore --latest
check "live 5/6/16: recovery puts every old value back exactly" same "$(cmit)" "$before"
fresh live-multi
reg "$V/$SOFTWARE_HIVE" "[HKEY_LOCAL_MACHINE\\SOFTWARE\\CMIT]

[HKEY_LOCAL_MACHINE\\SOFTWARE\\CMIT\\Active]
$ODD"
CASE="live 16 twin, a run over old values of other types"
expect_exit 0 kh run --wait 5
check "live 16: the values are set" same "$(regval '\CMIT\Active' IntranetSkuId)" VDI
KH=$OFFLINE_KH

finish
