#!/bin/sh
# Record the page-reference traces of real programs on this machine with
# valgrind's lackey, converted on the fly (a pipe, no text file) into zpage
# traces for `zpage sim` and bench/eviction:
#
#   scripts/make-traces.sh [OUTDIR]        (default build/traces)
#
# Programs: sqlite3 (inserts, an index, a query mix), xz (compressing a
# generated file), sort (a text file), the C compiler proper (cc1 on a
# generated source file). Data references only (lackey's instruction
# fetches left out), at most 4 million records (64 MB) per trace.
# Needs valgrind, sqlite3, xz, gcc and the zpage tool (make build).
set -eu
out=${1:-build/traces}
zpage=${ZPAGE_TOOL:-build/tools/zpage}
[ -x "$zpage" ] || { echo "make-traces: build $zpage first (make build)" >&2; exit 1; }
for p in valgrind sqlite3 xz gcc sort; do
	command -v $p >/dev/null || { echo "make-traces: $p is not installed" >&2; exit 1; }
done
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# lackey writes its trace to a fifo the converter reads. valgrind does not
# notice the converter stop when it has --max records (a write to the
# fifo's closed end fails silently) and lets its program catch SIGTERM: it
# is killed then (SIGKILL), or after 300 s. A trace already there is kept;
# one cut short is not (written under another name until complete).
record() {
	name=$1
	shift
	[ -s "$out/$name.zpt" ] && { echo "make-traces: $name (kept)" >&2; return; }
	echo "make-traces: $name" >&2
	rm -f "$work/fifo"
	mkfifo "$work/fifo"
	"$zpage" convert --from lackey --max 4000000 - "$out/$name.zpt.part" \
		<"$work/fifo" &
	conv=$!
	timeout -s KILL 300 valgrind --tool=lackey --trace-mem=yes \
		--log-file="$work/fifo" "$@" >/dev/null 2>&1 &
	tmo=$!
	if wait $conv; then mv "$out/$name.zpt.part" "$out/$name.zpt"; fi
	pkill -9 -P $tmo 2>/dev/null || true
	wait $tmo 2>/dev/null || true
}

# Input data, made here so that the traces are reproducible.
awk 'BEGIN { srand(7); for (i = 0; i < 8000; i++)
	printf "%08d %s line %d of the sort input\n", int(rand() * 1e8), (i % 7 ? "text" : "word"), i }' \
	>"$work/lines.txt"
head -c 300000 "$work/lines.txt" >"$work/xz-input"
cat >"$work/db.sql" <<'SQL'
CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, v TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
INSERT INTO t SELECT i, (i * 7919) % 10007, printf('value %d %s', i, hex(randomblob(24))) FROM n;
CREATE INDEX tk ON t(k);
SELECT count(*), sum(length(v)) FROM t WHERE k BETWEEN 100 AND 3000;
SELECT k, count(*) FROM t GROUP BY k ORDER BY count(*) DESC LIMIT 10;
UPDATE t SET v = upper(v) WHERE id % 5 = 0;
SELECT a.id, b.id FROM t a JOIN t b ON a.k = b.k WHERE a.id < 2000 AND b.id > a.id LIMIT 2000;
DELETE FROM t WHERE id % 3 = 0;
SELECT count(*) FROM t;
SQL
awk 'BEGIN { for (i = 0; i < 60; i++) {
	printf "static int f%d(int x) { int a[%d]; for (int i = 0; i < %d; i++) a[i] = x * i + %d;\n", i, i % 50 + 1, i % 50 + 1, i
	printf "  int s = 0; for (int i = 0; i < %d; i++) s += a[i] %% %d; return s; }\n", i % 50 + 1, i + 3 }
	printf "int main(void) { int s = 0;\n"; for (i = 0; i < 60; i++) printf "  s += f%d(%d);\n", i, i
	printf "  return s & 1; }\n" }' >"$work/gen.c"

record sqlite3 sqlite3 "$work/db.sqlite" ".read $work/db.sql"
record xz xz -6 -c "$work/xz-input"
record sort sort "$work/lines.txt"
record cc1 "$(gcc -print-prog-name=cc1)" -quiet -O2 "$work/gen.c" -o "$work/gen.s"
ls -l "$out"/*.zpt >&2
