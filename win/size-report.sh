#!/bin/sh
# win/size-report.sh MAP [EXE] - bytes of khreset.exe by origin (library),
# from the GNU ld link map (-Wl,-Map): every input section kept in the
# loaded output sections (.text .rdata .data .pdata .xdata .rsrc .CRT .tls),
# attributed by the object or archive it came from.  Sections dropped by
# --gc-sections are not counted.  Prints a Markdown table.
set -eu
map=${1:?usage: size-report.sh MAP [EXE]}
exe=${2:-}
awk '
function origin(f) {
	if (f ~ /libcrypto\.a/) return "OpenSSL libcrypto"
	if (f ~ /libxml2\.a/) return "libxml2"
	if (f ~ /libjansson\.a/) return "jansson"
	if (f ~ /libwim\.a/) return "wimlib"
	if (f ~ /(^|\/)minIni\.o$/) return "minIni"
	if (f ~ /khreset_msg\.o/) return "resources (messages, manifest, version)"
	if (f ~ /(^|\/)obj[^\/]*\/.*\.o$/) return "khreset (hook/ + win/)"
	if (f ~ /libwinpthread/) return "mingw-w64 runtime"
	if (f ~ /x86_64-w64-mingw32|gcc/) return "mingw-w64 runtime"
	return "other"
}
/^Linker script and memory map/ { on = 1; next }
!on { next }
/^[.A-Za-z]/ { out = $1; keep = (out ~ /^\.(text|rdata|data|pdata|xdata|rsrc|CRT|tls)$/); pend = ""; next }
!keep { next }
# " .sect  0xADDR  0xSIZE  file"  or " .longsect" then "  0xADDR 0xSIZE file"
/^ \.[^ ]+ +0x[0-9a-f]+ +0x[0-9a-f]+ +[^ ]/ { add($3, $4); next }
/^ \.[^ ]+$/ { pend = $1; next }
pend != "" && /^ +0x[0-9a-f]+ +0x[0-9a-f]+ +[^ ]/ { add($2, $3); pend = ""; next }
{ pend = "" }
function hex(s,   i, n, c) {
	n = 0; s = tolower(substr(s, 3))
	for (i = 1; i <= length(s); i++) { c = index("0123456789abcdef", substr(s, i, 1)) - 1; n = n * 16 + c }
	return n
}
function add(sz, file,   n) {
	n = hex(sz); if (n == 0) return
	tot[origin(file)] += n; all += n
}
END {
	printf "| origin | bytes | KiB | share |\n|---|---:|---:|---:|\n"
	for (k in tot) rows[++nr] = k
	# simple selection sort by size, descending
	for (i = 1; i <= nr; i++) for (j = i + 1; j <= nr; j++)
		if (tot[rows[j]] > tot[rows[i]]) { t = rows[i]; rows[i] = rows[j]; rows[j] = t }
	for (i = 1; i <= nr; i++)
		printf "| %s | %d | %.0f | %.1f%% |\n", rows[i], tot[rows[i]], tot[rows[i]] / 1024, 100 * tot[rows[i]] / all
	printf "| **sections total** | %d | %.0f | 100%% |\n", all, all / 1024
}' "$map"
if [ -n "$exe" ] && [ -f "$exe" ]; then
	sz=$(stat -c %s "$exe")
	printf '\nStripped %s: %d bytes (%.2f MiB); the rest over the sections total is PE headers, import/relocation tables and alignment.\n' \
		"$(basename "$exe")" "$sz" "$(echo "$sz" | awk '{ print $1 / 1048576 }')"
fi
