#!/usr/bin/env bash
# Prints the statement coverage of every package under pkg/, then of all of
# them, from a profile written with -coverpkg. Generated code (pkg/generated,
# zz_generated files) is left out. Each test binary reports every package, so
# a block appears once per binary; it counts as covered when any binary ran
# it. Packages under 70 % are marked.
set -euo pipefail
profile=${1:?usage: $0 coverage.out}
awk '
	NR == 1 { next }
	{
		block = $1
		file = block; sub(/:.*$/, "", file)
		if (file ~ /\/generated\// || file ~ /\/zz_generated[^\/]*$/) next
		pkg = file; sub(/\/[^\/]*$/, "", pkg); sub(/^kubemacpool\.io\/kubemacpool\//, "", pkg)
		statements[block] = $2
		package[block] = pkg
		if ($3 > 0) covered[block] = 1
	}
	END {
		for (block in statements) {
			total[package[block]] += statements[block]
			if (block in covered) hit[package[block]] += statements[block]
		}
		sorted = "sort -k2"
		for (pkg in total) {
			pct = 100 * hit[pkg] / total[pkg]
			printf "%6.1f%%  %s%s\n", pct, pkg, (pct < 70 ? "   (under 70%)" : "") | sorted
			all += total[pkg]; allHit += hit[pkg]
		}
		close(sorted)
		printf "%6.1f%%  all of pkg/\n", 100 * allHit / all
	}
' "$profile"
