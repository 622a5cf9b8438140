#!/bin/sh
# fuzz_repairrec.seeds.sh SEEDDIR FIXTUREDIR - status documents with and
# without a repair record (SPEC section 4), and damaged ones.
set -eu
S=$1
R='"repair": {"upgrade": "Source OS (Updated on 3/14/2020 10:20:30)", "time": "2026-12-02T05:21:28Z", "backup_id": "20261202T052128Z", "source": "registry", "current": true}'
printf '{"schema": 1, "tool": {"name": "khreset", "version": "0"}, "verdict": "activate", %s}\n' "$R" >"$S/record.json"
printf '{"schema": 1, "repair": null}\n' >"$S/null.json"
printf '{"schema": 1}\n' >"$S/none.json"
printf '{"repair": {"upgrade": "none", "time": "2024-02-29T23:59:59Z", "backup_id": "x_1"}}\n' >"$S/none-key.json"
printf '{"repair": {"upgrade": "none", "time": "2026-02-30T00:00:00Z", "backup_id": "a"}}\n' >"$S/bad-time.json"
printf '{"repair": {"upgrade": "\\u00e9\\u4e2d", "time": "1970-01-01T00:00:00Z", "backup_id": "-a"}}\n' >"$S/bad-id.json"
