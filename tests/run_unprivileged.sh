#!/bin/sh
# Run a test program as user nobody. The build tree may not be readable by
# nobody (a checkout under /root, say), so a copy runs from a fresh directory;
# the program must be linked with the static library.
bin="$1"
shift
dir=$(mktemp -d /tmp/zpage-unprivileged.XXXXXX) || exit 1
trap 'rm -rf "$dir"' EXIT
name=$(basename "$bin")
cp "$bin" "$dir/$name" || exit 1
chmod 755 "$dir" "$dir/$name"
cd "$dir" || exit 1
setpriv --reuid=nobody --regid=nogroup --clear-groups "./$name" "$@"
status=$?
exit $status
