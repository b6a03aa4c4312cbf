#!/usr/bin/env bash
# Prints the statement coverage of every package under pkg/ (generated code
# left out) from a profile written with -coverpkg, where each test binary
# reports every package and a block appears once per binary: a block counts
# as covered when any binary ran it. Packages under 70 % are marked.
set -euo pipefail
profile=${1:?usage: $0 coverage.out}
awk '
	NR == 1 { next }
	{
		split($1, where, ":"); file = where[1]; block = $1
		statements[block] = $2
		if ($3 > 0) covered[block] = 1
		pkg = file; sub(/\/[^\/]*$/, "", pkg); sub(/^kubemacpool\.io\/kubemacpool\//, "", pkg)
		package[block] = pkg
	}
	END {
		for (block in statements) {
			pkg = package[block]
			if (pkg ~ /\/generated(\/|$)/) continue
			total[pkg] += statements[block]
			if (block in covered) hit[pkg] += statements[block]
		}
		for (pkg in total) {
			pct = 100 * hit[pkg] / total[pkg]
			printf "%6.1f%%  %s%s\n", pct, pkg, (pct < 70 ? "   (under 70%)" : "")
		}
	}
' "$profile" | sort -k2
