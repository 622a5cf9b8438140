#!/bin/sh
# test_cli.sh - the command line (SPEC section 2) and its manual page: the
# usage text and doc/khreset.8 name the same verbs and options, the page
# renders, one grammar for every verb (global options before or after the
# verb, --opt=value and --opt value, VERB --help, unknown options named),
# and `make install`.  Every case has its negative twin.
. tests/lib.sh
MAN=$TOP/doc/khreset.8

# kx ARGS...: khreset exactly as given (no --root added); RC, OUT, ERR as kh.
kx() {
	"$KH" "$@" >"$T/out" 2>"$T/err"
	RC=$?
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
}
fails() { ! "$@"; }
sorted() { LC_ALL=C sort -u; }

# --- the usage text and the man page name the same verbs and options ---
# verbs: the first word of each line of the usage's "verbs:" block / each
# `.It Cm VERB` of the page's Verbs list; options: every -x / --long token.
usage_verbs() { sed -n '/^verbs:/,/^$/p' "$1" | grep '^  [a-z]' | awk '{ print $1 }' | sorted; }
usage_opts() { grep -oE '(^|[][ (|,])--?[a-z][a-z-]*' "$1" | sed 's/^[][ (|,]//' | sorted; }
man_verbs() { sed -n '/^\.Ss Verbs/,/^\.Sh/p' "$1" | grep '^\.It Cm ' | awk '{ print $3 }' | sorted; }
man_opts() { grep -oE '(^|[ .])Fl -?[a-z][a-z-]*' "$1" | sed 's/^.*Fl /-/' | sorted; }

# agree USAGE_LIST MAN_LIST: the same items; says which are missing where.
agree() {
	printf '%s\n' "$1" >"$T/agree.u"
	printf '%s\n' "$2" >"$T/agree.m"
	only_u=$(LC_ALL=C comm -23 "$T/agree.u" "$T/agree.m" | tr '\n' ' ')
	only_m=$(LC_ALL=C comm -13 "$T/agree.u" "$T/agree.m" | tr '\n' ' ')
	[ -z "$only_u" ] || echo "  in the usage text, not in the man page: $only_u" >&2
	[ -z "$only_m" ] || echo "  in the man page, not in the usage text: $only_m" >&2
	[ -z "$only_u$only_m" ]
}

kx help
cp "$T/out" "$T/usage.txt"
U=$T/usage.txt
check "help: exit 0, the usage on stdout" sh -c "[ $RC = 0 ] && grep -q '^usage: khreset ' '$U'"
nv=$(usage_verbs "$U" | wc -l)
no=$(usage_opts "$U" | wc -l)
check "usage text: its verbs and options are found ($nv, $no)" sh -c "[ $nv -ge 9 ] && [ $no -ge 20 ]"
check "man page: every verb of the usage text, and no other" agree "$(usage_verbs "$U")" "$(man_verbs "$MAN")"
check "man page: every option of the usage text, and no other" agree "$(usage_opts "$U")" "$(man_opts "$MAN")"
grep -v 'Fl -wait' "$MAN" >"$T/nowait.8"
check "twin: a page without --wait fails the check" fails agree "$(usage_opts "$U")" "$(man_opts "$T/nowait.8")" 2>"$T/agree.err"
check "twin: ... naming --wait" grep -q -- '--wait' "$T/agree.err"
sed 's/^\.It Fl -force$/&\n.It Fl -frobnicate/' "$MAN" >"$T/extra.8"
check "twin: a page with an option the usage lacks fails the check" fails agree "$(usage_opts "$U")" "$(man_opts "$T/extra.8")" 2>"$T/agree.err"
check "twin: ... naming it" grep -q -- '--frobnicate' "$T/agree.err"
grep -v '^\.It Cm lint' "$MAN" >"$T/nolint.8"
check "twin: a page without the lint verb fails the check" fails agree "$(usage_verbs "$U")" "$(man_verbs "$T/nolint.8")" 2>/dev/null
sed 's/^  check .*/&\n  frob                        a verb the page lacks/' "$U" >"$T/usage-extra.txt"
check "twin: a usage text with a verb the page lacks fails the check" fails agree "$(usage_verbs "$T/usage-extra.txt")" "$(man_verbs "$MAN")" 2>/dev/null

