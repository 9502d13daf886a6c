#!/usr/bin/env bash
# Installs, with apt-get and only where missing, the Debian 12 packages a
# mapreg task needs.  Usage: tools/deps.sh test|bench|formal|all
set -euo pipefail

common=(gcc g++ pkg-config meson ninja-build liburcu-dev)
test_pkgs=(libcmocka-dev clang libclang-rt-14-dev libbenchmark-dev liburing-dev gdb)
bench_pkgs=(libbenchmark-dev python3-matplotlib valgrind binutils liburing-dev fio linux-perf)
formal_pkgs=(gcc spin)		# formal/check.sh: spin -a, then cc pan.c

case "${1:-all}" in
  test)  want=("${common[@]}" "${test_pkgs[@]}") ;;
  bench) want=("${common[@]}" "${bench_pkgs[@]}") ;;
  formal) want=("${formal_pkgs[@]}") ;;
  all)   want=("${common[@]}" "${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  *) echo "usage: $0 test|bench|formal|all" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
