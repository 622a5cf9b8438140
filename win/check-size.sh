#!/bin/sh
# win/check-size.sh EXE [MAX] - fails when the executable is MAX bytes or
# more (default 3 MiB: the budget of issue 11, wimlib inside).
set -eu
exe=${1:?usage: check-size.sh EXE [MAX]}
max=${2:-3145728}
[ -f "$exe" ] || { echo "check-size: $exe: no such file" >&2; exit 1; }
sz=$(stat -c %s "$exe")
if [ "$sz" -ge "$max" ]; then
	echo "check-size: FAIL: $exe is $sz bytes, the limit is $max" >&2
	exit 1
fi
echo "check-size: $exe is $sz bytes ($(awk -v s="$sz" 'BEGIN { printf "%.2f", s / 1048576 }') MiB), under $max"