# --- the page renders, with the SPEC's exit codes ---
MANWIDTH=80 man --warnings -l "$MAN" >"$T/man.txt" 2>"$T/man.err"
RC=$?
OUT=$(cat "$T/man.txt")
ERR=$(cat "$T/man.err")
check "man -l renders the page (exit 0)" rc_is 0
check "man -l: no groff or mdoc warning" same "$ERR" ""
for s in NAME SYNOPSIS DESCRIPTION ENVIRONMENT FILES "EXIT STATUS" EXAMPLES; do
	check "man page: section $s" out_has "^$s\$"
done
codes=$(sed -n '/^EXIT STATUS/,/^EXAMPLES/p' "$T/man.txt" | grep -oE '^ +[0-9]+[[:space:]]' | tr -d ' \t' | tr '\n' ' ')
check "man page: EXIT STATUS lists the SPEC table" same "$codes" "0 1 2 3 64 65 75 77 "
check "man page: the test-only seams under ENVIRONMENT" sh -c "sed -n '/^ENVIRONMENT/,/^FILES/p' '$T/man.txt' | grep -q 'Test only' && for v in STOP_AT FAIL_AT NOW NOT_ELEVATED; do grep -q \"KHRESET_TEST_\$v\" '$T/man.txt' || exit 1; done"
sed 's/^\.El$//' "$MAN" >"$T/broken.8"
MANWIDTH=80 man --warnings -l "$T/broken.8" >/dev/null 2>"$T/man.err"
check "twin: a page with unclosed lists renders with warnings" test -s "$T/man.err"

# --- global options before or after the verb, --opt=value or --opt value ---
fresh field
doc() { printf '%s' "$OUT" | jq -S 'del(.time)'; }
kx check --root "$V" --json
rc1=$RC doc1=$(doc)
kx --root="$V" --json check
rc2=$RC doc2=$(doc)
kx --root "$V" --json check
rc3=$RC doc3=$(doc)
check "check --root V --json: exit 3, a status document" sh -c "[ $rc1 = 3 ] && printf '%s' \"\$1\" | grep -q '\"verdict\": \"repair\"'" _ "$doc1"
check "--root=V --json check: the same document" same "$doc2" "$doc1"
check "--root V --json check: the same document" same "$doc3" "$doc1"
check "the three forms: the same exit code" same "$rc1 $rc2" "$rc3 $rc3"
fresh healthy KH_HEALTHY=1
kx check --json --root="$V"
check "twin: another volume's document differs (the comparison can fail)" fails same "$(doc)" "$doc1" 2>/dev/null
kx restore --list --json --root "$V"
check "restore --list with global options after it: JSON list" sh -c "[ $RC = 0 ] && printf '%s' \"\$1\" | jq -e '.backups == []' >/dev/null" _ "$OUT"
kx run --root "$V" --wait=abc
check "twin: run --wait=abc is a usage error naming --wait" sh -c "[ $RC = 64 ] && printf '%s' \"\$1\" | grep -q -- \"--wait: expected seconds\"" _ "$ERR"

# --- bundle create D --sign=KEY ---
B=$T/bundle-eq
mkdir -p "$B"
cp "$d/bundle/"*.xml "$B/"
kx bundle create "$B" --sign="$d/keys/demo.pem"
check "bundle create D --sign=KEY: exit 0" rc_is 0
check "bundle create D --sign=KEY: the signature checks with openssl" sh -c "openssl pkeyutl -verify -pubin -inkey '$d/keys/demo.pub' -rawin -in '$B/manifest.ini' -sigfile '$B/manifest.sig' >/dev/null"
kx bundle verify "$B" --pubkey="$d/keys/demo.pub"
check "bundle verify D --pubkey=PUB: exit 0" rc_is 0
kx bundle --sign "$d/keys/demo.pem" create "$B"
check "bundle --sign KEY create D (option first): exit 0" rc_is 0
kx bundle create "$B" --sign
check "twin: --sign without a value: exit 64 naming it" sh -c "[ $RC = 64 ] && printf '%s' \"\$1\" | grep -q \"option '--sign' needs a value\"" _ "$ERR"
kx bundle verify "$B" --sign="$d/keys/demo.pem"
check "twin: --sign with verify: exit 64" sh -c "[ $RC = 64 ] && printf '%s' \"\$1\" | grep -q 'for bundle create'" _ "$ERR"

