#!/usr/bin/env bash
# The pgbouncer step (.ci/steps/60-pgbouncer.sh) runs the session suites
# through Debian's PgBouncer. Install it when the binary is missing. The
# step runs a private instance, so the packaged service must never run:
# a policy-rc.d keeps the package from starting it, and it is stopped and
# disabled should it run anyway.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
if ! command -v pgbouncer >/dev/null 2>&1; then
	export DEBIAN_FRONTEND=noninteractive
	log=$(mktemp)
	policy=/usr/sbin/policy-rc.d
	added_policy=
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		added_policy=1
	fi
	trap '[ -z "$added_policy" ] || rm -f "$policy"; rm -f "$log"' EXIT
	if ! { apt-get update -q && apt-get install -y -q --no-install-recommends pgbouncer; } >"$log" 2>&1; then
		cat "$log" >&2
		echo "installing pgbouncer failed" >&2
		exit 1
	fi
fi
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
	systemctl disable --now pgbouncer.service pgbouncer.socket >/dev/null 2>&1 || true
elif [ -x /etc/init.d/pgbouncer ]; then
	/etc/init.d/pgbouncer stop >/dev/null 2>&1 || true
	update-rc.d pgbouncer disable >/dev/null 2>&1 || true
fi
echo "pgbouncer: $(pgbouncer --version | head -n 1)"
