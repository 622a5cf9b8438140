# tests/integration/lib.sh - the shell suites' library is tests/lib.sh; this
# name keeps working for a suite that still sources it from here.
. tests/lib.sh