# --- VERB --help ---
kx check --help
check "check --help: exit 0" rc_is 0
check "check --help: check's usage on stdout" out_has "^usage: khreset check\$"
check "check --help: nothing on stderr" same "$ERR" ""
check "check --help: not the other verbs' usage" fails out_has "khreset run" 2>/dev/null
help_check=$OUT
kx help check
check "help check: the same text as check --help" same "$OUT" "$help_check"
kx check --root "$T/no-such-volume" --help
check "check --root MISSING --help: usage, exit 0 (the root is not opened)" sh -c "[ $RC = 0 ] && printf '%s' \"\$1\" | grep -q '^usage: khreset check'" _ "$OUT"
kx check --root "$T/no-such-volume"
check "twin: check --root MISSING: not exit 0" fails rc_is 0 2>/dev/null
for v in $(usage_verbs "$U"); do
	kx "$v" --help
	check "$v --help: exit 0 with its usage" sh -c "[ $RC = 0 ] && printf '%s' \"\$1\" | grep -q '^usage: khreset $v'" _ "$OUT"
done
kx check --bogus
check "twin: check --bogus: exit 64, usage on stderr, nothing on stdout" sh -c "[ $RC = 64 ] && [ -z \"\$1\" ] && printf '%s' \"\$2\" | grep -q '^usage: khreset check'" _ "$OUT" "$ERR"

# --- unknown options: exit 64, named ---
kx check --frobnicate --root "$V"
check "unknown option after the verb: exit 64" rc_is 64
check "unknown option after the verb: named" err_has "check: unknown option '--frobnicate'"
kx --frobnicate check
check "unknown option before the verb: exit 64, named" sh -c "[ $RC = 64 ] && printf '%s' \"\$1\" | grep -q \"unknown option '--frobnicate'\"" _ "$ERR"
kx run --frob=1 --root "$V"
check "unknown --opt=value: named without its value" err_has "unknown option '--frob'\$"
kx bake x.wim --payload p -z
check "unknown short option: exit 64, named" sh -c "[ $RC = 64 ] && printf '%s' \"\$1\" | grep -q \"unknown option '-z'\"" _ "$ERR"
kx check --json=yes --root "$V"
check "a flag given a value: exit 64" sh -c "[ $RC = 64 ] && printf '%s' \"\$1\" | grep -q \"'--json' takes no value\"" _ "$ERR"
kx check --root "$V" --json
check "twin: known options only: not a usage error (the healthy volume: exit 0)" rc_is 0
kx frobnicate
check "unknown verb: exit 64, named" sh -c "[ $RC = 64 ] && printf '%s' \"\$1\" | grep -q \"unknown verb 'frobnicate'\"" _ "$ERR"
kx check extra --root "$V"
check "a stray operand: exit 64, named" sh -c "[ $RC = 64 ] && printf '%s' \"\$1\" | grep -q \"unexpected argument 'extra'\"" _ "$ERR"

# --- make install (PREFIX, DESTDIR) ---
D=$T/dest
make -s -C "$TOP" install BUILD="$BUILD" DESTDIR="$D" PREFIX=/usr >"$T/out" 2>"$T/err"
RC=$?
ERR=$(cat "$T/err")
check "make install DESTDIR PREFIX=/usr: exit 0" rc_is 0
check "make install: the binary in PREFIX/bin" cmp -s "$D/usr/bin/khreset" "$TOP/$BUILD/khreset"
check "make install: the binary executable" test -x "$D/usr/bin/khreset"
check "make install: the man page in PREFIX/share/man/man8" cmp -s "$D/usr/share/man/man8/khreset.8" "$MAN"
check "make install: nothing else" same "$(cd "$D" && find . -type f | sort | tr '\n' ' ')" "./usr/bin/khreset ./usr/share/man/man8/khreset.8 "
check "make install: the installed page renders" sh -c "MANWIDTH=80 man -l '$D/usr/share/man/man8/khreset.8' | grep -q '^EXIT STATUS'"
make -s -C "$TOP" install BUILD="$BUILD" DESTDIR="$T/dest2" >/dev/null 2>&1
check "make install: PREFIX defaults to /usr/local" test -x "$T/dest2/usr/local/bin/khreset"
check "twin: ... and nothing under /usr/bin there" test ! -e "$T/dest2/usr/bin/khreset"

finish
