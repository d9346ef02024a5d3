#!/usr/bin/env bash
# The Galera tests (tests/galera, step 80-galera.sh) run a private
# three-node MariaDB Galera cluster on loopback ports: they need the
# galera-4 provider library next to the installed MariaDB server, rsync for
# the state transfer that joins a node, and ss or lsof, which the rsync
# transfer script uses to watch its port. Install whatever is missing;
# nothing else is fetched.
set -euo pipefail
need=()
[ -e /usr/lib/galera/libgalera_smm.so ] || need+=(galera-4)
command -v rsync >/dev/null || need+=(rsync)
command -v ss >/dev/null || command -v lsof >/dev/null || need+=(iproute2)
if [ "${#need[@]}" -eq 0 ]; then
	echo "galera: provider, rsync and ss/lsof present"
	exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${need[@]}"
ls -l /usr/lib/galera/libgalera_smm.so
