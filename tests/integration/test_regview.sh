#!/bin/sh
# test_regview.sh - [registry] values in the 32-bit view (issue 10 item 7):
# a key written HKLM32\SOFTWARE\X is HKLM\SOFTWARE\X as 32-bit programs
# (the activation client) see it, SOFTWARE\WOW6432Node\X in the hive.
# Offline the run writes it there, the fake live body (value-by-value undo)
# puts it back after a kill, and check shows both views of every configured
# value.  Values are read back with hivexget, keys with hivexregedit.
. tests/lib.sh

SOFTWARE_HIVE=Windows/System32/config/SOFTWARE
INI=Windows/Setup/Scripts/khreset/khreset.ini
sw() { hivexget "$V/$SOFTWARE_HIVE" "$1" "$2" 2>/dev/null; }
has_key() { hivexregedit --export "$V/$SOFTWARE_HIVE" "$1" >/dev/null 2>&1; }
# views: the volume's khreset.ini with one value in each view and a DWORD
# in the 32-bit one
views() {
	fresh "$1" || return 1
	sed -i '/^\[registry\]/,$d' "$V/$INI"
	cat >>"$V/$INI" <<'EOF'
[registry]
value1 = HKLM32\SOFTWARE\CMIT\Active | IntranetActivationServer | REG_SZ | http://vdi32.example.local
value2 = HKLM\SOFTWARE\CMIT\Active | IntranetActivationServer | REG_SZ | http://vdi64.example.local
value3 = HKLM32\SOFTWARE\CMIT\Active | ActiveMode | REG_DWORD | 0x2
EOF
}

# --- offline: check before, run, the hive, check after ---
views offline
expect_exit 3 kh --json check
check "check: the first value is written in the 32-bit view" jq_is '.registry[0].view' 32
check "check: the second in the 64-bit view" jq_is '.registry[1].view' 64
check "check: both views read, nothing there yet" jq_is '[.registry[].values[]] | map(. == null) | all' true
check "check: none set" jq_is '[.registry[].set] | any' false
check "check: no read errors" jq_is '[.registry[].errors | length] | add' 0
expect_exit 2 kh run
check "run: the 32-bit value is in SOFTWARE\\WOW6432Node (hivexget)" \
	same "$(sw '\WOW6432Node\CMIT\Active' IntranetActivationServer)" http://vdi32.example.local
check "run: the 64-bit value is in SOFTWARE itself, a value of its own" \
	same "$(sw '\CMIT\Active' IntranetActivationServer)" http://vdi64.example.local
check "run: the 32-bit DWORD is in WOW6432Node" same "$(sw '\WOW6432Node\CMIT\Active' ActiveMode)" 2
check "run twin: the 32-bit DWORD is not in the 64-bit key" sh -c "! hivexget '$V/$SOFTWARE_HIVE' '\\CMIT\\Active' ActiveMode 2>/dev/null"
expect_exit 3 kh --json check
check "check after: the 32-bit view of value1 holds what was written" \
	jq_is '.registry[0].values["32"]' http://vdi32.example.local
check "check after: its 64-bit view is the other value's" jq_is '.registry[0].values["64"]' http://vdi64.example.local
check "check after: every value set" jq_is '[.registry[].set] | all' true
expect_exit 3 kh check
check "check after (people): the view written and both views shown" \
	out_has '32-bit view .written.: http://vdi32.example.local'
check "check after (people): the 64-bit view of the same key" \
	out_has '^registry:  HKLM32.*IntranetActivationServer: set$'
# the negative twin: a value in the 32-bit view only is not set in the 64-bit one
views only32
sed -i '/^value2/d' "$V/$INI"
expect_exit 2 kh run
expect_exit 3 kh --json check
check "only32: no 64-bit value was written" sh -c "! hivexget '$V/$SOFTWARE_HIVE' '\\CMIT\\Active' IntranetActivationServer 2>/dev/null"
check "only32: check shows the 64-bit view empty" jq_is '.registry[0].values["64"]' null
check "only32: and the 32-bit view set" jq_is '.registry[0].set' true

# --- an interrupted offline run: the hive comes back byte for byte ---
views offline-kill
orig=$(sum "$V/$SOFTWARE_HIVE")
CASE="offline, killed with the hive held"
KHRESET_TEST_STOP_AT=hive-held expect_exit 137 kh run
run kh restore --latest
check "offline kill: the SOFTWARE hive is the original, byte for byte (sha256sum)" \
	same "$(sum "$V/$SOFTWARE_HIVE")" "$orig"
check "offline kill: no WOW6432Node\\CMIT key" sh -c "! hivexregedit --export '$V/$SOFTWARE_HIVE' '\\WOW6432Node\\CMIT' >/dev/null 2>&1"

# --- the fake live body: values journalled one by one, HKLM32 keys too ---
KH=${FAKE_KH:-$B/tests/khreset-fake}
export KHRESET_FAKE_SVC=$B/tools/fakesvc
views live-kill
CASE="live (fake), killed after the registry step"
KHRESET_TEST_STOP_AT=registry expect_exit 137 kh run --wait 1
check "live kill: the 32-bit value was written in WOW6432Node" \
	same "$(sw '\WOW6432Node\CMIT\Active' IntranetActivationServer)" http://vdi32.example.local
check "live kill: the journal names the key as configured (HKLM32)" \
	sh -c "grep -a ' regval ' '$V/ProgramData/khreset/journal' | grep -aqF 'key=HKLM32\\SOFTWARE\\CMIT\\Active name=IntranetActivationServer'"
run kh restore --latest
check "live kill: recovery took the 32-bit values out again" \
	sh -c "! hivexget '$V/$SOFTWARE_HIVE' '\\WOW6432Node\\CMIT\\Active' IntranetActivationServer 2>/dev/null"
check "live kill: and removed the WOW6432Node keys the step created" \
	sh -c "! hivexregedit --export '$V/$SOFTWARE_HIVE' '\\WOW6432Node\\CMIT' >/dev/null 2>&1"
check "live kill: the 64-bit key it created is gone too" \
	sh -c "! hivexregedit --export '$V/$SOFTWARE_HIVE' '\\CMIT' >/dev/null 2>&1"

finish
