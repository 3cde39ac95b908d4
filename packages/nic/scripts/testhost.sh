#!/bin/sh
# testhost.sh: a test host for people (the TypeScript harness is packages/nic/src/testing/test-host.ts).
#
# It makes a network namespace pnet-sh-NAME holding a persistent TAP device (default pnet0) whose
# kernel side has a TEST-NET address. Run a pnet program inside the namespace and open the TAP by
# name; the namespace's kernel is then the peer on the other end of the wire:
#
#   sudo packages/nic/scripts/testhost.sh up demo                    # 192.0.2.1/24 on pnet0
#   sudo packages/nic/scripts/testhost.sh exec demo node app.js      # app: TapNic.open({ name: 'pnet0', mac })
#   sudo packages/nic/scripts/testhost.sh exec demo ping -c1 192.0.2.2
#   sudo packages/nic/scripts/testhost.sh down demo
#
# Commands:
#   up NAME [CIDR] [TAPNAME]  create (CIDR from 192.0.2.0/24, 198.51.100.0/24 or 203.0.113.0/24; default 192.0.2.1/24)
#   down NAME                 kill everything inside, delete the namespace (and the TAP)
#   exec NAME CMD [ARGS...]   run a command inside
#   list                      pnet-* namespaces (test ones are pnet-<pid>-<n>; sh ones pnet-sh-NAME)
#   clean                     delete pnet-<pid>-* namespaces whose process is dead
set -eu

die() { echo "testhost.sh: $*" >&2; exit 1; }
usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

need_root() {
  [ "$(id -u)" = 0 ] || die "needs root (network namespaces, TAP devices): run with sudo"
  command -v ip >/dev/null 2>&1 || die "the ip command is missing (apt-get install iproute2)"
}

ns_of() {
  case "$1" in
    *[!A-Za-z0-9_.-]* | '') die "NAME must be letters, digits, '_', '.', '-': got '$1'" ;;
  esac
  echo "pnet-sh-$1"
}

check_cidr() {
  case "$1" in
    192.0.2.*/24 | 198.51.100.*/24 | 203.0.113.*/24) ;;
    *) die "address $1 is not in a TEST-NET /24 (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24): refusing" ;;
  esac
}

kill_inside() {
  for pid in $(ip netns pids "$1" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
}

cmd=${1:-}
[ -n "$cmd" ] || usage 1
shift

case "$cmd" in
  up)
    need_root
    [ $# -ge 1 ] || usage 1
    ns=$(ns_of "$1")
    cidr=${2:-192.0.2.1/24}
    tap=${3:-pnet0}
    check_cidr "$cidr"
    ip netns list | grep -q "^$ns\b" && die "$ns already exists (testhost.sh down $1)"
    ip netns add "$ns"
    trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
    ip -n "$ns" link set lo up
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 || true
    # A persistent TAP created inside the namespace: a process in the namespace attaches to it by name.
    ip -n "$ns" tuntap add dev "$tap" mode tap
    ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$tap.disable_ipv6=1" || true
    ip -n "$ns" addr add "$cidr" dev "$tap"
    ip -n "$ns" link set "$tap" up
    trap - EXIT
    echo "up: namespace $ns, TAP $tap, kernel side $cidr"
    echo "run your program inside it:  $0 exec $1 node your-app.js   (TapNic.open({ name: '$tap', mac }))"
    ;;
  down)
    need_root
    [ $# -ge 1 ] || usage 1
    ns=$(ns_of "$1")
    ip netns list | grep -q "^$ns\b" || die "no namespace $ns"
    kill_inside "$ns"
    ip netns del "$ns"
    echo "down: $ns deleted"
    ;;
  exec)
    need_root
    [ $# -ge 2 ] || usage 1
    ns=$(ns_of "$1")
    shift
    exec ip netns exec "$ns" "$@"
    ;;
  list)
    ip netns list | grep '^pnet-' || true
    ;;
  clean)
    need_root
    for ns in $(ip netns list | awk '{print $1}' | grep -E '^pnet-[0-9]+-' || true); do
      pid=$(echo "$ns" | cut -d- -f2)
      if ! kill -0 "$pid" 2>/dev/null; then
        kill_inside "$ns"
        ip netns del "$ns" && echo "removed stale $ns (pid $pid is gone)"
      fi
    done
    ;;
  -h | --help | help) usage 0 ;;
  *) usage 1 ;;
esac
