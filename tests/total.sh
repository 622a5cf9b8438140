#!/bin/sh
# tests/total.sh LOG STATUS - the closing line of `make check`: the checks of
# every suite in LOG added up (each suite's own "N passed, N failed" line and
# cmocka's "[  PASSED  ] N test(s)." / "[  FAILED  ] N test(s)"), printed as
# "check: N passed, N failed"; exits non-zero when STATUS (make's) is, or
# when any check failed.  Sub-totals ("integration: ...") are not counted
# again.
log=$1
status=${2:-1}
awk '
/^[0-9]+ passed, [0-9]+ failed/ { p += $1; f += $3; if ($5 ~ /^[0-9]+$/) s += $5 }
/^\[  PASSED  \] [0-9]+ test/   { p += $4 }
/^\[  FAILED  \] [0-9]+ test/   { f += $4 }
END {
	printf "check: %d passed, %d failed", p, f
	if (s) printf ", %d skipped", s
	printf "\n"
	exit f > 0
}' "$log" || status=1
[ "$status" = 0 ]
