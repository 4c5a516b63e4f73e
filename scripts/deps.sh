#!/usr/bin/env bash
# deps.sh demo|test - make sure what `make demo` or `make test` needs is
# installed. Run as root on Debian, it installs what is missing with
# apt-get; otherwise it stops and prints the exact command to run.
#
#   demo: a C compiler and make (the library and the counter need only libc)
#   test: also Check and pkg-config (unit tests), valgrind, clang and
#         clang++ (warning checks, sanitizers, header test) and the
#         libFuzzer runtime matching the installed clang's major version
set -euo pipefail

what=${1:-}
case "$what" in
demo | test) ;;
*) echo "usage: $0 demo|test" >&2; exit 2 ;;
esac

have() { command -v "$1" >/dev/null 2>&1; }

# Can clang build and link a libFuzzer target? (clang's fuzzer runtime is
# packaged separately on Debian, per clang major version.)
fuzzer_ok() {
    local dir rc
    dir=$(mktemp -d)
    printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
        'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
        'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
        >"$dir/f.c"
    clang -fsanitize=fuzzer,address,undefined "$dir/f.c" -o "$dir/f" >/dev/null 2>&1 && rc=0 || rc=1
    rm -rf "$dir"
    return $rc
}

clang_major() { clang -dumpversion 2>/dev/null | cut -d. -f1; }

missing() {
    local pkgs=()
    { have cc && have make && have ar && have nm; } || pkgs+=(build-essential)
    if [ "$what" = test ]; then
        have c++ || pkgs+=(g++)
        have pkg-config || pkgs+=(pkg-config)
        if ! pkg-config --exists check 2>/dev/null && [ ! -f /usr/include/check.h ]; then
            pkgs+=(check)
        fi
        have valgrind || pkgs+=(valgrind)
        # Without clang, its version is unknown yet: libclang-rt-dev is
        # the runtime of Debian's default clang, the one installed with it.
        { have clang && have clang++; } || pkgs+=(clang libclang-rt-dev)
        if have clang && ! fuzzer_ok; then
            pkgs+=("libclang-rt-$(clang_major)-dev")
        fi
    fi
    echo "${pkgs[@]+"${pkgs[@]}"}"
}

install() {
    if [ "$(id -u)" != 0 ] || ! have apt-get; then
        echo "deps: missing for 'make $what': $*" >&2
        if have apt-get; then
            echo "deps: run this, then 'make $what' again:" >&2
            echo "    sudo apt-get update && sudo apt-get install -y $*" >&2
        else
            echo "deps: install the equivalent packages for your system." >&2
        fi
        exit 1
    fi
    echo "deps: installing for 'make $what': $*"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "$@" >/dev/null
}

# Two rounds: the libFuzzer runtime's package name depends on the version
# of clang, known only once clang is installed.
for round in 1 2; do
    read -r -a pkgs <<<"$(missing)"
    if [ ${#pkgs[@]} -eq 0 ]; then
        exit 0
    fi
    install "${pkgs[@]}"
done
read -r -a pkgs <<<"$(missing)"
if [ ${#pkgs[@]} -ne 0 ]; then
    echo "deps: still missing after installing: ${pkgs[*]}" >&2
    echo "deps: (libclang-rt-N-dev must match clang's major version, $(clang_major 2>/dev/null || echo unknown))" >&2
    exit 1
fi
