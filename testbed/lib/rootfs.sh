#!/usr/bin/env bash
# rootfs.sh DIR FILE... : copies host executables (and any other files) into DIR at the same paths,
# with every shared library the executables load (as ldd lists them), plus a minimal /etc and /tmp.
set -euo pipefail
dir="$1"; shift
mkdir -p "$dir"/{etc,tmp,data,proc,sys,dev,run,var/run} && chmod 1777 "$dir/tmp"
copy() { # keeps the path; follows symlinks so the image holds the real file under the linked name
  mkdir -p "$dir/$(dirname "$1")" && cp -L "$1" "$dir/$1"
}
for f in "$@"; do
  copy "$f"
  if ldd "$f" >/dev/null 2>&1; then
    ldd "$f" | awk '/=> \// {print $3} /^[ \t]*\/lib/ {print $1}' | while read -r lib; do
      copy "$lib"
    done
  fi
done
printf 'root:x:0:0:root:/root:/bin/sh\nredis:x:999:999:redis:/data:/bin/false\nnode:x:1000:1000:node:/home/node:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$dir/etc/passwd"
printf 'root:x:0:\nredis:x:999:\nnode:x:1000:\nnogroup:x:65534:\n' > "$dir/etc/group"
printf 'hosts: files dns\n' > "$dir/etc/nsswitch.conf"
: > "$dir/etc/hosts"; : > "$dir/etc/resolv.conf"
