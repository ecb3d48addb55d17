#!/usr/bin/env bash
# Installs the servers the greenlane sandbox runs (`greenlane demo`, e2e tests) on Debian/Ubuntu:
#   prometheus (+ promtool), haproxy, postgresql, prometheus-postgres-exporter
# and the headless browser the report tests open the migration report in: chromium
# Idempotent: installs only what is missing, runs `apt-get update` only when it has to install.
# Never leaves a system service running: the sandbox starts its own copies on free loopback ports,
# so service starts are blocked during the install (policy-rc.d) and stopped again afterwards.
# Python 3.11/3.12 are not installed here: use pyenv (`pyenv install 3.12`) or your distribution.
set -euo pipefail

say() { printf 'install-system-deps: %s\n' "$*"; }

have_postgres() {
    command -v postgres >/dev/null 2>&1 && return 0
    compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null
}
have() { PATH="$PATH:/usr/sbin:/sbin" command -v "$1" >/dev/null 2>&1; }

# package -> whether its binary is already there
declare -A missing=()
have prometheus && have promtool || missing[prometheus]=1
have haproxy || missing[haproxy]=1
have_postgres || missing[postgresql]=1
have prometheus-postgres-exporter || have postgres_exporter || missing[prometheus-postgres-exporter]=1
have chromium || have chromium-browser || missing[chromium]=1
# Text in the report's screenshots needs one font; Debian's chromium only recommends one.
compgen -G '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf' >/dev/null || missing[fonts-dejavu-core]=1

if [ "${#missing[@]}" -eq 0 ]; then
    say "all present: prometheus, promtool, haproxy, postgresql, prometheus-postgres-exporter, chromium, fonts; nothing to do"
    exit 0
fi

packages=("${!missing[@]}")
say "missing: ${packages[*]}"
if [ "$(id -u)" -ne 0 ]; then
    say "must run as root to install them: sudo $0" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    say "no apt-get here: install ${packages[*]} with your package manager" >&2
    exit 1
fi

# Block service starts during the install (Debian's invoke-rc.d honours policy-rc.d exit 101),
# restoring whatever policy-rc.d existed before.
policy=/usr/sbin/policy-rc.d
backup=""
if [ -e "$policy" ]; then backup="$(mktemp)"; cp -p "$policy" "$backup"; fi
restore_policy() {
    if [ -n "$backup" ]; then mv -f "$backup" "$policy"; else rm -f "$policy"; fi
}
trap restore_policy EXIT
printf '#!/bin/sh\nexit 101\n' >"$policy"
chmod 755 "$policy"

say "apt-get update"
apt-get update -q
say "apt-get install ${packages[*]}"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${packages[@]}"

# Belt and braces: stop anything that started anyway (e.g. where policy-rc.d is ignored).
for service in prometheus haproxy postgresql prometheus-postgres-exporter; do
    if [ -n "${missing[$service]:-}" ] && command -v service >/dev/null 2>&1; then
        say "stopping system service $service (the sandbox runs its own)"
        service "$service" stop >/dev/null 2>&1 || true
        if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
            systemctl disable --now "$service" >/dev/null 2>&1 || true
        fi
    fi
done
say "done: ${packages[*]} installed"
